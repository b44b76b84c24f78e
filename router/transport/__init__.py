"""Transports: how raw messages travel from ingress to the routing workers.

Two implementations share one contract (:class:`router.transport.base.Consumer`): the embedded
default is a durable SQLite inbox in the same process; at scale, FastStream on Redis Streams with
consumer groups. Either way a raw message is acknowledged only after its outcome is durable.
"""
