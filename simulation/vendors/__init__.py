"""Each vendor's wire format: the bodies its webhooks carry and the answers its API gives.

One module per vendor, written from the vendor's API reference; a module only renders what the
scenario decided (see :mod:`simulation.orders`) and never decides anything itself.
"""
