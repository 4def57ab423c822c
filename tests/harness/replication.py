"""Helpers for replication tests between real ssdbpy processes.

* ``slave_links`` / ``binlog_window``: the ``info`` replication and binlogs
  blocks, parsed.
* ``load_dataset``: many keys of every type, quickly (multi-key pipelined
  writes), so a copy phase lasts long enough to be interrupted.
* ``AckWriter``: a thread writing to one node until stopped, remembering which
  writes were acknowledged (a reply was read), surviving the node's death and
  restart.  ``check_acked`` then proves none of them was lost on a node.
* ``converge``: wait until every node holds exactly the same keys of every
  type (TTL index included), then check every writer's acknowledged writes on
  every node.
"""

from __future__ import annotations

import random
import threading
import time

from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import wait_for

#: the TTL used for "long" expirations: never reached during a test
LONG_TTL = 100000


# --- info ---------------------------------------------------------------------------
def _blocks(info: list[bytes], name: bytes) -> list[str]:
    return [info[i + 1].decode() for i, b in enumerate(info[:-1]) if b == name]


def _fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines()[1:]:
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def slave_links(c) -> list[dict[str, str]]:
    """The node's ``slaveof`` blocks: dicts with id, type, status, last_seq, copy_count, sync_count."""
    return [_fields(b) for b in _blocks(c("info"), b"replication") if b.startswith("slaveof")]


def slave_link(c) -> dict[str, str]:
    links = slave_links(c)
    assert len(links) == 1, links
    return links[0]


def master_sessions(c) -> list[dict[str, str]]:
    """The node's ``client`` blocks (one per connected slave): type, status, last_seq."""
    return [_fields(b) for b in _blocks(c("info"), b"replication") if b.startswith("client")]


def binlog_window(c) -> tuple[int, int]:
    """(min_seq, max_seq) from the node's ``binlogs`` info block."""
    f = _fields("binlogs\n" + _blocks(c("info"), b"binlogs")[0])
    return int(f["min_seq"]), int(f["max_seq"])


def wait_link(c, status: str, min_copied: int = 0, timeout: float = 30.0, interval: float = 0.005) -> dict:
    """Wait until the node's only slave link has ``status`` (and ``copy_count >= min_copied``)."""
    def ok():
        link = slave_link(c)
        return link if link["status"] == status and int(link["copy_count"]) >= min_copied else None

    return wait_for(ok, timeout=timeout, interval=interval, what=f"slave link {status} (copied >= {min_copied})")


# --- data -----------------------------------------------------------------------------
def _reply_ok(reply: list[bytes]) -> bool:
    return bool(reply) and reply[0] == b"ok"


def load_dataset(c, n: int, prefix: str = "d", seed: int = 7) -> None:
    """About ``n`` items: half kv (some with a long TTL), the rest hash fields, zset members, queue items.

    Every name starts with ``~`` and hash/zset/queue names are 40+ bytes long, so
    within each type's range (the copy order) the dataset sorts after the short
    names the writers use: an interrupted copy has then already passed every
    writer key of the types it finished, and a resumed copy must catch up on them.
    """
    rnd = random.Random(seed)
    reqs: list[tuple] = []
    n_kv, n_h, n_z = n // 2, n // 5, n // 5
    n_q = n - n_kv - n_h - n_z
    pad = "." * 32

    def name(kind: str, i: int) -> str:
        return f"~{prefix}:{kind}:{i:02d}:{pad}"

    for s in range(0, n_kv, 200):
        pairs = []
        for i in range(s, min(s + 200, n_kv)):
            pairs += [f"~{prefix}:k:{i:07d}", f"v{rnd.randrange(1 << 30)}-{i}"]
        reqs.append(("multi_set", *pairs))
    for i in range(0, n_kv, 97):
        reqs.append(("setx", f"~{prefix}:t:{i:07d}", f"tv{i}", LONG_TTL))
    for s in range(0, n_h, 200):
        kv = []
        for i in range(s, min(s + 200, n_h)):
            kv += [f"f{i:07d}", f"hv{i}"]
        reqs.append(("multi_hset", name("h", s // 200 % 16), *kv))
    for s in range(0, n_z, 200):
        kv = []
        for i in range(s, min(s + 200, n_z)):
            kv += [f"m{i:07d}", rnd.randrange(-10**9, 10**9)]
        reqs.append(("multi_zset", name("z", s // 200 % 16), *kv))
    for s in range(0, n_q, 200):
        items = [f"qi{i:07d}" for i in range(s, min(s + 200, n_q))]
        reqs.append(("qpush_back", name("q", s // 200 % 8), *items))
    for s in range(0, len(reqs), 50):
        chunk = reqs[s : s + 50]
        c.send_many(chunk)
        for r in chunk:
            reply = c.read()
            assert _reply_ok(reply), (r[:2], reply)


def copy_layout(n: int) -> dict[str, tuple[int, int]]:
    """Where each type's records of ``load_dataset(n)`` fall in the copy (copy_count ranges, approx.)."""
    n_kv, n_h, n_z = n // 2, n // 5, n // 5
    n_q = n - n_kv - n_h - n_z
    n_t = len(range(0, n_kv, 97))
    h_end = n_h
    k_end = h_end + n_kv + n_t
    q_end = k_end + n_q + 2 * 8  # items + front/back pointers
    return {"hash": (0, h_end), "kv": (h_end, k_end), "queue": (k_end, q_end), "zset": (q_end, q_end + n_z + n_t)}


def mixed_ops(rnd: random.Random, prefix: str, n: int, short_ttl: bool = True, queues: bool = True) -> list[tuple]:
    """``n`` writes of every record type on a small key space (updates, deletes, pops, TTLs);
    ``queues=False`` makes the queue writes kv writes."""
    reqs: list[tuple] = []
    for _ in range(n):
        k = f"{prefix}{rnd.randrange(100)}"
        op = rnd.randrange(13)
        if not queues and 7 <= op <= 9:
            op = 0
        v = f"v{rnd.randrange(1 << 20)}"
        if op == 0:
            reqs.append(("set", "k" + k, v))
        elif op == 1:
            reqs.append(("del", "k" + k))
        elif op == 2:
            reqs.append(("incr", "n" + k, rnd.randrange(10)))
        elif op == 3:
            reqs.append(("hset", "h" + k[:-1], "f" + k, v))
        elif op == 4:
            reqs.append(("hdel", "h" + k[:-1], "f" + k))
        elif op == 5:
            reqs.append(("zset", "z" + k[:-1], "m" + k, rnd.randrange(-1000, 1000)))
        elif op == 6:
            reqs.append(("zdel", "z" + k[:-1], "m" + k))
        elif op == 7:
            reqs.append(("qpush_back", "q" + k[:-1], v))
        elif op == 8:
            reqs.append(("qpush_front", "q" + k[:-1], v))
        elif op == 9:
            reqs.append(("qpop_front", "q" + k[:-1]))
        elif op == 10:
            ttl = rnd.choice([1, LONG_TTL]) if short_ttl else LONG_TTL
            reqs.append(("setx", "t" + k, v, ttl))
        elif op == 11:
            reqs.append(("multi_set", "m" + k, v, "m2" + k, v))
        else:
            reqs.append(("expire", "k" + k, LONG_TTL))
    return reqs


class AckWriter(threading.Thread):
    """Writes to the server on ``port`` until ``stop()``, recording acknowledged writes.

    Every step sends, pipelined, ``batch`` numbered writes -- ``set``, ``hset``,
    ``zset`` and ``qpush_back`` of item ``i`` under keys unique to ``tag`` --
    plus ``mixed`` random writes of every type on a separate key space.  An
    item counts as acknowledged once its four replies were read.  If the node
    dies the writer reconnects until it is back; numbers are never reused, so a
    write whose reply was lost is simply unknown.  ``queues=False``: no queue
    writes at all (no ``qpush_back``, and mixed queue writes become kv writes).
    """

    def __init__(self, port: int, tag: str, *, batch: int = 10, mixed: int = 10, pause: float = 0.01,
                 short_ttl: bool = True, seed: int = 1, queues: bool = True) -> None:
        super().__init__(daemon=True, name=f"writer-{tag}")
        self.port = port
        self.tag = tag
        self.batch = batch
        self.mixed = mixed
        self.pause = pause
        self.short_ttl = short_ttl
        self.queues = queues
        self.rnd = random.Random(seed)
        self.acked: list[int] = []  # item numbers, ascending
        self.next_item = 0
        self.failures = 0  # batches cut short by a dead link
        self.steps = 0
        self.error: BaseException | None = None
        self._stop_evt = threading.Event()
        self._lock = threading.Lock()

    # key names
    def kv(self, i: int) -> bytes:
        return f"ack:{self.tag}:{i:08d}".encode()

    @property
    def hname(self) -> bytes:
        return f"ackh:{self.tag}".encode()

    @property
    def zname(self) -> bytes:
        return f"ackz:{self.tag}".encode()

    @property
    def qname(self) -> bytes:
        return f"ackq:{self.tag}".encode()

    @staticmethod
    def value(i: int) -> bytes:
        return f"val{i}".encode()

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_progress(self, n: int, timeout: float = 20.0) -> None:
        """Wait until ``n`` more items were acknowledged than when called."""
        start = self.acked_count()
        wait_for(lambda: self.acked_count() - start >= n or self.error, timeout=timeout,
                 what=f"{n} writes by {self.tag}")
        if self.error:
            raise self.error

    def halt(self) -> None:
        """Stop without checking anything (test teardown)."""
        self._stop_evt.set()
        self.join(5)

    def stop(self) -> None:
        self._stop_evt.set()
        self.join(15)
        assert not self.is_alive(), f"writer {self.tag} did not stop"
        if self.error:
            raise self.error

    def run(self) -> None:
        from ssdbpy.client import Client

        c = None
        try:
            while not self._stop_evt.is_set():
                if c is None:
                    try:
                        c = Client("127.0.0.1", self.port, timeout=5)
                    except OSError:
                        time.sleep(0.05)
                        continue
                first = self.next_item
                self.next_item += self.batch
                reqs: list[tuple] = []
                for i in range(first, first + self.batch):
                    v = self.value(i)
                    reqs += [("set", self.kv(i), v), ("hset", self.hname, f"f{i:08d}", v),
                             ("zset", self.zname, f"m{i:08d}", i)]
                    if self.queues:
                        reqs.append(("qpush_back", self.qname, v))
                per_item = 4 if self.queues else 3
                reqs += mixed_ops(self.rnd, f"mx:{self.tag}:", self.mixed, self.short_ttl, self.queues)
                try:
                    c.send_many(reqs)
                    for j in range(self.batch):
                        replies = [c.read() for _ in range(per_item)]
                        assert all(_reply_ok(r) for r in replies), replies
                        with self._lock:
                            self.acked.append(first + j)
                    for r in reqs[per_item * self.batch :]:
                        reply = c.read()
                        assert reply[0] in (b"ok", b"not_found"), (r, reply)
                except (OSError, ConnectionError):
                    self.failures += 1
                    c.close()
                    c = None
                    continue
                self.steps += 1
                if self.pause:
                    self._stop_evt.wait(self.pause)
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc
        finally:
            if c is not None:
                c.close()

    def check(self, snap: dict, node: str) -> None:
        """Every acknowledged item is in ``snap`` (a compare.snapshot); the queue has no duplicates."""
        acked = list(self.acked)
        kv, h = snap["kv"], dict(snap["hash"].get(self.hname, []))
        z = dict(snap["zset"].get(self.zname, []))
        q = snap["queue"].get(self.qname, [])
        missing = [i for i in acked if kv.get(self.kv(i)) != self.value(i)]
        missing += [i for i in acked if h.get(f"f{i:08d}".encode()) != self.value(i)]
        missing += [i for i in acked if z.get(f"m{i:08d}".encode()) != str(i).encode()]
        qset = set(q)
        if self.queues:
            missing += [i for i in acked if self.value(i) not in qset]
        assert not missing, (f"{node}: {len(missing)} acknowledged writes of {self.tag} lost,"
                             f" e.g. {sorted(set(missing))[:10]}")
        assert len(qset) == len(q), f"{node}: queue {self.qname!r} has duplicated items ({len(q) - len(qset)})"
        nums = [int(x[3:]) for x in q]
        assert nums == sorted(nums), f"{node}: queue {self.qname!r} out of order"


def converge(nodes, writers=(), timeout: float = 60.0) -> dict:
    """Wait until every node has exactly the same data; check the writers' acked items on each.

    Returns the common snapshot.  On timeout the error lists, for every node
    that differs from the first, the first differences.
    """
    clients = [n.client(timeout=30) for n in nodes]
    state: dict = {}

    def same():
        snaps = [snapshot(c) for c in clients]
        state["snaps"] = snaps
        return all(s == snaps[0] for s in snaps[1:])

    try:
        wait_for(same, timeout=timeout, interval=0.2, what="nodes to converge")
    except AssertionError:
        snaps = state.get("snaps") or []
        detail = "\n".join(
            f"{nodes[0].name} vs {n.name}:\n{describe_difference(snaps[0], s)}"
            for n, s in zip(nodes[1:], snaps[1:]) if s != snaps[0]
        )
        raise AssertionError(f"nodes did not converge in {timeout}s:\n{detail}") from None
    finally:
        for c in clients:
            c.close()
    snaps = state["snaps"]
    for w in writers:
        for n, s in zip(nodes, snaps):
            w.check(s, n.name)
    return snaps[0]


# --- every write command ------------------------------------------------------------
#: the TTL of the keys that must expire during a test (on every node)
SHORT_TTL = 1


def _ok_all(c, reqs: list[tuple]) -> None:
    c.send_many(reqs)
    for r in reqs:
        reply = c.read()
        assert reply and reply[0] in (b"ok", b"not_found"), (r, reply)


def every_command(p: str, short_ttl: bool = True) -> list[tuple]:
    """Requests of every SSDB write command on new keys under prefix ``p``.

    kv, hash, zset and queue writes of every kind (pushes at both ends and pops
    with counts included), long TTLs and, with ``short_ttl``, one key with a
    SHORT_TTL (``<p>:kshort``) that expires on every node.  The ``qset``
    requests only touch queues made by these requests: an SSDB slave renumbers
    the items of a queue it receives in a full copy from 0x3FFFFFFFFFFFFFFF, so
    a ``qset`` sent after that copy reaches the wrong item unless the queue
    started there (see docs/replication.md).  ``<p>:q5`` does (only pushed at
    the back, popped at the back): ``touch_keys`` sets its items.
    """
    k, h, z, q = f"{p}:k", f"{p}:h", f"{p}:z", f"{p}:q"
    reqs: list[tuple] = [
        # kv
        ("set", f"{k}1", "v1"), ("set", f"{k}2", "v2"), ("set", f"{k}1", "v1b"),
        ("setx", f"{k}ttl", "long", LONG_TTL), ("setnx", f"{k}nx", "first"), ("setnx", f"{k}nx", "second"),
        ("getset", f"{k}gs", "g1"), ("getset", f"{k}gs", "g2"), ("del", f"{k}2"), ("del", f"{k}missing"),
        ("incr", f"{k}n", 5), ("incr", f"{k}n", -2), ("decr", f"{k}n", 10), ("decr", f"{k}d", 1),
        ("setbit", f"{k}bits", 3, 1), ("setbit", f"{k}bits", 17, 1), ("setbit", f"{k}bits", 3, 0),
        ("set", f"{k}exp", "e"), ("expire", f"{k}exp", LONG_TTL), ("expire", f"{k}missing", LONG_TTL),
        ("set", f"{k}undone", "u"), ("expire", f"{k}undone", LONG_TTL), ("set", f"{k}undone", "u2"),
        ("setx", f"{k}gone", "g", LONG_TTL), ("del", f"{k}gone"),
        ("multi_set", f"{k}m1", "a", f"{k}m2", "b", f"{k}m3", "c"), ("multi_del", f"{k}m2", f"{k}missing"),
        ("setx", f"{k}short", "short", SHORT_TTL if short_ttl else LONG_TTL),
        # hash
        ("hset", f"{h}1", "f1", "a"), ("hset", f"{h}1", "f2", "b"), ("hset", f"{h}1", "f1", "a2"),
        ("hdel", f"{h}1", "f2"), ("hincr", f"{h}1", "n", 7), ("hincr", f"{h}1", "n", -3),
        ("multi_hset", f"{h}2", "x", "1", "y", "2", "z", "3"), ("multi_hdel", f"{h}2", "y", "nope"),
        ("multi_hset", f"{h}3", "a", "1", "b", "2"), ("hclear", f"{h}3"),
        # zset
        ("zset", f"{z}1", "a", 10), ("zset", f"{z}1", "b", -5), ("zset", f"{z}1", "c", 7), ("zset", f"{z}1", "a", 11),
        ("zdel", f"{z}1", "c"), ("zincr", f"{z}1", "b", 3), ("zincr", f"{z}1", "new", 2),
        ("multi_zset", f"{z}2", *[x for i in range(12) for x in (f"m{i:02d}", i * 3 - 10)]),
        ("multi_zdel", f"{z}2", "m03", "none"), ("zremrangebyrank", f"{z}2", 0, 1),
        ("zremrangebyscore", f"{z}2", 5, 11), ("zpop_front", f"{z}2", 2), ("zpop_back", f"{z}2", 1),
        ("multi_zset", f"{z}3", "a", 1, "b", 2), ("zclear", f"{z}3"),
        # queue
        ("qpush", f"{q}1", *[f"i{i}" for i in range(8)]), ("qpush_back", f"{q}1", "b1", "b2"),
        ("qpush_front", f"{q}1", "f1", "f2", "f3"), ("qpop", f"{q}1"), ("qpop", f"{q}1", 2),
        ("qpop_front", f"{q}1", 1), ("qpop_back", f"{q}1", 3), ("qpush_back", f"{q}1", "b3"),
        ("qtrim_front", f"{q}1", 1), ("qtrim_back", f"{q}1", 1),
        ("qpush_back", f"{q}2", *[f"x{i}" for i in range(6)]), ("qpop_front", f"{q}2", 2), ("qpop_back", f"{q}2"),
        ("qpush_front", f"{q}3", "a", "b", "c"), ("qclear", f"{q}3"),
        ("qpush_back", f"{q}4", "only"), ("qpop_front", f"{q}4"),
        ("qpush_back", f"{q}5", *[f"y{i}" for i in range(6)]), ("qpop_back", f"{q}5"),
        ("qset", f"{q}1", 0, "set-front"), ("qset", f"{q}1", -1, "set-back"), ("qset", f"{q}1", 2, "set-2"),
        ("qset", f"{q}2", 1, "set-x"),
    ]
    return reqs


def write_every_command(c, p: str) -> list[bytes]:
    """Send ``every_command(p)``; returns the keys that expire after SHORT_TTL."""
    _ok_all(c, every_command(p))
    return [f"{p}:kshort".encode()]


def touch_keys(c, p: str) -> None:
    """Updates of keys an earlier ``write_every_command(c, p)`` made (once slaves have them).

    Sent once the slaves hold those keys, each of these writes reaches them as its
    own record (a record sent after later writes carries their value, so writes
    pipelined with the pushes they change would not test the QSET record).
    ``qset`` only on ``<p>:q5`` (see ``every_command``).
    """
    k, h, z, q = f"{p}:k", f"{p}:h", f"{p}:z", f"{p}:q"
    _ok_all(c, [
        ("set", f"{k}1", "touched"), ("incr", f"{k}n", 100), ("del", f"{k}m1"), ("expire", f"{k}m3", LONG_TTL),
        ("setbit", f"{k}bits", 30, 1), ("hset", f"{h}1", "t", "1"), ("hdel", f"{h}2", "x"), ("hclear", f"{h}1"),
        ("zincr", f"{z}1", "a", 1000), ("zdel", f"{z}1", "b"), ("zpop_front", f"{z}2", 1),
        ("qpush_back", f"{q}1", "tb"), ("qpush_front", f"{q}1", "tf"), ("qpop_front", f"{q}2"), ("qpop_back", f"{q}1"),
        ("qpush_front", f"{q}3", "again"), ("qset", f"{q}5", 0, "touched-front"), ("qset", f"{q}5", -1, "touched-back"),
        ("qpop_back", f"{q}5"), ("qpush_back", f"{q}5", "tb"), ("qset", f"{q}5", 2, "touched-2"),
    ])


def wait_gone(nodes, keys: list[bytes], timeout: float = 10.0) -> None:
    """Wait until none of the kv ``keys`` exists (expired) on any of ``nodes``."""
    for n in nodes:
        with n.client() as c:
            for key in keys:
                wait_for(lambda: c("exists", key) == [b"ok", b"0"], timeout=timeout, interval=0.05,
                         what=f"{key!r} to expire on {n.name}")
