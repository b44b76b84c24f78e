"""The idempotency fast path: skip work for messages that are already done, cheaply, in batches.

The guarantee of exactly-once effects is the ledger's unique idempotency key, stored in the same
transaction as the effect. This module only avoids the ledger round trip for the common duplicate
(a webhook retried by the vendor) and keeps two workers from working on the same message at once:

1. :meth:`claim` marks each key *in flight* with ``SET key inflight NX EX claim_ttl``, all the
   batch's keys in one server-side script call. A key already in flight is busy (another worker has it: try later); a key already
   *done* is a duplicate.
2. After the ledger commit, :meth:`complete` marks the keys *done* for ``done_ttl`` (longer than
   the vendors' retry windows: Stripe retries for three days).
3. On failure, :meth:`release` drops this worker's in-flight marks (Camel's ``removeOnFailure``), so
   a retry is not mistaken for a duplicate.

If the fast path is lost (Redis restarted, keys evicted), nothing breaks: the ledger reports the
duplicate. If a worker dies holding claims, they expire after ``claim_ttl``.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

__all__ = ["Claim", "FastPath", "LocalFastPath", "RedisFastPath"]


class Claim(StrEnum):
    NEW = "new"
    BUSY = "busy"
    DONE = "done"


class FastPath(Protocol):
    async def claim(self, tenant: str, keys: Sequence[str]) -> list[Claim]: ...

    async def complete(self, tenant: str, keys: Sequence[str]) -> None: ...

    async def release(self, tenant: str, keys: Sequence[str]) -> None: ...


#: SET NX EX for every key, and for a key already set, its state: one command per batch (not one
#: per key), so the client's per-command cost does not grow with the batch.
_CLAIM = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) then
    out[i] = 0
  elseif redis.call('GET', key) == 'done' then
    out[i] = 2
  else
    out[i] = 1
  end
end
return out
"""

_COMPLETE = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 'done', 'EX', ARGV[1])
end
return #KEYS
"""

_RELEASE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


_CHUNK = 500  # keys per script call
_CLAIMS = (Claim.NEW, Claim.BUSY, Claim.DONE)


class RedisFastPath:
    """The fast path on Redis, one script call per batch and step (claim, complete)."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "hub:idem",
        claim_ttl: int = 60,
        done_ttl: int = 7 * 24 * 3600,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._claim_ttl = claim_ttl
        self._done_ttl = done_ttl
        self._token = f"inflight:{uuid.uuid4().hex}"
        self._claim_script = client.register_script(_CLAIM)
        self._complete_script = client.register_script(_COMPLETE)
        self._release_script = client.register_script(_RELEASE_IF_OURS)

    def _key(self, tenant: str, key: str) -> str:
        return f"{self._prefix}:{tenant}:{key}"

    async def claim(self, tenant: str, keys: Sequence[str]) -> list[Claim]:
        """Claim each key (``SET NX EX`` in one script call per chunk of keys): ``NEW`` (ours to
        apply), ``BUSY`` (in flight in another worker) or ``DONE`` (already applied)."""
        states: list[int] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            states.extend(
                await self._claim_script(
                    keys=[self._key(tenant, key) for key in chunk],
                    args=[self._token, self._claim_ttl],
                )
            )
        return [_CLAIMS[int(state)] for state in states]

    async def complete(self, tenant: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            await self._complete_script(
                keys=[self._key(tenant, key) for key in chunk], args=[self._done_ttl]
            )

    async def release(self, tenant: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                await self._release_script(
                    keys=[self._key(tenant, key)], args=[self._token], client=pipe
                )
            await pipe.execute()


class LocalFastPath:
    """The fast path of the embedded, single-process hub: a bounded in-memory map.

    The embedded hub has one worker, so nothing is ever busy; the ledger's table of processed keys
    (in the same SQLite file) is the durable check, this only saves a lookup for recent keys.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._done: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def claim(self, tenant: str, keys: Sequence[str]) -> list[Claim]:
        return [Claim.DONE if (tenant, key) in self._done else Claim.NEW for key in keys]

    async def complete(self, tenant: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._done[(tenant, key)] = None
            self._done.move_to_end((tenant, key))
        while len(self._done) > self._capacity:
            self._done.popitem(last=False)

    async def release(self, tenant: str, keys: Sequence[str]) -> None:
        return None
