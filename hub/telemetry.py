"""OpenTelemetry tracing for a hub process, as the deployment's ``telemetry:`` section asks.

Libraries (router, connectors, ingress) only ever use the OpenTelemetry API; this module is the one
place that installs an SDK tracer provider, so a process that does not configure telemetry pays
nothing and sends nothing. Every process of a deployment names itself (``hub.process``: run,
ingress, worker) so a trace that crosses processes shows which one did what.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from hub.config.model import TelemetryConfig
from hub.config.secrets import resolve_reference

__all__ = ["configure_tracing", "exporter_for"]


def exporter_for(
    config: TelemetryConfig, *, environ: Mapping[str, str] | None = None, out: IO[str] | None = None
) -> SpanExporter | None:
    """The span exporter the config names (None for ``none``); header secrets are resolved here."""
    headers = {name: resolve_reference(ref, environ) for name, ref in config.headers.items()}
    if config.exporter == "none":
        return None
    if config.exporter == "console":
        return ConsoleSpanExporter(out=out) if out is not None else ConsoleSpanExporter()
    if config.exporter == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=config.endpoint, headers=headers or None)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    endpoint = config.endpoint
    insecure = endpoint is not None and not endpoint.startswith("https://")
    return GrpcSpanExporter(endpoint=endpoint, headers=headers or None, insecure=insecure)


def configure_tracing(
    config: TelemetryConfig,
    *,
    process: str,
    environ: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    batch: bool = True,
    install: bool = True,
) -> TracerProvider | None:
    """Install the process's tracer provider; returns it (shut it down on exit to flush spans).

    Sampling is parent-based: a trace the vendor or the ingress started keeps its decision across
    every hop, so a sampled message is sampled whole.
    """
    exporter = exporter_for(config, environ=environ, out=out)
    if exporter is None:
        return None
    resource = Resource.create(
        {
            "service.name": config.service_name,
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
            "hub.process": process,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio))
    )
    processor: Any = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    if install:  # OpenTelemetry allows one global provider per process
        trace.set_tracer_provider(provider)
    return provider
