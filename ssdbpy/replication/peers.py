"""What the convergent mirror peers of a node acknowledged (docs/replication.md, "Acks on
convergent links" and "Tombstone collection").  Pure: times are passed in (monotonic s).

A peer on a convergent link acks ``ssdbpy_ack <seq> <its max_seq>``: it applied and
committed this node's binlog up to ``seq``, and its own binlog ended at ``its max_seq``
then.  Every packet it sent before that moment is about one of its records up to
``its max_seq``; every one it sends later carries an item state at least as new as
everything up to ``seq`` here.  So once this node's link *from* that peer has applied
the peer's binlog past ``its max_seq`` (streaming, not in a copy), nothing older than
this node's records up to ``seq`` can still arrive from it: ``seq`` is *stable* for it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque

#: acks kept per peer while waiting to become stable (older ones are dropped first)
MAX_PENDING = 512
#: commit times closer together than this (s) share one entry
COMMIT_GRAIN = 0.01
MAX_COMMITS = 200_000


class PeerAcks:
    """One peer's acks, by its node id."""

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.acked_seq = -1
        self.ack_time = 0.0
        #: ``(seq, its max_seq)`` not yet stable, in arrival order (both never decrease)
        self.pending: deque[tuple[int, int]] = deque(maxlen=MAX_PENDING)
        #: the highest position of this node known stable for the peer, -1 none
        self.stable = -1

    def ack(self, seq: int, theirs: int, now: float) -> None:
        if seq < self.acked_seq:
            return  # a stale ack (an older session's): positions only move on
        self.acked_seq = seq
        self.ack_time = now
        p = self.pending
        if p and p[-1][1] >= theirs:
            p[-1] = (seq, p[-1][1])  # the same (or a later) peer position covers this seq too
        elif not p or p[-1][0] < seq:
            p.append((seq, theirs))

    def settle(self, applied: int | None) -> int:
        """The stable position, given how far this node applied the peer's binlog (None: not
        streaming from it now, so nothing new becomes stable)."""
        p = self.pending
        if applied is not None:
            while p and p[0][1] <= applied:
                self.stable = max(self.stable, p.popleft()[0])
        return self.stable


class CommitTimes:
    """When the binlog reached each sequence (for ``lag_ms``: the age of the oldest record a
    peer has not acknowledged), to COMMIT_GRAIN, at most MAX_COMMITS entries."""

    def __init__(self, max_seq: int, start: float) -> None:
        self.start = start
        #: the records already in the binlog at start count from start
        self.seqs: deque[int] = deque([max_seq])
        self.times: deque[float] = deque([start])

    def committed(self, seq: int, now: float) -> None:
        if self.times and now - self.times[-1] < COMMIT_GRAIN:
            self.seqs[-1] = seq
            return
        self.seqs.append(seq)
        self.times.append(now)
        if len(self.seqs) > MAX_COMMITS:
            self.seqs.popleft()
            self.times.popleft()

    def forget(self, upto: int) -> None:
        """Drop entries whose records every peer acknowledged (sequence <= ``upto``), but the last."""
        while len(self.seqs) > 1 and self.seqs[0] <= upto:
            self.seqs.popleft()
            self.times.popleft()

    def age_ms(self, acked: int, max_seq: int, now: float) -> int:
        """ms since the oldest record after ``acked`` was committed; 0 when ``acked >= max_seq``.
        A record older than every entry (committed before start, or forgotten) counts from the
        oldest entry, or from start: the figure is then a lower bound."""
        if acked >= max_seq:
            return 0
        seqs = self.seqs
        # entry i covers the records committed in its grain, up to seqs[i]: the first entry
        # whose seq passes ``acked`` holds the oldest record not acknowledged
        i = bisect_right(seqs, acked)
        t = self.times[i] if i < len(seqs) else (self.times[-1] if seqs else self.start)
        return max(int((now - t) * 1000), 0)
