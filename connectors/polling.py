"""What a connector lets the hub read on a schedule, and how each item read is translated.

Webhooks are not guaranteed (Shopify gives up after 8 tries in 4 hours; SP-API notifications need
AWS plumbing; a 3PL pushes no inventory at all), so a connector declares its *polls*: named reads
of the vendor's API that the hub runs every few minutes (``poll:`` in the deployment file, see
docs/deployment.md). Each item a poll yields is raw vendor JSON, handed to the hub exactly as a
webhook body would be, under the vendor event named in the poll's :class:`PollSpec`: the same
translation as the webhook, so a polled item derives the same idempotency key a delivered webhook
would have, and nothing is applied twice.

* A **windowed** poll reads what changed in a time window (orders updated between two times).
  The hub keeps a durable high-water mark per instance and poll, and asks for the window from a
  little before it (an overlap, for the vendor's clock and its eventual consistency) to now.
* A **snapshot** poll reads everything as it is now (a 3PL's inventory levels).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PollSpec", "UnknownPollError"]


@dataclass(frozen=True, slots=True)
class PollSpec:
    """One poll a connector offers."""

    name: str
    #: The connector event (a key of ``Connector.events``) that translates each item read.
    event: str
    #: Reads a time window (True) or a snapshot of the present (False).
    windowed: bool
    description: str


class UnknownPollError(KeyError):
    """A poll name the connector does not offer (the deployment file names polls it checks)."""
