"""Saying in the log that a limit bit, without letting a flood of refusals flood the log.

The first time a given limit bites, one WARNING line; after that at most one line per
`interval` seconds per limit, with how many times it bit since the last line. Lines name the
limit only: never a client address, a path, a header or a body (they could carry PHI or a
token). Exact counts are in /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LimitLog:
    """Rate-limited WARNING lines, one stream per message text."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def bit(self, message: str) -> None:
        """Record one event of `message`; log it now or fold it into the next line."""
        now = self._clock()
        last = self._last.get(message)
        if last is not None and now - last < self._interval:
            self._since[message] = self._since.get(message, 0) + 1
            return
        folded = self._since.pop(message, 0)
        self._last[message] = now
        if folded:
            self._logger.warning("%s (and %d more since the last report)", message, folded)
        else:
            self._logger.warning("%s", message)
