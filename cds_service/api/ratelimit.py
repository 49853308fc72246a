"""A token bucket per client, for feedback items (each item is a database row).

Each client's bucket holds one minute's allowance and refills continuously. Clients are the
verified issuer (and tenant) when authentication is on, else the peer address. The number of
buckets is capped (least recently used dropped first), so made-up clients cannot grow memory.
Per process: with several workers each keeps its own buckets.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` units per client per minute; bursts up to a minute's worth."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0

    def _bucket(self, client: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
            self._buckets[client] = bucket
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def take(self, client: str, units: int, *, dry_run: bool = False) -> int:
        """Take `units` (unless `dry_run`) and return 0; or take nothing, count a refusal and
        return the whole seconds to wait."""
        bucket = self._bucket(client)
        missing = min(units, self.capacity) - bucket.tokens
        if missing > 0:
            self.refused += 1
            return max(1, math.ceil(missing / self.rate))
        if not dry_run:
            bucket.tokens -= units
        return 0
