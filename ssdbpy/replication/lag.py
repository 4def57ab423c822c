"""When the binlog reached each position, so a master can say how far behind a slave is in ms.

:class:`CommitTimes` listens to the binlog's commits and keeps ``(seq, monotonic
time)`` pairs: at ``time`` the binlog had reached ``seq``.  A slave at position
``p`` (acknowledged, or only sent for a slave that does not acknowledge) lags by
the age of record ``p + 1``, the oldest one it lacks: :meth:`CommitTimes.age_ms`.

Resolution and bounds: commits less than RESOLUTION seconds after the last
kept pair move that pair's sequence on instead of adding one, so an age is at
most RESOLUTION too high.  At most MAX_PAIRS pairs are kept (the oldest go
first) and pairs below the lowest position a slave still lacks are dropped; a
record older than the oldest pair kept (or written before the server started)
is given that pair's time, so its age is a lower bound then.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable

RESOLUTION = 0.01  # s between two kept pairs
MAX_PAIRS = 100_000
PRUNE_EVERY = 1024  # new pairs between two prunes by the slaves' positions


class CommitTimes:
    def __init__(self, max_seq: Callable[[], int], lowest_needed: Callable[[], int | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``max_seq()``: the binlog's last readable record; ``lowest_needed()``: the lowest position a
        connected slave lacks (None: no slave); ``clock``: monotonic seconds."""
        self._max_seq = max_seq
        self._lowest_needed = lowest_needed
        self._clock = clock
        self._seqs: list[int] = [max_seq()]
        self._times: list[float] = [clock()]  # the records up to _seqs[0] are at least this old
        self._added = 0

    def committed(self) -> None:
        """A binlog listener: records were committed."""
        seq = self._max_seq()
        if seq <= self._seqs[-1]:
            return
        now = self._clock()
        if now - self._times[-1] < RESOLUTION and len(self._seqs) > 1:
            self._seqs[-1] = seq
            return
        self._seqs.append(seq)
        self._times.append(now)
        self._added += 1
        if self._added >= PRUNE_EVERY or len(self._seqs) > MAX_PAIRS:
            self._added = 0
            self._prune()

    def _prune(self) -> None:
        low = self._lowest_needed()
        low = self._max_seq() if low is None else low
        seqs = self._seqs
        cut = bisect_left(seqs, low)  # the pairs before it are below every position a slave lacks
        if len(seqs) > MAX_PAIRS:
            cut = max(cut, len(seqs) - MAX_PAIRS * 3 // 4)
        cut = min(cut, len(seqs) - 1)  # one pair always stays
        if cut > 0:
            del seqs[:cut]
            del self._times[:cut]

    def age_ms(self, position: int) -> int:
        """ms since the first record after ``position`` was committed; 0 if there is none yet."""
        if position >= self._max_seq():
            return 0
        i = bisect_left(self._seqs, position + 1)
        if i >= len(self._seqs):  # committed after the last pair (a commit not yet announced)
            i = len(self._seqs) - 1
        return max(int((self._clock() - self._times[i]) * 1000), 0)

    def __len__(self) -> int:
        return len(self._seqs)
