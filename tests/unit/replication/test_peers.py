"""Peers' acks on convergent links: when a position becomes stable (replication/peers.py);
the lag in ms is replication/lag.py's (tests/unit/replication/test_lag.py)."""

from __future__ import annotations

from types import SimpleNamespace

from ssdbpy.db.database import Database
from ssdbpy.replication.manager import Replication
from ssdbpy.replication.peers import MAX_PENDING, PeerAcks


def test_an_ack_is_stable_once_this_node_applied_the_peers_binlog_past_its_end():
    p = PeerAcks(7)
    p.ack(100, 50, 1.0)
    p.ack(120, 60, 2.0)
    assert p.acked_seq == 120 and p.ack_time == 2.0
    assert p.settle(None) == -1  # not streaming from the peer: nothing is known
    assert p.settle(49) == -1
    assert p.settle(50) == 100
    assert p.settle(59) == 100
    assert p.settle(1000) == 120
    assert p.settle(None) == 120  # a stable position stays stable


def test_stale_and_weaker_acks_change_nothing():
    p = PeerAcks(7)
    p.ack(100, 50, 1.0)
    p.ack(90, 10, 2.0)  # an older session's
    assert p.acked_seq == 100 and list(p.pending) == [(100, 50)]
    p.ack(100, 70, 3.0)  # the same position, a later peer end: a weaker fact
    assert list(p.pending) == [(100, 50)]
    p.ack(110, 50, 4.0)  # a later position, the same peer end: covered by the same condition
    assert list(p.pending) == [(110, 50)]
    assert p.settle(50) == 110


def test_pending_acks_are_bounded():
    p = PeerAcks(1)
    for i in range(MAX_PENDING * 3):
        p.ack(i + 1, i + 1, float(i))
    assert len(p.pending) == MAX_PENDING
    assert p.settle(10 ** 9) == MAX_PENDING * 3


class _Link:
    """A slave link as gc_bound sees it."""

    def __init__(self, peer_id, applied, mirror=True) -> None:
        self.cfg = SimpleNamespace(mirror=mirror)
        self.peer_id = peer_id
        self.applied = applied

    def applied_seq(self):
        return self.applied


def test_gc_bound_waits_for_every_peer_and_for_what_each_sent_before_its_ack(tmp_path):
    db = Database.open(str(tmp_path))
    db.enable_versions()
    repl = Replication(db)
    try:
        assert repl.gc_bound() == -1  # no peer known: keep everything
        b, c = _Link(2, None), _Link(3, None)
        repl.slaves = [b, c, _Link(None, None, mirror=False)]  # a sync link does not count
        repl.peer_acked(2, 100, 40)
        assert repl.gc_bound() == -1  # C never acknowledged
        repl.peer_acked(3, 90, 70)
        assert repl.gc_bound() == -1  # nothing applied from B or C yet
        b.applied, c.applied = 40, 69
        assert repl.gc_bound() == -1  # C may still send something older than its ack
        c.applied = 70
        assert repl.gc_bound() == 90
        repl.peer_acked(3, 200, 80)
        assert repl.gc_bound() == 90
        c.applied = 80
        assert repl.gc_bound() == 100  # B's ack is the lower one now
        repl.slaves.append(_Link(None, None))  # a mirror peer not negotiated (or an SSDB peer)
        assert repl.gc_bound() == -1
        repl.slaves.pop()
        repl.peer_acked(9, 5, 1)  # a peer this node has no block for: its ack alone counts
        assert repl.gc_bound() == 5
        repl.forget_peer(9)  # replaced (another node id answers at its address)
        assert repl.gc_bound() == 100
    finally:
        repl.slaves = []
        repl.stop()
        db.close()


def test_a_slave_acknowledges_only_to_a_master_that_said_it_reads_acks(tmp_path):
    from ssdbpy.replication.manager import SlaveConfig
    from ssdbpy.replication.slave import Slave

    db = Database.open(str(tmp_path))
    db.enable_versions()
    repl = Replication(db)
    try:
        s = Slave(repl, SlaveConfig(id="b", host="127.0.0.1", port=1, type="mirror"))
        assert s._accepted([b"ok", b"42", b"1"]) and s.peer_id == 42
        assert not s.peer_reads_acks  # an older ssdbpy master: it would never read them
        assert s._accepted([b"ok", b"42", b"1", b"acks"]) and s.peer_reads_acks
        repl.peer_acked(42, 10, 5)
        assert s._accepted([b"ok", b"43", b"1", b"acks"]) and s.peer_id == 43
        assert 42 not in repl.peer_acks  # another node answers at the address: the old one's acks go
        assert not s._accepted([b"client_error", b"Unknown Command: ssdbpy_mirror"])
    finally:
        repl.stop()
        db.close()
