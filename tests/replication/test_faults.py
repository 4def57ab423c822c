"""Replication under faults, with real ssdbpy processes on 127.0.0.1.

Every scenario interrupts a link at a known phase -- the full copy (slave
status COPY) or binlog streaming (status SYNC, records flowing) -- while a
writer keeps writing, lets it heal by itself, and ends with a comparison of
every key of every type (kv, hash, zset, queue, TTL index) on every node plus
a check that no acknowledged write was lost.

* ``kill -9`` of the master, of a slave and of a mirror peer, then restart;
* a fault-injecting proxy between slave and master cuts the link, or
  blackholes it for longer than the slave's ``recv_timeout``;
* a tiny binlog window that a stopped slave, or a stalled link, falls out
  of, and a master that answers OUT_OF_SYNC;
* a crash between the slave's data batch and its position write (in process),
  and a copy arriving faster than the slave applies it.

The master's ``sync_speed: 1`` (MB/s) stretches a copy of ~60k items over a
few seconds so it can be interrupted in the middle.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib

import pytest

from ssdbpy.replication import wire
from ssdbpy.storage import binlog as bl
from tests.harness.proxy import FaultProxy
from tests.harness.replication import (
    AckWriter,
    binlog_window,
    converge,
    copy_layout,
    load_dataset,
    master_sessions,
    slave_link,
    wait_link,
)
from tests.harness.server import wait_for

N_ITEMS = 60000  # dataset size: ~4 MB of copy records, ~4 s at sync_speed 1
SLOW = {"sync_speed": 1}  # MB/s


def copied(kind: str, frac: float = 0.5) -> int:
    """A copy_count inside the copy of the dataset's ``kind`` records (hash, kv, queue, zset).

    The writers' keys of that type, and of every type copied before it, are then
    behind the copy cursor: a resumed copy has to stream what happened to them.
    """
    lo, hi = copy_layout(N_ITEMS)[kind]
    return int(lo + (hi - lo) * frac)


class LogMark:
    """What a server logged since this mark was taken."""

    def __init__(self, srv) -> None:
        self.srv = srv
        self.offset = srv.log_path.stat().st_size if srv.log_path.exists() else 0

    def text(self) -> str:
        with open(self.srv.log_path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def wait(self, needle: str, timeout: float = 10.0) -> None:
        wait_for(lambda: needle in self.text(), timeout=timeout, what=f"{self.srv.name} to log {needle!r}")


def streaming(c, writer: AckWriter, records: int = 300) -> None:
    """Wait until the slave behind ``c`` is in SYNC and has applied ``records`` more streamed records."""
    start = int(wait_link(c, "SYNC", timeout=60)["sync_count"])
    wait_for(lambda: int(slave_link(c)["sync_count"]) >= start + records or writer.error,
             timeout=20, what=f"{records} streamed records")
    assert writer.error is None, writer.error


@pytest.fixture
def start_writer():
    """Start an AckWriter (and wait for its first writes); any left running are stopped at the end."""
    started: list[AckWriter] = []

    def start(port: int, tag: str, **kw) -> AckWriter:
        w = AckWriter(port, tag, seed=zlib.crc32(tag.encode()), **kw)
        started.append(w)
        w.start()
        w.wait_progress(50)
        return w

    yield start
    for w in started:
        w.halt()


def kill9(srv) -> None:
    """``kill -9`` the server (its pidfile stays behind, as after a crash)."""
    srv.kill()
    assert not srv.running


def restart_after_kill(srv) -> None:
    kill9(srv)
    srv.start()


def sync_slaveof(target_port: int, **extra) -> dict:
    return {"id": "master1", "type": "sync", "ip": "127.0.0.1", "port": target_port, **extra}


# --- kill -9 ----------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_kill_master_during_copy_and_during_streaming(server_factory, start_writer):
    master = server_factory("master", replication=SLOW)
    with master.client() as m:
        load_dataset(m, N_ITEMS)
    w1 = start_writer(master.port, "copy")
    slave = server_factory("slave", slaveof=[sync_slaveof(master.port)])
    s = slave.client()

    # copy phase: the master dies with part of the data copied; the copy resumes after the last key
    wait_link(s, "COPY", min_copied=copied("kv"))
    mark = LogMark(master)
    restart_after_kill(master)
    mark.wait("copy recover after", timeout=20)
    wait_link(s, "SYNC", timeout=60)
    w1.wait_progress(100)  # the writer got through to the restarted master
    w1.stop()
    converge([master, slave], [w1])

    # streaming: the master dies while records flow
    w2 = start_writer(master.port, "stream")
    streaming(s, w2)
    mark = LogMark(master)
    restart_after_kill(master)
    mark.wait("sync recover from seq", timeout=20)
    w2.wait_progress(100)
    streaming(s, w2)
    w2.stop()
    converge([master, slave], [w1, w2])
    s.close()


@pytest.mark.timeout(120)
def test_kill_slave_during_copy_and_during_streaming(server_factory, start_writer):
    master = server_factory("master", replication=SLOW)
    with master.client() as m:
        load_dataset(m, N_ITEMS)
    w1 = start_writer(master.port, "copy")
    slave = server_factory("slave", slaveof=[sync_slaveof(master.port)])

    with slave.client() as s:
        wait_link(s, "COPY", min_copied=copied("zset", 0.3))
    mark = LogMark(master)
    restart_after_kill(slave)
    mark.wait("copy recover after", timeout=20)
    with slave.client() as s:
        wait_link(s, "SYNC", timeout=60)
    w1.stop()
    converge([master, slave], [w1])

    # streaming: killed again and again while queue pushes and pops flow (each must be
    # applied exactly once across the crashes)
    w2 = start_writer(master.port, "stream")
    for i in range(4):
        with slave.client() as s:
            streaming(s, w2, records=100 + 150 * i)
        kill9(slave)
        w2.wait_progress(100)  # the master keeps taking writes while the slave is down
        mark = LogMark(master)
        slave.start()
        mark.wait("sync recover from seq", timeout=20)
    with slave.client() as s:
        streaming(s, w2)
    w2.stop()
    converge([master, slave], [w1, w2])


@pytest.mark.timeout(120)
def test_kill_mirror_peer_during_copy_and_during_streaming(server_factory, start_writer):
    # a holds the data; b joins empty as its mirror peer.  a's link to b must finish
    # its (empty) copy before b has copied anything from a: a full copy between mirror
    # peers is not filtered, so queue items a receives back would be pushed twice.
    a = server_factory("a", replication=SLOW)
    with a.client() as c:
        load_dataset(c, N_ITEMS)
    a.stop()
    b = server_factory("b", slaveof=[a.slaveof("mirror", id_="peer")])
    a.write_config([b.slaveof("mirror", id_="peer")])
    a.start()
    ca = a.client()
    wait_link(ca, "SYNC", timeout=20)  # a's link to b: copy of the empty b done

    # copy phase: b dies while copying from a, with a writing
    wa1 = start_writer(a.port, "a-copy", short_ttl=False)
    with b.client() as cb:
        wait_link(cb, "COPY", min_copied=copied("queue"), timeout=30)
    mark = LogMark(a)
    restart_after_kill(b)
    mark.wait("copy recover after", timeout=20)
    with b.client() as cb:
        wait_link(cb, "SYNC", timeout=60)
    wa1.stop()
    converge([a, b], [wa1])

    # streaming: both sides write; b dies and comes back
    wa2 = start_writer(a.port, "a-stream", short_ttl=False)
    wb2 = start_writer(b.port, "b-stream", short_ttl=False)
    with b.client() as cb:
        streaming(cb, wa2)
    streaming(ca, wb2)
    mark_a, mark_b = LogMark(a), LogMark(b)
    restart_after_kill(b)
    mark_a.wait("sync recover from seq", timeout=20)  # b's link into a
    mark_b.wait("sync recover from seq", timeout=20)  # a's link into b
    wb2.wait_progress(100)
    with b.client() as cb:
        streaming(cb, wa2)
    streaming(ca, wb2)
    wa2.stop()
    wb2.stop()
    converge([a, b], [wa1, wa2, wb2])
    ca.close()


# --- link faults through a proxy ------------------------------------------------------
@pytest.fixture
def proxy_factory():
    """Make FaultProxy objects (to a port on 127.0.0.1) that are closed when the test ends."""
    proxies: list[FaultProxy] = []

    def make(port: int) -> FaultProxy:
        proxies.append(FaultProxy(port).start())
        return proxies[-1]

    yield make
    for p in proxies:
        p.close()


@pytest.fixture
def proxied(server_factory, proxy_factory):
    """A slow master with the dataset, a proxy to it, and a sync slave (not started) behind the proxy."""
    master = server_factory("master", replication=SLOW)
    with master.client() as m:
        load_dataset(m, N_ITEMS)
    proxy = proxy_factory(master.port)
    slave = server_factory("slave", start=False, slaveof=[sync_slaveof(proxy.port, recv_timeout=4)])
    return master, proxy, slave


@pytest.mark.timeout(120)
def test_link_cut_mid_copy_and_mid_stream(proxied, start_writer):
    master, proxy, slave = proxied
    w1 = start_writer(master.port, "copy")
    slave.start()
    s = slave.client()
    wait_link(s, "COPY", min_copied=copied("hash"))
    mark = LogMark(master)
    assert proxy.cut() >= 1
    mark.wait("copy recover after", timeout=20)
    wait_link(s, "SYNC", timeout=60)
    w1.stop()
    converge([master, slave], [w1])
    # two links, each after its side connection (ssdbpy_replica)
    assert proxy.counters()[0] == 4, "the slave should have reconnected exactly once"

    w2 = start_writer(master.port, "stream")
    streaming(s, w2)
    mark = LogMark(master)
    assert proxy.cut() >= 1
    mark.wait("sync recover from seq", timeout=20)
    streaming(s, w2)
    w2.stop()
    converge([master, slave], [w1, w2])
    s.close()


@pytest.mark.timeout(120)
def test_link_blackholed_mid_copy_and_mid_stream(proxied, start_writer):
    """Silence longer than recv_timeout (4 s; the idle heartbeat comes every 3 s): the slave
    gives up on the link and reconnects."""
    master, proxy, slave = proxied
    w1 = start_writer(master.port, "copy")
    slave.start()
    s = slave.client()
    for phase in ("copy", "stream"):
        if phase == "copy":
            wait_link(s, "COPY", min_copied=copied("kv", 0.8))
            expect = "copy recover after"
        else:
            w2 = start_writer(master.port, "stream")
            streaming(s, w2)
            expect = "sync recover from seq"
        accepted = proxy.counters()[0]
        proxy.blackhole()
        # the slave notices the silence and opens a new link (which is blackholed too)
        wait_for(lambda: proxy.counters()[0] > accepted, timeout=15, what="the slave to reconnect")
        mark = LogMark(master)
        proxy.resume()
        mark.wait(expect, timeout=20)
        wait_link(s, "SYNC", timeout=60)
        if phase == "copy":
            w1.stop()
            converge([master, slave], [w1])
        else:
            streaming(s, w2)
            w2.stop()
            converge([master, slave], [w1, w2])
    s.close()


@pytest.mark.timeout(60)
def test_slave_serves_clients_during_a_full_speed_copy(server_factory):
    """An unthrottled copy arrives faster than the slave applies it; clients still get answers."""
    master = server_factory("master")
    with master.client() as m:
        load_dataset(m, 150000)
    slave = server_factory("slave", slaveof=[sync_slaveof(master.port)])
    worst, answered_in_copy = 0.0, 0
    with slave.client() as s:
        while True:
            t0 = time.perf_counter()
            status = slave_link(s)["status"]
            worst = max(worst, time.perf_counter() - t0)
            if status == "COPY":
                answered_in_copy += 1
            elif status == "SYNC":
                break
            time.sleep(0.005)
    assert answered_in_copy >= 5, answered_in_copy
    assert worst < 0.5, f"a request waited {worst:.2f}s during the copy"


# --- out of the binlog window -----------------------------------------------------------
STALE = [
    ("set", "stale:k", "old"), ("setx", "stale:t", "old", 100000), ("hset", "stale:h", "f", "old"),
    ("zset", "stale:z", "m", 1), ("qpush_back", "stale:q", "old"),
]
UNSTALE = [("del", "stale:k"), ("del", "stale:t"), ("hclear", "stale:h"), ("zclear", "stale:z"), ("qclear", "stale:q")]


@pytest.mark.timeout(120)
def test_slave_out_of_the_binlog_window_recopies_by_itself(server_factory, proxy_factory, start_writer):
    # the master trims when max_seq - min_seq >= capacity + 10000
    master = server_factory("master", replication={"capacity": 10})
    m = master.client()
    load_dataset(m, 2000, prefix="base")
    for r in STALE:
        assert m(*r)[0] == b"ok"
    proxy = proxy_factory(master.port)
    slave = server_factory("slave", slaveof=[sync_slaveof(proxy.port)])
    s = slave.client()
    wait_link(s, "SYNC")
    converge([master, slave])
    slave_seq = int(slave_link(s)["last_seq"])
    s.close()
    slave.stop()

    # while the slave is away: the stale keys go, and the binlog moves far past its position
    for r in UNSTALE:
        assert m(*r)[0] == b"ok"
    w1 = start_writer(master.port, "away")
    load_dataset(m, 12000, prefix="more")
    wait_for(lambda: binlog_window(m)[0] > slave_seq + 1, timeout=20, what="the master to trim the binlog")
    w1.stop()

    mark = LogMark(master)
    slave_mark = LogMark(slave)
    slave.start()
    s = slave.client()
    mark.wait("outside the binlog window: full copy", timeout=20)
    wait_link(s, "SYNC", timeout=30)
    snap = converge([master, slave], [w1])
    assert not [k for kind in ("kv", "hash", "zset", "queue") for k in snap[kind] if k.startswith(b"stale:")]
    assert "OUT_OF_SYNC" not in slave_mark.text()

    # a connected slave whose link stalls while the master writes past the window: the
    # master keeps at most 4 x capacity records for it, then finds a gap and copies again
    mark = LogMark(master)
    w2 = start_writer(master.port, "stall")
    proxy.blackhole()
    big = b"x" * 100_000
    for i in range(0, 200, 20):  # 20 MB: more than the socket buffers hold, the session blocks
        m.send_many([("set", f"big:{j}", big) for j in range(i, i + 20)])
        assert all(m.read()[0] == b"ok" for _ in range(20))
    load_dataset(m, 12000, prefix="burst")
    wait_for(lambda: binlog_window(m)[0] > min(int(x["last_seq"]) for x in master_sessions(m)) + 1,
             timeout=20, what="the binlog to be trimmed past the stalled session")
    proxy.resume()
    mark.wait("binlog gap at", timeout=20)
    w2.wait_progress(100)
    w2.stop()
    wait_link(s, "SYNC", timeout=60)
    converge([master, slave], [w1, w2])
    assert "OUT_OF_SYNC" not in slave_mark.text()
    s.close()
    m.close()


class FakeMaster:
    """A master that answers ``sync140`` from a non-zero position with OUT_OF_SYNC, as SSDB 1.9.8
    does for a position outside its window (and keeps the link open), and from position 0 with a
    full copy of one key at seq 7.  An ssdbpy slave's side requests (``ssdbpy_replica``) get SSDB's
    answer to an unknown command and are kept in ``side_requests``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[list[bytes]] = []
        self.side_requests: list[list[bytes]] = []
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._held.append(conn)
            # one thread per connection: a link waits for its side request's answer
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        from ssdbpy.client import ReplyReader

        reader = ReplyReader()
        req = None
        try:
            while req is None:
                data = conn.recv(4096)
                if not data:
                    return
                reader.feed(data)
                req = reader.next()
            if req[0].startswith(b"ssdbpy_"):
                self.side_requests.append(req)
                conn.sendall(b"12\nclient_error\n%d\nUnknown Command: %s\n\n" % (17 + len(req[0]), req[0]))
                return
            self.requests.append(req)
            if req[1] != b"0":
                conn.sendall(wire.out_of_sync(int(req[1])) + wire.noop(int(req[1])))
            else:
                conn.sendall(wire.copy_begin() + wire.packet(7, bl.COPY, bl.KSET, b"kkfresh", b"v")
                             + wire.copy_end(7) + wire.noop(7))
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for c in self._held:
            c.close()


@pytest.mark.timeout(60)
def test_slave_told_out_of_sync_recopies_by_itself(server_factory):
    fake = FakeMaster()
    try:
        slave = server_factory("slave", slaveof=[sync_slaveof(fake.port)])
        with slave.client() as s:
            link = wait_link(s, "SYNC", timeout=10)
            assert link["last_seq"] == "7" and s("get", "kfresh") == [b"ok", b"v"]
            assert s("set", "stale", "x")[0] == b"ok"
            # move the link to a position the master no longer has
            assert s("slaveof", "master1", "127.0.0.1", fake.port, "", 1000, "")[0] == b"ok"
            wait_for(lambda: len(fake.requests) >= 3, timeout=15, what="the slave to ask again")
            link = wait_link(s, "SYNC", timeout=10)
            assert link["last_seq"] == "7"
            assert s("get", "kfresh") == [b"ok", b"v"]
            assert s("get", "stale") == [b"not_found"]  # a sync-type slave wipes on copy_begin
        assert [r[:3] for r in fake.requests] == [[b"sync140", b"0", b""], [b"sync140", b"1000", b""],
                                                  [b"sync140", b"0", b""]], fake.requests
        assert fake.side_requests == [[b"ssdbpy_replica", b"1"]] * 3, fake.side_requests
    finally:
        fake.close()


def test_slave_position_is_committed_with_the_data(tmp_path):
    """A crash after the data batch reached LevelDB but before the position reached the meta db
    (a window too narrow to hit on purpose with kill -9): the restarted slave resumes after the
    batch, so queue pushes are not applied twice."""
    from ssdbpy.db.database import Database
    from ssdbpy.protocol.ssdb import PacketReader
    from ssdbpy.replication.manager import Replication, SlaveConfig
    from ssdbpy.replication.slave import Slave
    from ssdbpy.storage import keys

    cfg = SlaveConfig(id="m1", host="127.0.0.1", port=1)

    def pushes(first: int, n: int) -> bytes:
        return b"".join(wire.packet(seq, bl.SYNC, bl.QPUSH_BACK, keys.encode_qitem(b"q", keys.QITEM_INIT_SEQ + seq),
                                    b"item%d" % seq) for seq in range(first, first + n))

    def feed(slave, data: bytes) -> None:
        reader = PacketReader()
        reader.feed(data)
        slave._process_all(reader)

    db = Database.open(str(tmp_path))
    slave = Slave(Replication(db), cfg)
    feed(slave, wire.copy_begin() + wire.copy_end(0) + pushes(1, 3))  # persisted normally
    slave._persist = lambda: None  # the process dies before each meta write
    feed(slave, pushes(4, 3))
    db.close()

    db = Database.open(str(tmp_path))
    slave = Slave(Replication(db), cfg)
    assert (slave.last_seq, slave.last_key) == (6, b"")
    assert db.queue.slice(b"q", 0, -1) == [b"item%d" % i for i in range(1, 7)]
    db.close()
