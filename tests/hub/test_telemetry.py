"""The deployment's telemetry section: console, OTLP over HTTP and over gRPC, sampling, secrets.

Each exporter is checked against a real receiver: a local HTTP server for OTLP/HTTP and a real gRPC
server implementing the OTLP trace service for OTLP/gRPC, decoding what arrives with the protocol's
own protobuf messages.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from hub.config import validate_text
from hub.config.model import TelemetryConfig
from hub.telemetry import configure_tracing


def _spans(request: Any) -> list[tuple[str, dict[str, str]]]:
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope in resource_spans.scope_spans:
            found.extend((span.name, resource) for span in scope.spans)
    return found


def test_console_exporter_names_the_service_and_the_process() -> None:
    out = io.StringIO()
    provider = configure_tracing(
        TelemetryConfig(exporter="console", service_name="acme-hub"),
        process="worker",
        out=out,
        batch=False,
        install=False,
    )
    assert provider is not None
    provider.get_tracer("test").start_span("router.deliver").end()
    provider.shutdown()
    span = json.loads(out.getvalue())
    assert span["name"] == "router.deliver"
    assert span["resource"]["attributes"]["service.name"] == "acme-hub"
    assert span["resource"]["attributes"]["hub.process"] == "worker"


def test_none_installs_nothing() -> None:
    assert configure_tracing(TelemetryConfig(), process="run", install=False) is None


@pytest.fixture
def http_collector() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/traces", received
    finally:
        server.shutdown()
        server.server_close()


def test_otlp_http_reaches_the_collector_with_resolved_header_secrets(
    http_collector: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    endpoint, received = http_collector
    config = TelemetryConfig(
        exporter="otlp-http", endpoint=endpoint, headers={"x-api-key": "env:COLLECTOR_KEY"}
    )
    provider = configure_tracing(
        config, process="ingress", environ={"COLLECTOR_KEY": "k-123"}, install=False
    )
    assert provider is not None
    provider.get_tracer("test").start_span("POST /webhooks/{tenant}/{instance}").end()
    provider.force_flush()
    provider.shutdown()
    [(path, headers, body)] = received
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-api-key"] == "k-123"
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    [(name, resource)] = _spans(request)
    assert name == "POST /webhooks/{tenant}/{instance}"
    assert resource["hub.process"] == "ingress"


def test_otlp_grpc_reaches_a_real_grpc_collector() -> None:
    received: list[Any] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # the gRPC method name
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        provider = configure_tracing(
            TelemetryConfig(exporter="otlp-grpc", endpoint=f"127.0.0.1:{port}"),
            process="run",
            install=False,
        )
        assert provider is not None
        provider.get_tracer("test").start_span("ledger.apply").end()
        provider.force_flush()
        provider.shutdown()
    finally:
        server.stop(grace=None)
    assert [name for request in received for name, _ in _spans(request)] == ["ledger.apply"]


def test_a_zero_sample_ratio_keeps_no_new_trace() -> None:
    out = io.StringIO()
    provider = configure_tracing(
        TelemetryConfig(exporter="console", sample_ratio=0.0),
        process="run",
        out=out,
        batch=False,
        install=False,
    )
    assert provider is not None
    provider.get_tracer("test").start_span("dropped").end()
    provider.shutdown()
    assert out.getvalue() == ""


def test_collector_credentials_are_references_never_values() -> None:
    text = "version: 1\ntelemetry:\n  exporter: otlp-http\n  headers: {x-api-key: sk-live-123}\n"
    _, problems = validate_text(text, filename="d.yaml")
    assert [str(p) for p in problems] == [
        "d.yaml:4:24: telemetry header 'x-api-key' must be a reference (env:NAME or "
        "file:/path), never the value itself"
    ]
    missing = text.replace("sk-live-123", "env:NOT_SET_ANYWHERE")
    _, problems = validate_text(missing, filename="d.yaml", environ={})
    assert ["NOT_SET_ANYWHERE" in str(p) for p in problems] == [True]
