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

from collections import deque

#: acks kept per peer while waiting to become stable (older ones are dropped first)
MAX_PENDING = 512


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

