"""The base test class every connector's conformance tests subclass.

Usage, in ``tests/connectors/<name>/test_conformance.py``::

    class TestShopifyConformance(ConnectorConformance):
        connector = ShopifyConnector
        valid_config = {...}
        invalid_configs = [{...}]
        samples = samples_from(FIXTURES, {"orders_create.json": "orders/create", ...})
        webhook_body = (FIXTURES / "orders_create.json").read_bytes()
        outbound = [OutboundCase(...)]
        pagination = PaginationCase(...)
        behaviours = {"duplicated_webhook": (Sample(...),), ...}

        def change(self, sample, payload):      # a genuinely new version of the payload
            payload["updated_at"] = "..."; return payload

Tests are parametrised by sample, outbound case and behaviour. Everything is strict by default: an
order connector that does not provide a commerce behaviour fails unless ``waivers`` names the
behaviour with a reason.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.base import Connector
from connectors.testing.behaviours import BEHAVIOURS, run_behaviour
from connectors.testing.checks import (
    RECEIVED_AT,
    AvailabilityCase,
    OutboundCase,
    PaginationCase,
    Sample,
    check_cancel_fulfillment,
    check_config_schema,
    check_declaration,
    check_idempotency,
    check_outbound_retries,
    check_pagination,
    check_push_availability,
    check_sample_translates,
    check_secrets_hidden,
    check_webhook_signatures,
)

__all__ = ["ConnectorConformance", "samples_from"]


def samples_from(folder: Path, events: Mapping[str, str]) -> list[Sample]:
    """Samples from ``folder``: file name -> vendor event name."""
    return [Sample.from_file(event, folder / name) for name, event in events.items()]


class ConnectorConformance:
    """Subclass and fill in the class attributes; pytest collects the checks below."""

    connector: ClassVar[type[Connector]]
    valid_config: ClassVar[dict[str, Any]]
    invalid_configs: ClassVar[list[dict[str, Any]]] = []
    samples: ClassVar[list[Sample]] = []
    webhook_body: ClassVar[bytes | None] = None
    outbound: ClassVar[list[OutboundCase]] = []
    pagination: ClassVar[PaginationCase | None] = None
    #: the documented push of an availability level; required when accepting availability.changed
    availability: ClassVar[AvailabilityCase | None] = None
    behaviours: ClassVar[dict[str, tuple[Sample, ...]]] = {}
    behaviour_expectations: ClassVar[dict[str, Any]] = {}
    #: rule or behaviour name -> why this connector is exempt (documented, reviewed waivers only)
    waivers: ClassVar[dict[str, str]] = {}

    # -- hooks ------------------------------------------------------------------------------------

    def change(self, sample: Sample, payload: Any) -> Any:
        """Return ``payload`` changed the way a genuine new version at the vendor would be."""
        raise NotImplementedError("override change() to produce a new version of a payload")

    def make_connector(self) -> Connector:
        """A connector on the valid config that never really sleeps between retries."""
        return self.connector(self.valid_config, sleep=lambda _seconds: None)

    # -- parametrisation --------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        cls = metafunc.cls
        if cls is None or ("connector" not in cls.__dict__ and not hasattr(cls, "connector")):
            return
        if "sample" in metafunc.fixturenames:
            samples = list(cls.samples)
            metafunc.parametrize("sample", samples, ids=[s.id for s in samples])
        if "case" in metafunc.fixturenames:
            cases = list(cls.outbound)
            metafunc.parametrize("case", cases, ids=[c.name for c in cases])
        if "behaviour" in metafunc.fixturenames:
            if cls.connector.kind.takes_orders:
                names = sorted(BEHAVIOURS)
            else:  # the commerce behaviours are for order channels; duplicates concern everyone
                names = sorted(set(cls.behaviours) | {"duplicated_webhook"})
            metafunc.parametrize("behaviour", names)

    def _waived(self, rule: str) -> None:
        if rule in self.waivers:
            pytest.skip(f"waived: {self.waivers[rule]}")

    # -- the checks -------------------------------------------------------------------------------

    def test_declaration(self) -> None:
        check_declaration(self.connector)

    def test_config_schema(self) -> None:
        check_config_schema(self.connector, self.valid_config, self.invalid_configs)

    def test_webhook_signatures(self) -> None:
        if self.connector.webhook_verifier is None:
            self._waived("webhooks")
            pytest.fail("the connector has no webhook verifier; waive 'webhooks' with a reason")
        body = self.webhook_body or (self.samples[0].body if self.samples else None)
        assert body, "provide webhook_body or a sample"
        check_webhook_signatures(self.make_connector(), body, now=RECEIVED_AT)

    def test_has_samples(self) -> None:
        assert self.samples, "a connector needs sample payloads"
        missing = set(self.connector.events) - {s.event for s in self.samples}
        if missing:
            self._waived("samples")
            pytest.fail(f"no sample for events {sorted(missing)}")

    def test_sample_translates(self, sample: Sample) -> None:
        check_sample_translates(self.connector, sample)

    def test_idempotency(self, sample: Sample) -> None:
        changed = self.change(sample, copy.deepcopy(sample.payload()))
        check_idempotency(self.connector, sample, changed)

    def test_outbound_retries(self, case: OutboundCase) -> None:
        check_outbound_retries(self.make_connector, case)

    def test_has_outbound(self) -> None:
        if not self.outbound:
            self._waived("outbound")
            pytest.fail("declare outbound cases or waive 'outbound' with a reason")

    def test_push_availability(self) -> None:
        if "availability.changed" not in self.connector.accepts:
            if self.availability is not None:
                pytest.fail("an availability case for a connector that does not accept "
                            "availability.changed")  # fmt: skip
            pytest.skip("the connector does not accept availability.changed")
        if self.availability is None:
            self._waived("push_availability")
            pytest.fail("accepting availability.changed needs an AvailabilityCase (availability)")
        check_push_availability(self.make_connector, self.availability)
        check_outbound_retries(self.make_connector, self.availability.outbound())

    def test_cancel_fulfillment(self) -> None:
        """A connector that is sent releases can cancel them (or waives ``cancel_fulfillment``)."""
        accepts = self.connector.accepts
        if "fulfillment.requested" not in accepts and "fulfillment.cancelled" not in accepts:
            pytest.skip("the connector accepts no fulfilment request")
        waived = "cancel_fulfillment" in self.waivers and "fulfillment.cancelled" not in accepts
        check_cancel_fulfillment(self.connector, waived=waived)
        if waived:
            self._waived("cancel_fulfillment")

    def test_pagination(self) -> None:
        if self.pagination is None:
            self._waived("pagination")
            pytest.fail("declare a PaginationCase or waive 'pagination' with a reason")
        check_pagination(self.make_connector, self.pagination)

    def test_secrets_hidden(self) -> None:
        check_secrets_hidden(
            self.connector,
            self.valid_config,
            outbound=self.outbound[0] if self.outbound else None,
        )

    def test_commerce_behaviour(self, behaviour: str) -> None:
        samples = self.behaviours.get(behaviour)
        if samples is None and behaviour == "duplicated_webhook" and self.samples:
            samples = (self.samples[0],)
        if samples is None:
            self._waived(behaviour)
            pytest.fail(f"order connectors must show {behaviour}: add a sample or a waiver")
        run_behaviour(
            self.connector, behaviour, samples, self.behaviour_expectations.get(behaviour)
        )
