"""JWT replay protection: each (iss, jti) is accepted once, until the token can no longer verify.

The seen ids live in the service database (table `seen_jwt`), so every worker process and a
restart see the same set; the primary key makes "first one wins" atomic across workers.

The methods are synchronous SQLAlchemy. `JwtVerifier` calls `remember` in a worker thread
(`anyio.to_thread.run_sync`): a SQLite insert is sub-millisecond, but under write contention
SQLite waits on its busy timeout, and that wait must not stall the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from cds_service.store.tables import SeenJwt

log = logging.getLogger(__name__)


def replay_key(iss: str, jti: str) -> str:
    """The stored id: a hash, so the table holds no claim values and keys have a fixed size."""
    return hashlib.sha256(f"{iss}\n{jti}".encode()).hexdigest()


class ReplayStore:
    """Remembers used token ids until they expire; prunes expired ones now and then."""

    def __init__(
        self,
        engine: Engine,
        *,
        prune_interval: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._prune_interval = prune_interval
        self._clock = clock
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()

    def remember(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record (iss, jti) until `expires_at`. False when it was already recorded (a replay)."""
        key = replay_key(iss, jti)
        now = self._now()
        until = expires_at.astimezone(UTC)
        self._maybe_prune(now)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(SeenJwt).values(key=key, expires_at=until))
            return True
        except IntegrityError:
            pass
        # Seen before. If that record has expired (not yet pruned) the id may be used again;
        # the conditional update lets exactly one concurrent caller win.
        with self._engine.begin() as conn:
            result = conn.execute(
                update(SeenJwt)
                .where(SeenJwt.key == key, SeenJwt.expires_at < now)
                .values(expires_at=until)
            )
        return bool(result.rowcount)

    def prune(self) -> int:
        """Delete expired records; returns how many."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(SeenJwt).where(SeenJwt.expires_at < self._now()))
        return int(result.rowcount)

    def _maybe_prune(self, now: datetime) -> None:
        stamp = now.timestamp()
        if stamp - self._last_prune < self._prune_interval:
            return
        if not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._last_prune = stamp
            removed = self.prune()
            if removed:
                log.debug("replay store: pruned %d expired token ids", removed)
        finally:
            self._prune_lock.release()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
