"""A hybrid logical clock: 64-bit stamps ``physical_ms << 16 | counter`` (pure, no IO).

Contracts:

* ``tick()`` returns a stamp strictly greater than every stamp it returned
  before and every stamp passed to ``observe()`` -- also across restarts:
  the clock starts at the persisted *ceiling*, which is always at or above
  every stamp issued or observed.  Whenever a stamp would pass the ceiling,
  a new one ``WINDOW`` ahead is saved first (``save`` must be durable when it
  returns), so saves happen about once per WINDOW of stamps, not per tick.
* While the wall clock moves forward and fewer than 65,536 stamps are taken
  per millisecond, ``stamp >> 16`` is the wall-clock time in ms (plus the
  configured offset); a burst beyond that borrows from the next millisecond,
  a wall clock that steps back is ignored until it catches up.
* The wall clock is read through ``now_ms`` (tests inject an offset, see
  ``wall_clock``).
"""

from __future__ import annotations

import os
import time
from typing import Callable

COUNTER_BITS = 16
MAX_STAMP = (1 << 64) - 1
#: how far ahead of the last stamp the persisted ceiling is put (10 s)
WINDOW = 10_000 << COUNTER_BITS
#: environment variable: milliseconds added to this node's HLC wall clock (tests skew clocks with it)
OFFSET_ENV = "SSDBPY_CLOCK_OFFSET_MS"  # also applied to TTLs (db/ttl.py)


def wall_clock(offset_ms: int = 0) -> Callable[[], int]:
    """``now_ms()`` reading the system clock plus ``offset_ms``."""
    def now_ms() -> int:
        return time.time_ns() // 1_000_000 + offset_ms
    return now_ms


def offset_from_env(environ=os.environ) -> int:
    """The clock offset set by ``SSDBPY_CLOCK_OFFSET_MS`` (0 when unset or not an integer)."""
    try:
        return int(environ.get(OFFSET_ENV, "0"))
    except ValueError:
        return 0


def physical_ms(stamp: int) -> int:
    return stamp >> COUNTER_BITS


class HLC:
    def __init__(self, now_ms: Callable[[], int], ceiling: int, save: Callable[[int], None]) -> None:
        """``ceiling``: the persisted ceiling (0 for a new node); ``save(ceiling)`` persists a new one."""
        self._now_ms = now_ms
        self._save = save
        self.ceiling = ceiling
        #: the last stamp issued or observed (never decreases)
        self.last = ceiling
        self.saves = 0

    def _raise_ceiling(self, stamp: int) -> None:
        self.ceiling = min(stamp + WINDOW, MAX_STAMP)
        self._save(self.ceiling)
        self.saves += 1

    def tick(self) -> int:
        """A new stamp, strictly above every stamp issued or observed so far."""
        s = max(self._now_ms() << COUNTER_BITS, self.last + 1)
        if s > MAX_STAMP:
            raise OverflowError("HLC exhausted")
        if s > self.ceiling:
            self._raise_ceiling(s)
        self.last = s
        return s

    def observe(self, stamp: int) -> None:
        """Account for a stamp made elsewhere: every later ``tick()`` is above it."""
        if stamp > self.last:
            if stamp > self.ceiling:
                self._raise_ceiling(stamp)
            self.last = stamp
