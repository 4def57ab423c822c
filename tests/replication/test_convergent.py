"""Convergent mirrors (docs/replication.md, "Convergent mirrors"): ssdbpy masters that are
mirror slaves of each other negotiate versioned state shipping and end identical, every item
holding its highest-stamped write, whatever the order, concurrency, clock skew or partitions."""

from __future__ import annotations

import random
import shutil
import threading
import time

import pytest

from tests.harness.compare import snapshot
from tests.harness.proxy import FaultProxy
from tests.harness.replication import converge, slave_links
from tests.harness.server import wait_for

SKEW_MS = 5 * 60_000  # one node's clock runs five minutes ahead


def clock(c) -> int:
    r = c("ssdbpy_clock")
    assert r[0] == b"ok", r
    return int(r[2])


def mirror(to, id_: str, port: int | None = None) -> dict:
    return {"id": id_, "type": "mirror", "ip": "127.0.0.1", "port": port or to.port}


def wait_convergent(nodes, links: int, timeout: float = 30.0) -> None:
    def ok():
        for n in nodes:
            with n.client() as c:
                ls = slave_links(c)
                if len(ls) != links or any(x.get("status") != "SYNC" or x.get("mode") != "convergent" for x in ls):
                    return False
        return True
    wait_for(ok, timeout=timeout, interval=0.1, what="every mirror link convergent and in SYNC")


# --- the model: each acknowledged write with the interval its stamp lies in ------------------
class Model:
    """Per item, every acknowledged write as ``(lo, hi, value)``: the node's clock before and
    after the command, so ``lo < stamp <= hi``.  The item must end with the value of a write
    that no other write is known to follow (``lo' >= hi``): exactly that write's value when
    only one qualifies."""

    def __init__(self) -> None:
        self.writes: dict[tuple, list[tuple[int, int, bytes | None]]] = {}
        self.lock = threading.Lock()

    def add(self, item: tuple, lo: int, hi: int, value: bytes | None) -> None:
        with self.lock:
            self.writes.setdefault(item, []).append((lo, hi, value))

    def candidates(self, item: tuple) -> set:
        ws = self.writes[item]
        return {v for lo, hi, v in ws if not any(lo2 >= hi for lo2, _hi2, _v2 in ws)}


def read_item(c, item: tuple) -> bytes | None:
    kind = item[0]
    if kind == "kv":
        r = c("get", item[1])
    elif kind == "h":
        r = c("hget", item[1], item[2])
    else:
        r = c("zget", item[1], item[2])
    return r[1] if r[0] == b"ok" else None


class Writer(threading.Thread):
    """Random set/del/hset/hdel/zset/zdel/multi_* on a small shared key space, one node."""

    KEYS = [b"k%d" % i for i in range(12)]
    FIELDS = [b"f%d" % i for i in range(8)]

    def __init__(self, node, tag: str, model: Model, seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.node, self.tag, self.model, self.stop_ev = node, tag, model, stop
        self.rnd = random.Random(seed)
        self.n = 0
        self.error: BaseException | None = None

    def value(self) -> bytes:
        return b"%s-%d" % (self.tag.encode(), self.n)

    def op(self, c) -> list[tuple[tuple, bytes | None]]:
        r = self.rnd
        kind = r.choice(["set", "del", "hset", "hdel", "zset", "zdel", "multi_set", "multi_del",
                         "multi_hset", "multi_hdel", "multi_zset", "multi_zdel"])
        if kind in ("set", "del", "multi_set", "multi_del"):
            ks = r.sample(self.KEYS, 1 if not kind.startswith("multi") else r.randint(2, 4))
            if kind.endswith("set"):
                vals = [self.value() + b".%d" % i for i in range(len(ks))]
                if kind == "set":
                    assert c("set", ks[0], vals[0])[0] == b"ok"
                else:
                    assert c("multi_set", *[x for kv in zip(ks, vals) for x in kv])[0] == b"ok"
                return [(("kv", k), v) for k, v in zip(ks, vals)]
            assert c(kind, *ks)[0] == b"ok"
            return [(("kv", k), None) for k in ks]
        name = b"H" if kind in ("hset", "hdel", "multi_hset", "multi_hdel") else b"Z"
        name += b"%d" % r.randint(0, 1)
        fs = r.sample(self.FIELDS, 1 if not kind.startswith("multi") else r.randint(2, 4))
        t = "h" if name.startswith(b"H") else "z"
        if kind.endswith("set"):
            if t == "h":
                vals = [self.value() + b".%d" % i for i in range(len(fs))]
            else:
                vals = [b"%d" % r.randint(-50, 50) for _ in fs]
            assert c(kind, name, *[x for fv in zip(fs, vals) for x in fv])[0] == b"ok"
            return [((t, name, f), v) for f, v in zip(fs, vals)]
        assert c(kind, name, *fs)[0] == b"ok"
        return [((t, name, f), None) for f in fs]

    def run(self) -> None:
        try:
            with self.node.client() as c:
                lo = clock(c)
                while not self.stop_ev.is_set():
                    self.n += 1
                    items = self.op(c)
                    hi = clock(c)
                    for item, v in items:
                        self.model.add(item, lo, hi, v)
                    lo = hi
                    time.sleep(self.rnd.random() * 0.004)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def snapshot_items(snap: dict) -> int:
    """Keys, hash fields, zset members and queue items in a snapshot (harness.compare)."""
    return sum(len(v) if isinstance(v, list) else 1 for part in snap.values() for v in part.values())


def check_model(nodes, model: Model) -> tuple[int, int]:
    """Every item on every node holds a permitted value; (items checked, items fully determined)."""
    exact = 0
    bad = []
    with nodes[0].client() as c:
        for item in model.writes:
            got = read_item(c, item)
            cands = model.candidates(item)
            exact += len(cands) == 1
            if got not in cands:
                bad.append((item, got, cands))
    assert not bad, bad[:10]
    return len(model.writes), exact


def load_through_a_partition(nodes, partition, heal, min_writes: int, timeout: float, label: str) -> None:
    """A Writer on every node; ``partition()`` after 1.5 s of writes, ``heal()`` 1.5 s later, the
    writes stop 1 s after that; then every node converges and every item holds a permitted value
    of the model.  Prints the figures under ``label``."""
    model, stop = Model(), threading.Event()
    writers = [Writer(n, n.name, model, seed, stop) for seed, n in enumerate(nodes)]
    for w in writers:
        w.start()
    time.sleep(1.5)
    partition()
    time.sleep(1.5)
    heal()
    healed = time.monotonic()
    time.sleep(1.0)
    stop.set()
    for w in writers:
        w.join(10)
        assert w.error is None, w.error
    stopped = time.monotonic()
    assert all(w.n > min_writes for w in writers), [w.n for w in writers]

    snap = converge(nodes, timeout=timeout)
    done = time.monotonic()
    checked, exact = check_model(nodes, model)
    assert checked >= 30 and exact > 0, (checked, exact)
    print(f"\n{label}: writes {[w.n for w in writers]}; {snapshot_items(snap)} items compared on {len(nodes)} "
          f"nodes, 0 differ; converged {done - healed:.2f} s after the heal ({done - stopped:.2f} s after the "
          f"writes stopped); model: {checked} items checked, {exact} with one permitted value")


@pytest.mark.timeout(120)
def test_three_masters_converge_under_skew_and_partition(server_factory, monkeypatch):
    """Three masters, each a mirror slave of the other two; C's clock runs 5 min ahead; the
    A<->B links go through fault proxies and are partitioned for a while during the writes."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    c = server_factory("c", start=False)
    p_ab, p_ba = FaultProxy(b.port).start(), FaultProxy(a.port).start()  # a->b and b->a links
    try:
        a.write_config([mirror(b, "b", p_ab.port), mirror(c, "c")])
        b.write_config([mirror(a, "a", p_ba.port), mirror(c, "c")])
        c.write_config([mirror(a, "a"), mirror(b, "b")])
        a.start()
        b.start()
        monkeypatch.setenv("SSDBPY_CLOCK_OFFSET_MS", str(SKEW_MS))
        c.start()
        monkeypatch.delenv("SSDBPY_CLOCK_OFFSET_MS")
        nodes = [a, b, c]
        wait_convergent(nodes, links=2)
        with a.client() as ca, c.client() as cc:
            assert clock(cc) - clock(ca) > (SKEW_MS // 2) << 16  # the skew is real

        def partition() -> None:  # A and B cannot reach each other (both still reach C)
            for p in (p_ab, p_ba):
                p.blackhole()
            for p in (p_ab, p_ba):
                p.cut()
            for p in (p_ab, p_ba):
                p.refuse()

        def heal() -> None:
            p_ab.resume()
            p_ba.resume()

        load_through_a_partition(nodes, partition, heal, min_writes=50, timeout=40, label="3 masters")
        wait_convergent(nodes, links=2)
    finally:
        p_ab.close()
        p_ba.close()


@pytest.mark.timeout(90)
def test_ring_forwards_and_heals_by_merge(server_factory):
    """A ring (A follows C, B follows A, C follows B): every write reaches every node only by
    forwarding; a node restarted empty-handed (its link position lost) merges, nothing deleted
    comes back."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    c = server_factory("c", start=False)
    a.write_config([mirror(c, "c")])
    b.write_config([mirror(a, "a")])
    c.write_config([mirror(b, "b")])
    for n in (a, b, c):
        n.start()
    nodes = [a, b, c]
    wait_convergent(nodes, links=1)
    with a.client() as ca, b.client() as cb, c.client() as cc:
        assert ca("set", "x", "from-a")[0] == b"ok"
        assert cc("hset", "h", "f", "from-c")[0] == b"ok"
        assert cb("zset", "z", "m", "5")[0] == b"ok"
        snap = converge(nodes, timeout=20)
        assert snap["kv"] == {b"x": b"from-a"} and snap["hash"] == {b"h": [(b"f", b"from-c")]}
        # each write made after the previous one arrived wins on every node
        for client, req in ((ca, ("set", "x", "a2")), (cb, ("set", "x", "b2")), (cc, ("del", "x")),
                            (ca, ("hset", "h", "f", "a3")), (cb, ("hdel", "h", "f"))):
            assert client(*req)[0] == b"ok"
            converge(nodes, timeout=20)
    snap = converge(nodes, timeout=20)
    assert b"x" not in snap["kv"] and snap["hash"] == {}
    # B's position falls out of A's binlog window: A sends a full copy, which B merges
    b.stop()
    with a.client() as ca:
        assert ca("set", "later", "1")[0] == b"ok"
        assert ca("clear_binlog")[0] == b"ok"
    b.start()
    snap = converge(nodes, timeout=20)
    assert b"x" not in snap["kv"] and snap["kv"][b"later"] == b"1" and snap["hash"] == {}
    with b.client() as cb:
        wait_for(lambda: int(slave_links(cb)[0]["copy_count"]) > 0, timeout=10, what="B to copy from A")


@pytest.mark.timeout(60)
def test_ssdb_mirror_peer_keeps_plain_sync140(server_factory, reference_factory):
    """A real SSDB 1.9.8 mirror peer: the offer is refused, the link stays plain sync140 and
    the pair still mirrors both ways (versioning stays internal to the ssdbpy node)."""
    ref = reference_factory("ref", start=False)
    node = server_factory("node", start=False)
    ref.write_config([mirror(node, "node")])
    node.write_config([mirror(ref, "ref")])
    ref.start()
    node.start()
    with node.client() as cn, ref.client() as cr:
        wait_for(lambda: slave_links(cn)[0].get("status") == "SYNC", timeout=20, what="node's link to SSDB")
        assert "mode" not in slave_links(cn)[0]
        assert cn("set", "a", "1")[0] == b"ok"
        assert cr("hset", "h", "f", "2")[0] == b"ok"
        assert cn("del", "a")[0] == b"ok"
        assert cr("set", "b", "3")[0] == b"ok"
    snap = converge([node, ref], timeout=20)
    assert snap["kv"] == {b"b": b"3"} and snap["hash"] == {b"h": [(b"f", b"2")]}


@pytest.mark.timeout(60)
def test_versioned_data_dir_opens_in_ssdb_with_the_same_user_data(server_factory, reference_factory):
    """A data directory written with versions and tombstones (records under 0x03) is read by
    SSDB 1.9.8 as the same user data: scans, lists and sizes do not see the version records."""
    unused = server_factory("unused", start=False)  # a mirror block makes the node version its writes
    node = server_factory("node", start=False)
    node.write_config([mirror(unused, "peer")])
    node.start()
    with node.client() as c:
        assert c("ssdbpy_clock")[0] == b"ok"
        for req in (("set", "a", "1"), ("set", "gone", "x"), ("del", "gone"), ("del", "never"),
                    ("hset", "h", "f", "v"), ("hset", "h", "g", "w"), ("hdel", "h", "g"), ("hdel", "h2", "x"),
                    ("zset", "z", "m", "5"), ("zset", "z2", "n", "1"), ("zdel", "z2", "n"),
                    ("qpush", "q", "i1", "i2"), ("setx", "t", "v", "1000")):
            assert c(*req)[0] == b"ok", req
        before = snapshot(c)
    node.stop()
    ref = reference_factory("ref", start=False)
    shutil.rmtree(ref.work_dir)
    shutil.copytree(node.work_dir, ref.work_dir)
    ref.start()
    with ref.client() as c:
        assert snapshot(c) == before
        assert c("hsize", "h") == [b"ok", b"1"] and c("zsize", "z") == [b"ok", b"1"]
        assert c("hsize", "h2") == [b"ok", b"0"] and c("zsize", "z2") == [b"ok", b"0"]
        assert c("keys", "", "", "100") == [b"ok", b"a", b"t"]
        assert c("exists", "gone") == [b"ok", b"0"]


@pytest.mark.timeout(90)
def test_concurrent_increments_on_three_masters_add_up(server_factory):
    """incr/decr/hincr/zincr on the same items on three masters at once, one link cut midway:
    no increment is lost."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    c = server_factory("c", start=False)
    proxy = FaultProxy(b.port).start()  # a's link to b
    try:
        a.write_config([mirror(b, "b", proxy.port), mirror(c, "c")])
        b.write_config([mirror(a, "a"), mirror(c, "c")])
        c.write_config([mirror(a, "a"), mirror(b, "b")])
        nodes = [a, b, c]
        for n in nodes:
            n.start()
        wait_convergent(nodes, links=2)
        sums = {"incr": 0, "hincr": 0, "zincr": 0}
        lock = threading.Lock()
        errors: list[BaseException] = []

        def run(node, seed: int) -> None:
            rnd = random.Random(seed)
            try:
                with node.client() as cl:
                    for i in range(300):
                        by = rnd.randint(-3, 9)
                        cmd = rnd.choice(["incr", "decr", "hincr", "zincr"])
                        if cmd in ("incr", "decr"):
                            assert cl(cmd, "n", str(by))[0] == b"ok"
                            key, by = "incr", by if cmd == "incr" else -by
                        elif cmd == "hincr":
                            assert cl("hincr", "h", "n", str(by))[0] == b"ok"
                            key = "hincr"
                        else:
                            assert cl("zincr", "z", "n", str(by))[0] == b"ok"
                            key = "zincr"
                        with lock:
                            sums[key] += by
                        if i == 150 and seed == 0:
                            proxy.cut()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n, i)) for i, n in enumerate(nodes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        snap = converge(nodes, timeout=30)
        print(f"\nacknowledged sums {sums}; on every node: incr {snap['kv'].get(b'n')!r}, "
              f"hincr {snap['hash'].get(b'h')!r}, zincr {snap['zset'].get(b'z')!r}")
        assert snap["kv"][b"n"] == str(sums["incr"]).encode()
        assert snap["hash"][b"h"] == [(b"n", str(sums["hincr"]).encode())]
        assert snap["zset"][b"z"] == [(b"n", str(sums["zincr"]).encode())]
    finally:
        proxy.close()


@pytest.mark.timeout(90)
def test_two_masters_mset_the_same_keys_at_once(server_factory):
    """Two masters run multi_set on the same 2,000 keys at the same moment, three rounds:
    every key ends the same on both (with one of the values written in the last round)."""
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    a.write_config([mirror(b, "b")])
    b.write_config([mirror(a, "a")])
    a.start()
    b.start()
    wait_convergent([a, b], links=1)
    names = [b"m%04d" % i for i in range(2000)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(node, tag: bytes) -> None:
        try:
            with node.client() as c:
                for r in range(3):
                    args = [x for k in names for x in (k, b"%s-%d-%s" % (tag, r, k))]
                    barrier.wait(10)
                    assert c("multi_set", *args)[0] == b"ok"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, n.name.encode())) for n in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    snap = converge([a, b], timeout=30)
    print(f"\n{len(snap['kv'])} keys compared on 2 nodes, 0 differ")
    assert sorted(snap["kv"]) == names
    assert all(v in (b"a-2-" + k, b"b-2-" + k) for k, v in snap["kv"].items())


@pytest.mark.timeout(60)
def test_ssdb_data_dir_opens_in_a_convergent_node_and_reaches_its_peer(server_factory):
    """A data directory written by SSDB 1.9.8 (no version records) opened by an ssdbpy master
    of a convergent pair: its items (version (0, 0)) are copied to the empty peer, and the
    pair keeps converging on later writes of those items."""
    from tests.harness.server import DATA

    fixture = DATA / "fixtures" / "ssdb-1.9.8-data"
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    shutil.rmtree(a.work_dir)
    shutil.copytree(fixture, a.work_dir, ignore=shutil.ignore_patterns("manifest.json"))
    a.write_config([mirror(b, "b")])
    b.write_config([mirror(a, "a")])
    a.start()
    with a.client() as c:
        before = snapshot(c)
    assert before["kv"] and before["hash"] and before["zset"]
    b.start()
    wait_convergent([a, b], links=1)
    snap = converge([a, b], timeout=20)
    assert snap["kv"] == before["kv"] and snap["hash"] == before["hash"]
    key = sorted(before["kv"])[0]
    with a.client() as ca, b.client() as cb:
        assert cb("set", key, "from-b")[0] == b"ok"
        wait_for(lambda: ca("get", key) == [b"ok", b"from-b"], timeout=10, what="b's write on a")
        assert ca("del", key)[0] == b"ok"
    snap = converge([a, b], timeout=20)
    assert key not in snap["kv"]
