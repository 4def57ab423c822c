"""Acks on convergent mirror links and tombstone collection (docs/replication.md, "Acks on
convergent links", "Tombstone collection"): once every peer acknowledged the records that made
them, tombstones go, and no deleted key, field, member or popped queue item comes back --
also when a peer was down meanwhile, or a node was killed mid-load."""

from __future__ import annotations

import threading
import time

import pytest

from tests.harness.proxy import FaultProxy
from tests.harness.replication import converge, master_sessions, slave_links
from tests.harness.server import wait_for
from tests.replication.test_convergent import (SKEW_MS, Model, Writer, check_model, clock, mirror,
                                               wait_convergent)


def tombstones(node) -> int:
    with node.client() as c:
        links = slave_links(c)
    counts = {int(x["tombstones"]) for x in links}
    assert len(counts) == 1, links  # the node's count, the same in every mirror block
    return counts.pop()


def max_seq(c) -> int:
    info = c("info")
    i = info.index(b"binlogs")
    return int(info[i + 1].decode().split("max_seq")[1].split(":")[1].split()[0])


def all_acked(nodes) -> bool:
    """Every peer acknowledged every node's whole binlog (master and slave side agree)."""
    for n in nodes:
        with n.client() as c:
            top = max_seq(c)
            links = slave_links(c)
            sessions = [s for s in master_sessions(c) if s.get("mode") == "convergent"]
        if len(sessions) != len(nodes) - 1:
            return False
        for s in sessions:
            if int(s["acked_seq"]) != top or int(s["lag_seq"]) != 0 or int(s["lag_ms"]) != 0:
                return False
        for x in links:
            if int(x["peer_acked"]) != top or int(x["peer_lag"]) != 0 or int(x["peer_lag_ms"]) != 0:
                return False
    return True


def digests(nodes) -> set[bytes]:
    out = set()
    for n in nodes:
        with n.client() as c:
            r = c("digest")
            assert r[0] == b"ok", r
            out.add(r[1])
    return out


def mesh(server_factory, names=("a", "b", "c"), start=True):
    """Nodes that are mirror slaves of each other (started and convergent unless ``start`` is false)."""
    nodes = [server_factory(n, start=False) for n in names]
    for n in nodes:
        n.write_config([mirror(p, p.name) for p in nodes if p is not n])
    if start:
        for n in nodes:
            n.start()
        wait_convergent(nodes, links=len(nodes) - 1)
    return nodes


@pytest.mark.timeout(60)
def test_tombstones_go_once_every_peer_acknowledged(server_factory):
    """Three masters write and delete the same keys at once; afterwards every peer's ack
    reaches every node's binlog end (lag 0 records, 0 ms), the tombstone count drops to 0 on
    every node, and the nodes still hold the same data, every deleted item still deleted."""
    nodes = mesh(server_factory)
    model, stop = Model(), threading.Event()
    writers = [Writer(n, n.name, model, seed, stop) for seed, n in enumerate(nodes)]
    for w in writers:
        w.start()
    peak = 0
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        peak = max(peak, max(tombstones(n) for n in nodes))
        time.sleep(0.2)
    stop.set()
    for w in writers:
        w.join(10)
        assert w.error is None, w.error
    deleted = [item for item in model.writes if model.candidates(item) == {None}]
    converge(nodes, timeout=30)
    check_model(nodes, model)
    wait_for(lambda: all_acked(nodes), timeout=15, interval=0.2, what="every peer to acknowledge everything")
    wait_for(lambda: all(tombstones(n) == 0 for n in nodes), timeout=15, interval=0.2,
             what="every tombstone collected")
    converge(nodes, timeout=10)
    checked, _exact = check_model(nodes, model)  # no deleted item is back
    assert len(digests(nodes)) == 1
    assert peak > 0 and len(deleted) > 0 and checked >= 30, (peak, len(deleted), checked)
    print(f"tombstones: peak {peak} during the writes, 0 after; {len(deleted)} items end deleted")


def acked_by(node, peer) -> bool:
    """``peer`` acknowledged ``node``'s whole binlog (node's slaveof block for peer)."""
    with node.client() as c:
        top = max_seq(c)
        link = next(x for x in slave_links(c) if x["id"] == peer.name)
    return int(link["peer_acked"]) == top


@pytest.mark.timeout(60)
def test_a_peer_that_is_down_keeps_tombstones_until_it_caught_up(server_factory):
    """C holds keys, fields and queue items that A and B delete while C is down: A and B keep
    every tombstone (B and A acknowledged everything, C nothing); C comes back with its old
    values, catches up, the deleted items stay deleted everywhere, and only then do the
    tombstones go."""
    nodes = mesh(server_factory)
    a, b, c = nodes
    names = [b"g%03d" % i for i in range(40)]
    with a.client() as ca:
        assert ca("multi_set", *[x for k in names for x in (k, b"v-" + k)])[0] == b"ok"
        assert ca("multi_hset", "H", "f1", "1", "f2", "2")[0] == b"ok"
        assert ca("qpush_back", "Q", "q1", "q2", "q3", "q4")[0] == b"ok"
    converge(nodes, timeout=20)
    wait_for(lambda: all_acked(nodes), timeout=15, interval=0.2, what="every peer to acknowledge everything")
    assert all(tombstones(n) == 0 for n in nodes)

    c.kill()
    with a.client() as ca, b.client() as cb:
        assert ca("multi_del", *names[:20])[0] == b"ok"
        assert cb("multi_del", *names[20:30])[0] == b"ok"
        assert cb("hdel", "H", "f1")[0] == b"ok"
        assert ca("qpop_front", "Q", "2") == [b"ok", b"q1", b"q2"]
        assert cb("set", "fresh", "1")[0] == b"ok"
    wait_for(lambda: acked_by(a, b) and acked_by(b, a), timeout=15, interval=0.1, what="A and B to ack each other")
    held = tombstones(a)
    assert held >= 30 + 1 + 2 and tombstones(b) == held, (held, tombstones(b))
    time.sleep(3.0)  # three collection intervals: every peer but C has acknowledged
    assert tombstones(a) == held and tombstones(b) == held
    with a.client() as ca:
        top = max_seq(ca)
        to_c = next(x for x in slave_links(ca) if x["id"] == "c")
    # what C has not acknowledged: the records since it went down, the oldest 3 s old or more
    assert to_c["status"] != "SYNC" and int(to_c["peer_acked"]) < top, to_c
    assert int(to_c["peer_lag"]) == top - int(to_c["peer_acked"]), to_c
    assert int(to_c["peer_lag_ms"]) >= 3000, to_c
    with a.client() as ca:
        assert ca("get", names[0]) == [b"not_found"]

    c.start()
    wait_convergent(nodes, links=2)
    converge(nodes, timeout=20)
    wait_for(lambda: all(tombstones(n) == 0 for n in nodes), timeout=20, interval=0.2,
             what="the tombstones collected once C caught up")
    snap = converge(nodes, timeout=10)
    assert sorted(snap["kv"]) == sorted(names[30:] + [b"fresh"])
    assert snap["hash"] == {b"H": [(b"f2", b"2")]}
    assert snap["queue"] == {b"Q": [b"q3", b"q4"]}
    assert len(digests(nodes)) == 1
    print(f"tombstones: {held} held on A and B while C was down, 0 after C caught up")


@pytest.mark.timeout(60)
def test_a_write_still_in_flight_from_a_peer_that_acknowledged_does_not_bring_a_key_back(server_factory):
    """B's write of k is on its way to A (A's link from B is held in a partition) when A
    deletes k; B receives and acknowledges the delete at once.  A keeps the tombstone until
    it has applied what B sent before that ack, so the older write, once delivered, loses."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    proxy = FaultProxy(b.port).start()  # A's link from B
    try:
        a.write_config([mirror(b, "b", proxy.port)])
        b.write_config([mirror(a, "a")])
        a.start()
        b.start()
        wait_convergent([a, b], links=1)
        with a.client() as ca, b.client() as cb:
            assert cb("set", "k", "v0")[0] == b"ok"
            wait_for(lambda: ca("get", "k") == [b"ok", b"v0"], timeout=10, what="k on A")
            proxy.blackhole()
            assert cb("set", "k", "old")[0] == b"ok"  # sent to A, held in the partition
            time.sleep(0.2)
            assert ca("del", "k")[0] == b"ok"  # stamped after B's write: the delete wins
            wait_for(lambda: cb("get", "k") == [b"not_found"], timeout=10, what="the delete on B")
            wait_for(lambda: acked_by(a, b), timeout=10, interval=0.1, what="B to ack A's delete")
            time.sleep(3.0)  # three collection intervals
            held = tombstones(a)
            assert held >= 1, held  # k's tombstone (and its TTL entry's) kept
            proxy.resume()
            snap = converge([a, b], timeout=20)
            assert b"k" not in snap["kv"], snap["kv"]
            wait_for(lambda: tombstones(a) == 0 and tombstones(b) == 0, timeout=20, interval=0.2,
                     what="the tombstones collected once A applied B's stream")
            assert ca("get", "k") == [b"not_found"] and cb("get", "k") == [b"not_found"]
            assert len(digests([a, b])) == 1
        print(f"tombstones: {held} held on A while B's older write was in flight, 0 after")
    finally:
        proxy.close()


class MixedWriter(Writer):
    """Writer's kv/hash/zset writes and deletes, plus increments of one key and pushes and
    pops of one queue."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.incr = 0
        self.pushed: list[bytes] = []
        self.popped: list[bytes] = []

    def op(self, c):
        r = self.rnd.random()
        if r < 0.15:
            by = self.rnd.randint(-3, 9)
            assert c("incr", "n", str(by))[0] == b"ok"
            self.incr += by
            return []
        if r < 0.27:
            item = b"%s-q%d" % (self.tag.encode(), self.n)
            assert c("qpush_back", "Q", item)[0] == b"ok"
            self.pushed.append(item)
            return []
        if r < 0.32:
            reply = c("qpop_front", "Q")
            assert reply[0] in (b"ok", b"not_found"), reply
            self.popped.extend(reply[1:])
            return []
        return super().op(c)


def check_mixed(snap: dict, writers: list[MixedWriter]) -> None:
    assert snap["kv"][b"n"] == str(sum(w.incr for w in writers)).encode()
    queue = snap["queue"].get(b"Q", [])
    pushed = [i for w in writers for i in w.pushed]
    popped = {i for w in writers for i in w.popped}
    assert len(queue) == len(set(queue)), "an item twice in the queue"
    assert not popped & set(queue), sorted(popped & set(queue))[:5]  # a popped item came back
    missing = set(pushed) - set(queue) - popped
    assert not missing, sorted(missing)[:5]


@pytest.mark.timeout(90)
def test_three_masters_with_a_node_killed_mid_load(server_factory, monkeypatch):
    """Three masters under writes, deletes, increments, pushes and pops, C's clock 5 minutes
    ahead; C is killed (SIGKILL) while A and B keep writing and C applies their streams, then
    restarted and written to again.  At the end: equal digests, every item holds its
    highest-stamped acknowledged write, increments sum exactly, every push is in the queue
    once or was popped, no popped item and no deleted item is back -- also after every
    tombstone was collected."""
    nodes = mesh(server_factory, start=False)
    a, b, c = nodes
    a.start()
    b.start()
    monkeypatch.setenv("SSDBPY_CLOCK_OFFSET_MS", str(SKEW_MS))  # also for C's restart
    c.start()
    wait_convergent(nodes, links=2)
    with a.client() as ca, c.client() as cc:
        assert clock(cc) - clock(ca) > (SKEW_MS // 2) << 16  # the skew is real
    model, stop, stop_c = Model(), threading.Event(), threading.Event()
    writers = [MixedWriter(a, "a", model, 1, stop), MixedWriter(b, "b", model, 2, stop),
               MixedWriter(c, "c", model, 3, stop_c)]
    for w in writers:
        w.start()
    time.sleep(2.0)
    stop_c.set()  # C's own client stops (its acknowledged writes are all known), then C dies
    writers[2].join(10)
    assert writers[2].error is None, writers[2].error
    c.kill()
    time.sleep(1.5)
    c.start()
    writers.append(MixedWriter(c, "c2", model, 4, stop))
    writers[-1].start()
    time.sleep(2.0)
    stop.set()
    for w in writers:
        w.join(10)
        assert w.error is None, w.error
    assert all(w.n > 20 for w in writers), [w.n for w in writers]
    snap = converge(nodes, timeout=30)
    checked, exact = check_model(nodes, model)
    assert checked >= 30 and exact > 0, (checked, exact)
    check_mixed(snap, writers)
    held = [tombstones(n) for n in nodes]
    wait_for(lambda: all_acked(nodes), timeout=20, interval=0.2, what="every peer to acknowledge everything")
    wait_for(lambda: all(tombstones(n) == 0 for n in nodes), timeout=20, interval=0.2,
             what="every tombstone collected")
    snap = converge(nodes, timeout=10)
    check_model(nodes, model)
    check_mixed(snap, writers)
    assert len(digests(nodes)) == 1
    print(f"tombstones: {held} on A, B, C once converged, 0 after; writes {[w.n for w in writers]}")


COUNTER_KEYS = [b"ctr%03d" % i for i in range(120)]
COUNTER_FIELDS = [b"f%02d" % i for i in range(40)]
COUNTER_MEMBERS = [b"m%02d" % i for i in range(40)]


def counter_items():
    """``(incr request, delete request, read request)`` prefixes of every counter item."""
    return ([(("incr", k), ("del", k), ("get", k)) for k in COUNTER_KEYS]
            + [(("hincr", "CH", f), ("hdel", "CH", f), ("hget", "CH", f)) for f in COUNTER_FIELDS]
            + [(("zincr", "CZ", m), ("zdel", "CZ", m), ("zget", "CZ", m)) for m in COUNTER_MEMBERS])


def increment_everywhere(nodes, items, sums, seed):
    """Each node increments every item by its own amounts, at once (a thread per node); the
    acknowledged amounts are added to ``sums``."""
    errors = []
    lock = threading.Lock()

    def run(idx, node):
        try:
            with node.client() as c:
                for j, (incr, _d, _g) in enumerate(items):
                    by = (seed * 7 + idx * 13 + j) % 11 - 3
                    r = c(*incr, str(by))
                    assert r[0] == b"ok", r
                    with lock:
                        sums[j] += by
        except Exception as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors


def delete_everywhere(nodes, items):
    """Item j is deleted on node j % len(nodes)."""
    for idx, node in enumerate(nodes):
        with node.client() as c:
            for j, (_i, delete, _g) in enumerate(items):
                if j % len(nodes) == idx:
                    assert c(*delete)[0] == b"ok"


def check_counters(nodes, items, sums):
    for node in nodes:
        with node.client() as c:
            for j, (_i, _d, get) in enumerate(items):
                r = c(*get)
                assert r == [b"ok", str(sums[j]).encode()], (node.name, get, r, sums[j])


@pytest.mark.timeout(90)
def test_deleted_counters_are_collected_and_later_increments_count_from_the_delete(server_factory):
    """Three masters increment 200 counters (kv keys, hash fields, zset members) at once.  While
    C is down, A and B delete them all: the deleted counters' records are counted as tombstones
    (with the TTL entries the key deletes leave) and held.  C comes back holding its totals,
    catches up, and the tombstones are collected.  Increments made after that on every node at
    once, and again right after a second delete (before its collection), count exactly: every
    counter holds the sum of the increments acknowledged after its last delete, on every node;
    the digests agree, and every tombstone is collected."""
    nodes = mesh(server_factory)
    a, b, c = nodes
    items = counter_items()
    before = [0] * len(items)
    increment_everywhere(nodes, items, before, seed=1)
    converge(nodes, timeout=20)
    check_counters(nodes, items, before)

    c.kill()
    t0 = time.monotonic()
    delete_everywhere([a, b], items)
    wait_for(lambda: acked_by(a, b) and acked_by(b, a), timeout=15, interval=0.1, what="A and B to ack each other")
    # a deleted counter record per item, and a TTL tombstone per deleted key, once a pass has
    # counted them (until then records written again since are counted once more)
    expect = len(items) + len(COUNTER_KEYS)
    wait_for(lambda: tombstones(a) == expect and tombstones(b) == expect, timeout=10, interval=0.2,
             what=f"A and B to count {expect} tombstones")
    time.sleep(2.0)  # two collection intervals: held, C has not acknowledged them
    assert tombstones(a) == expect and tombstones(b) == expect
    c.start()
    wait_convergent(nodes, links=2)
    converge(nodes, timeout=20)
    wait_for(lambda: all_acked(nodes), timeout=15, interval=0.2, what="every peer to acknowledge everything")
    wait_for(lambda: all(tombstones(n) == 0 for n in nodes), timeout=15, interval=0.2,
             what="every deleted counter collected")
    collected_s = time.monotonic() - t0

    after = [0] * len(items)
    increment_everywhere(nodes, items, after, seed=2)
    converge(nodes, timeout=20)
    check_counters(nodes, items, after)

    delete_everywhere(nodes, items)  # a second delete; increments follow before its collection
    converge(nodes, timeout=20)
    held = [tombstones(n) for n in nodes]
    again = [0] * len(items)
    increment_everywhere(nodes, items, again, seed=3)
    converge(nodes, timeout=20)
    check_counters(nodes, items, again)
    wait_for(lambda: all_acked(nodes), timeout=15, interval=0.2, what="every peer to acknowledge everything")
    wait_for(lambda: all(tombstones(n) == 0 for n in nodes), timeout=15, interval=0.2,
             what="every tombstone collected")
    converge(nodes, timeout=10)
    check_counters(nodes, items, again)
    assert len(digests(nodes)) == 1
    print(f"deleted counters: {len(items)}; tombstones {expect} held on A and B while C was down, "
          f"0 {collected_s:.1f}s after the deletes; held after the second delete {held}, 0 after")
