"""The outside world, simulated: vendors that sell, pay, ship and tax, on localhost.

A deterministic scenario (:mod:`simulation.scenario`) describes a day of an ecommerce business: a
catalogue, stock, and the traffic the vendors produce. :mod:`simulation.server` answers the calls a
hub makes to the vendors' APIs with their documented shapes (including 429s and slow answers) and
keeps a journal of every call; :mod:`simulation.sender` delivers the scenario's webhooks signed and
retried exactly as each vendor does.

The package imports nothing of the hub (``canonical``, ``connectors``, ``router``, ``hub``): it is
the world the hub integrates with, so it may only speak the vendors' wire formats. That is what
makes it useful beyond the demo: end-to-end tests, benchmarks and the vendors' own SDKs can all be
pointed at it.
"""

from simulation.catalogue import Catalogue, Location, Product
from simulation.scenario import Delivery, Scenario, generate

__all__ = ["Catalogue", "Delivery", "Location", "Product", "Scenario", "generate"]
