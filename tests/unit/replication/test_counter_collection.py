"""Collecting the record of a deleted counter (storage/crdt.py, "Epochs"; docs/replication.md,
"Tombstone collection"): increments after the delete count exactly once on every node, in any
delivery order with duplicates, whether or not the nodes dropped the deleted state in between.

The network is modelled with packets that carry the sender's item state when they were
made (as a convergent link sends it), held per link, delivered in any order and any number of
times.  A node collects only at a stable point, as replication/manager.py's ``gc_bound`` allows
it: every peer applied its records up to the collected position (acknowledged), and it applied
every packet a peer made before that acknowledgement.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.db.database import Database
from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.replication import converge, wire
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import crdt, keys
from ssdbpy.storage.crdt import Counter
from ssdbpy.storage.tombstones import GC, GC_END
from ssdbpy.storage.versions import MARKER, PREFIX, Version

KEY = {"kv": keys.encode_kv(b"n"), "h": keys.encode_hash(b"h", b"n"), "z": keys.encode_zset(b"z", b"n")}


class Net:
    """Nodes, and per link ``(a, b)`` the packets a made for b and b has not dropped."""

    def __init__(self, d: str, n: int, kind: str) -> None:
        self.kind = kind
        self.key = KEY[kind]
        self.dbs: list[Database] = []
        for i in range(n):
            os.mkdir(f"{d}/{i}")
            db = Database.open(f"{d}/{i}")
            db.enable_versions()
            self.dbs.append(db)
        self.links: dict[tuple[int, int], list[bytes]] = {
            (a, b): [] for a in range(n) for b in range(n) if a != b}

    def close(self) -> None:
        for db in self.dbs:
            db.close()

    def packet(self, a: int) -> bytes | None:
        value, ver = converge.state_of(self.dbs[a], self.key)
        return converge.state_packet(1, bl.MIRROR, self.key, value, ver)

    def send(self, a: int) -> None:
        """a logged a change of the item: a packet with its state now goes to every peer."""
        pkt = self.packet(a)
        if pkt is not None:
            for (x, y), q in self.links.items():
                if x == a:
                    q.append(pkt)

    def apply(self, b: int, pkt: bytes) -> None:
        reader = PacketReader()
        reader.feed(pkt)
        blocks = reader.next()
        db = self.dbs[b]
        with db.origin(bl.MIRROR):
            changed = converge.merge(db, wire.decode(blocks), blocks[1], blocks[2])
        db.commit()
        if changed:
            self.send(b)  # applied records are forwarded

    def deliver(self, a: int, b: int, pick: int, keep: bool) -> None:
        q = self.links.get((a, b))
        if not q:
            return
        i = pick % len(q)
        pkt = q[i] if keep else q.pop(i)
        self.apply(b, pkt)

    def incr(self, i: int, by: int) -> tuple[int, int]:
        """Increment on node i; the increment's stamp."""
        db = self.dbs[i]
        if self.kind == "kv":
            db.kv.incr(b"n", by)
        elif self.kind == "h":
            db.hash.incr(b"h", b"n", by)
        else:
            db.zset.incr(b"z", b"n", by)
        db.commit()
        v = self.version(i)
        assert v.counter is not None
        self.send(i)
        return v.counter.totals[db.binlog.versions.node_id][1]

    def delete(self, i: int) -> Version | None:
        """Delete on node i; its version record (None when nothing was written)."""
        db = self.dbs[i]
        before = db.binlog.max_seq
        if self.kind == "kv":
            db.kv.delete(b"n")
        elif self.kind == "h":
            db.hash.delete(b"h", b"n")
        else:
            db.zset.delete(b"z", b"n")
        db.commit()
        if db.binlog.max_seq == before:
            return None
        self.send(i)
        return self.version(i)

    def version(self, i: int) -> Version:
        return self.dbs[i].binlog.versions.get(self.key)

    def value(self, i: int) -> bytes | None:
        return self.dbs[i].engine.get(self.key)

    def collect(self, i: int, passes: int = 1) -> int:
        """``passes`` times: a stable point for node i, then its collection pass; the
        tombstones it deleted."""
        return sum(self._collect(i) for _ in range(passes))

    def _collect(self, i: int) -> int:
        db = self.dbs[i]
        upto = db.binlog.max_seq
        n = len(self.dbs)
        for j in range(n):
            if j == i:
                continue
            for p in self.links[(i, j)]:  # j acknowledges upto: it applied all of them
                self.apply(j, p)
            self.links[(i, j)].clear()
        for j in range(n):  # what each peer made before its acknowledgement reaches i
            if j != i:
                while self.links[(j, i)]:
                    self.apply(i, self.links[(j, i)].pop(0))
        ts = db.binlog.versions.tombstones
        before = ts.collected
        while ts.step(upto, 7):
            pass
        return ts.collected - before

    def settle(self) -> None:
        """Every packet delivered, then every current state to every node."""
        while any(self.links.values()):
            for (a, b), q in self.links.items():
                while q:
                    self.apply(b, q.pop(0))
        for _ in range(2):
            for a in range(len(self.dbs)):
                for b in range(len(self.dbs)):
                    if a != b:
                        pkt = self.packet(a)
                        if pkt is not None:
                            self.apply(b, pkt)
        self.links = {k: [] for k in self.links}


def expected(net: Net, incrs: list[tuple[int, int, int]], deletes: list[Version]) -> bytes | None | str:
    """The value every node must hold: the increments stamped after the latest delete; AMBIGUOUS
    when an origin has increments on both sides of it that the delete had not seen (then the
    earlier ones may count as well, storage/crdt.py)."""
    ids = [db.binlog.versions.node_id for db in net.dbs]
    if not incrs:
        return None
    if not deletes:
        return str(sum(by for _i, by, _t in incrs)).encode()
    last = max(deletes, key=lambda v: v.order())
    base = last.order()
    after = [(i, by, t) for i, by, t in incrs if (t, ids[i]) > base]
    for i in {i for i, _by, _t in after}:
        before = [t for j, _by, t in incrs if j == i and (t, ids[j]) < base]
        seen = last.counter.observed.get(ids[i]) if last.counter is not None else None
        if before and (seen is None or seen[1] < max(before)):
            return "ambiguous"
    if not after:
        return None
    return str(sum(by for _i, by, _t in after)).encode()


def settled(net, incrs, deletes) -> list:
    """Settle the network; every node then holds one value, the model's where it is not ambiguous."""
    net.settle()
    values = [net.value(i) for i in range(3)]
    assert values[0] == values[1] == values[2]
    want = expected(net, incrs, deletes)
    if want != "ambiguous":
        assert values[0] == want
    return values


STEP = st.one_of(
    st.tuples(st.just("incr"), st.integers(0, 2), st.integers(-5, 9)),
    st.tuples(st.just("del"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("collect"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("deliver"), st.integers(0, 5), st.integers(0, 15)),
)
_PAIRS = [(a, b) for a in range(3) for b in range(3) if a != b]


@pytest.mark.timeout(120)
@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["kv", "h", "z"]), st.lists(STEP, min_size=1, max_size=40))
def test_increments_count_once_in_any_delivery_order_with_collection(kind, steps):
    """Random increments, deletes, partial deliveries (in any order, packets kept for
    duplicates) and collections at stable points on three nodes; after every packet and state
    has gone everywhere, every node holds the same value, the sum of the increments stamped
    after the latest delete."""
    with tempfile.TemporaryDirectory() as d:
        net = Net(d, 3, kind)
        incrs: list[tuple[int, int, int]] = []
        deletes: list[Version] = []
        for op, a, b in steps:
            if op == "incr":
                incrs.append((a, b, net.incr(a, b)))
            elif op == "del":
                v = net.delete(a)
                if v is not None:
                    deletes.append(v)
            elif op == "collect":
                net.collect(a)
            else:
                src, dst = _PAIRS[a]
                net.deliver(src, dst, b, keep=b % 3 == 0)
        values = settled(net, incrs, deletes)
        # a stable point everywhere: the values stay, and a deleted item leaves nothing behind
        for i in range(3):
            net.collect(i)
        assert [net.value(i) for i in range(3)] == values
        if values[0] is None:
            for i in range(3):
                db = net.dbs[i]
                assert db.engine.get(PREFIX + net.key) is None
                assert db.engine.get(MARKER + net.key) is None
                assert PREFIX + net.key not in db.binlog.versions.counter_keys
        net.close()


OP = st.one_of(
    st.tuples(st.just("incr"), st.integers(0, 2), st.integers(-5, 9)),
    st.tuples(st.just("deliver"), st.integers(0, 5), st.integers(-3, 15)),
    st.just(("settle", 0, 0)),
)
ROUND = st.tuples(st.lists(OP, max_size=10), st.integers(0, 2), st.lists(OP, max_size=8),
                  st.lists(st.integers(0, 2), max_size=3))


@pytest.mark.timeout(120)
@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["kv", "h", "z"]), st.lists(ROUND, min_size=1, max_size=3), st.lists(OP, max_size=12))
def test_rounds_of_increments_deletes_and_collections(kind, rounds, tail):
    """Rounds of: increments and partial deliveries, a delete on one node, increments and
    deliveries concurrent with it, collections at stable points on some nodes; then more
    increments and deliveries.  Same check as above."""
    with tempfile.TemporaryDirectory() as d:
        net = Net(d, 3, kind)
        incrs: list[tuple[int, int, int]] = []
        deletes: list[Version] = []

        def run(ops):
            for op, a, b in ops:
                if op == "incr":
                    incrs.append((a, b, net.incr(a, b)))
                elif op == "settle":
                    net.settle()
                else:
                    src, dst = _PAIRS[a]
                    net.deliver(src, dst, b, keep=b % 3 == 0)

        for before, deleter, during, collectors in rounds:
            run(before)
            v = net.delete(deleter)
            if v is not None:
                deletes.append(v)
            run(during)
            for i in collectors:
                net.collect(i, passes=2)  # the first one's draining may write the record again
        run(tail)
        settled(net, incrs, deletes)
        net.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("collectors", [(0, 1, 2), (0,), (1, 2)])
def test_increments_after_a_collected_delete_count_from_the_delete(tmp_path, collectors):
    """Totals 10+20+30 on three nodes, a delete, a stable point at which some nodes drop the
    deleted state; then increments on every node reach the others in both directions, directly
    and forwarded: every node holds exactly the increments made after the delete."""
    net = Net(str(tmp_path), 3, "kv")
    for i, by in enumerate((10, 20, 30)):
        net.incr(i, by)
    net.settle()
    assert [net.value(i) for i in range(3)] == [b"60"] * 3
    net.delete(1)
    net.settle()
    assert [net.value(i) for i in range(3)] == [None] * 3
    for i in collectors:
        assert net.collect(i) == 1
        assert net.dbs[i].engine.get(PREFIX + net.key) is None
    for i in set(range(3)) - set(collectors):
        assert net.version(i).tomb  # kept: no stable point for it
    for i in range(3):
        ts = net.dbs[i].binlog.versions.tombstones
        while ts.step(-1, 100):  # a counting pass: nothing may go
            pass
        assert ts.held == (0 if i in collectors else 1)
    net.incr(0, 1)
    net.incr(2, 4)
    net.deliver(2, 1, -1, keep=True)  # node 2's fresh total reaches node 1 first
    assert net.value(1) == b"4"
    net.incr(1, 100)
    net.deliver(1, 0, -1, keep=True)  # node 1's state (with 2's) reaches node 0
    assert net.value(0) == b"105"
    net.deliver(2, 1, 0, keep=False)  # a duplicate
    net.settle()
    assert [net.value(i) for i in range(3)] == [b"105"] * 3
    net.close()


@pytest.mark.timeout(30)
def test_a_deleted_counter_state_is_indexed_and_held_until_its_own_total_restarted(tmp_path):
    """The delete indexes the deleted counter's record, with this node's total restarted at
    zero (and counting nothing); a record whose own total did not restart (written by an older
    version) is counted but held."""
    net = Net(str(tmp_path), 2, "kv")
    db = net.dbs[0]
    me = db.binlog.versions.node_id
    net.incr(0, 5)
    net.incr(1, 7)
    net.settle()
    net.delete(0)
    v = net.version(0)
    assert v.tomb and v.counter is not None and net.value(0) is None
    assert v.counter.totals[me] == v.counter.observed[me] and v.counter.totals[me][0] == 0
    assert v.counter.totals[me][1] > v.stamp  # after the delete, counting nothing
    other = net.dbs[1].binlog.versions.node_id
    assert v.counter.totals[other][0] == 7  # another origin's total stays as it was
    entries = [k for k in db.engine.iterate(GC, GC_END, keys_only=True)]
    assert [k[len(GC) + 8:] for k in entries] == [PREFIX + net.key]
    # as an older version wrote it: this node's total not restarted
    entries_before = {me: (5, 1), other: (7, 2)}
    old = Version(v.stamp, v.origin, True, Counter(None, dict(entries_before), dict(entries_before)))
    db.engine.put(PREFIX + net.key, old.encode())
    db.engine.put(entries[0], old.encode())
    db.commit()
    ts = db.binlog.versions.tombstones
    while ts.step(db.binlog.max_seq, 100):
        pass
    assert ts.collected == 0 and ts.held == 1
    assert db.engine.get(PREFIX + net.key) == old.encode()
    net.close()


def test_a_restart_counts_nothing_and_replaces_the_origins_old_entries():
    """The state rules behind collection (storage/crdt.py, "Epochs")."""
    base = (100, 1)
    old = Counter(None, {1: (5, 50), 2: (7, 60)}, {1: (5, 50), 2: (7, 60)})  # deleted at 100
    assert crdt.value(base, old) is None
    restarted = Counter(None, dict(old.totals), dict(old.observed))
    assert crdt.restart(restarted, 2, 120) and not crdt.restart(restarted, 2, 121)
    assert crdt.restarted(restarted, 2) and not crdt.restarted(old, 2) and crdt.restarted(old, 3)
    assert crdt.value(base, restarted) is None  # after the base, but counts nothing
    for a, b in ((old, restarted), (restarted, old)):
        v, c = crdt.join(base, a, base, b)
        assert c.totals[2] == c.observed[2] == (0, 120) and crdt.value(v, c) is None
    # origin 2 increments by 4 after its restart: its state carries the restart's observed part
    later = Counter(None, {1: (5, 50), 2: (4, 130)}, dict(restarted.observed))
    for a, b in ((old, later), (later, old)):
        v, c = crdt.join(base, a, base, b)
        assert crdt.value(v, c) == b"4"
    # a newer base that saw only the old entries: observed parts merge across bases
    newer = Counter(b"10", dict(old.totals), dict(old.totals))
    for a, va, b, vb in ((newer, (110, 3), later, base), (later, base, newer, (110, 3))):
        v, c = crdt.join(va, a, vb, b)
        assert v == (110, 3) and crdt.value(v, c) == b"14"
    # origin 2 forgot the item and increments from an empty state: a node holding its restart
    # counts 4; one still holding the old entries would not (so collection waits for the restart
    # to reach every peer)
    fresh = Counter(None, {2: (4, 130)}, {})
    v, c = crdt.join((0, 0), fresh, base, restarted)
    assert crdt.value(v, c) == b"4"
    v, c = crdt.join((0, 0), fresh, base, old)
    assert crdt.value(v, c) == b"-3"
