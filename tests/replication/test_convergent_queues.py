"""Queues on convergent mirror links (docs/replication.md, "Queues"): pushes from every master
kept once, in one order on every node; a pop removes its item everywhere and it never comes back."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.harness.proxy import FaultProxy
from tests.harness.replication import converge
from tests.replication.test_convergent import mirror, wait_convergent


class QueueWorker(threading.Thread):
    """Pushes unique items to the back (mostly) or front of one queue and pops some, one node."""

    def __init__(self, node, tag: str, seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.node, self.tag, self.stop_ev = node, tag.encode(), stop
        self.rnd = random.Random(seed)
        self.pushed: list[bytes] = []  # acknowledged pushes to the back, in order
        self.front: list[bytes] = []  # acknowledged pushes to the front
        self.popped: list[bytes] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.node.client() as c:
                n = 0
                while not self.stop_ev.is_set():
                    n += 1
                    r = self.rnd.random()
                    item = b"%s-%d" % (self.tag, n)
                    if r < 0.6:
                        assert c("qpush_back", "Q", item)[0] == b"ok"
                        self.pushed.append(item)
                    elif r < 0.7:
                        assert c("qpush_front", "Q", item)[0] == b"ok"
                        self.front.append(item)
                    else:
                        reply = c("qpop_front" if r < 0.95 else "qpop_back", "Q")
                        assert reply[0] in (b"ok", b"not_found"), reply
                        self.popped.extend(reply[1:])
                    time.sleep(self.rnd.random() * 0.004)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


@pytest.mark.timeout(90)
def test_three_masters_push_and_pop_one_queue_with_a_link_cut(server_factory):
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    c = server_factory("c", start=False)
    p_ab, p_ba = FaultProxy(b.port).start(), FaultProxy(a.port).start()
    try:
        a.write_config([mirror(b, "b", p_ab.port), mirror(c, "c")])
        b.write_config([mirror(a, "a", p_ba.port), mirror(c, "c")])
        c.write_config([mirror(a, "a"), mirror(b, "b")])
        nodes = [a, b, c]
        for n in nodes:
            n.start()
        wait_convergent(nodes, links=2)
        stop = threading.Event()
        workers = [QueueWorker(n, n.name, seed, stop) for seed, n in enumerate(nodes)]
        for w in workers:
            w.start()
        time.sleep(1.5)
        for p in (p_ab, p_ba):
            p.blackhole()
            p.cut()
            p.refuse()  # A and B cannot reach each other (both still reach C)
        time.sleep(1.5)
        p_ab.resume()
        p_ba.resume()
        time.sleep(1.0)
        stop.set()
        for w in workers:
            w.join(10)
            assert w.error is None, w.error
        assert all(len(w.pushed) > 50 and len(w.popped) > 10 for w in workers), \
            [(len(w.pushed), len(w.popped)) for w in workers]

        snap = converge(nodes, timeout=40)  # the same queue, in the same order, on every node
        queue = snap["queue"].get(b"Q", [])
        for n in nodes:
            with n.client() as cl:
                assert cl("qsize", "Q") == [b"ok", str(len(queue)).encode()]  # SSDB's dense encoding
        popped = [x for w in workers for x in w.popped]
        pushed = [x for w in workers for x in w.pushed + w.front]
        assert len(set(pushed)) == len(pushed)
        assert set(popped) <= set(pushed)  # nothing popped that was never pushed
        assert len(queue) == len(set(queue)), "an item is in the queue twice"
        assert not set(queue) & set(popped), "a popped item came back"
        assert set(queue) == set(pushed) - set(popped), "an acknowledged push is missing"
        # one node's pushes to the back keep their order (their stamps grow)
        for w in workers:
            mine = [x for x in queue if x in set(w.pushed)]
            assert mine == [x for x in w.pushed if x in set(mine)]
        wait_convergent(nodes, links=2)
    finally:
        p_ab.close()
        p_ba.close()


@pytest.mark.timeout(60)
def test_concurrent_pops_of_one_item_remove_it_once(server_factory):
    """Both masters pop the same front item while cut off from each other: both clients get it,
    and the queue loses only that item."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    p_ab, p_ba = FaultProxy(b.port).start(), FaultProxy(a.port).start()
    try:
        a.write_config([mirror(b, "b", p_ab.port)])
        b.write_config([mirror(a, "a", p_ba.port)])
        a.start()
        b.start()
        wait_convergent([a, b], links=1)
        with a.client() as ca, b.client() as cb:
            assert ca("qpush_back", "Q", "1", "2", "3")[0] == b"ok"
            converge([a, b], timeout=20)
            for p in (p_ab, p_ba):
                p.blackhole()
                p.cut()
                p.refuse()
            assert ca("qpop_front", "Q") == [b"ok", b"1"]
            assert cb("qpop_front", "Q") == [b"ok", b"1"]
            assert cb("qset", "Q", "0", "2b")[0] == b"ok"
            assert ca("qpush_front", "Q", "0")[0] == b"ok"
            p_ab.resume()
            p_ba.resume()
            snap = converge([a, b], timeout=20)
            assert snap["queue"][b"Q"] == [b"0", b"2b", b"3"]
    finally:
        p_ab.close()
        p_ba.close()


@pytest.mark.timeout(60)
def test_versioned_queues_open_in_ssdb_with_the_same_items(server_factory, reference_factory):
    """Queue ids, tombstones and side records, and counter markers (all under 0x03) are
    invisible to SSDB 1.9.8; the queue is SSDB's dense encoding."""
    import shutil

    from tests.harness.compare import snapshot

    unused = server_factory("unused", start=False)
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    a.write_config([mirror(b, "b"), mirror(unused, "peer")])
    b.write_config([mirror(a, "a")])
    a.start()
    b.start()
    with a.client() as ca, b.client() as cb:
        for req in (("qpush_back", "q", "1", "2", "3"), ("qpop_front", "q"), ("qset", "q", "0", "2x"),
                    ("qpush_front", "q", "0"), ("qpush", "gone", "x"), ("qpop", "gone"), ("incr", "n", "5"),
                    ("hincr", "h", "f", "2")):
            assert ca(*req)[0] == b"ok", req
        converge([a, b], timeout=20)
        assert cb("qpush_back", "q", "from-b")[0] == b"ok"
        before = converge([a, b], timeout=20)
        assert before["queue"] == {b"q": [b"0", b"2x", b"3", b"from-b"]}
    a.stop()
    ref = reference_factory("ref", start=False)
    shutil.rmtree(ref.work_dir)
    shutil.copytree(a.work_dir, ref.work_dir)
    ref.start()
    with ref.client() as c:
        assert snapshot(c) == before
        assert c("qsize", "q") == [b"ok", b"4"] and c("qsize", "gone") == [b"ok", b"0"]
        assert c("qlist", "", "", "100") == [b"ok", b"q"]
        assert c("qget", "q", "3") == [b"ok", b"from-b"] and c("qback", "q") == [b"ok", b"from-b"]
        assert c("get", "n") == [b"ok", b"5"] and c("hget", "h", "f") == [b"ok", b"2"]
        assert c("keys", "", "", "100") == [b"ok", b"n"] and c("hlist", "", "", "100") == [b"ok", b"h"]
