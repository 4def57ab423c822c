"""Wire-level replication tests built from the SSDB 1.9.8 captures (spec/replication.md §7).

Part 1: a scripted fake SSDB slave (plain socket) against a real ssdbpy master.
Part 2: a scripted fake SSDB master (listening socket) against a real ssdbpy slave.

Where ssdbpy deliberately differs from SSDB (docs/compat.md, "Replication"),
the expectations follow ssdbpy and say so.
"""

from __future__ import annotations

import time

import plyvel
import pytest

from tests.harness.fake_peers import (
    BEGIN, COPY, CTRL, END, EXPIRE_ZSET, F, HDEL, HSET, KDEL, KSET, MIRROR, NONE, NOOP, QFIRST, QPOP_BACK,
    QPOP_FRONT, QPUSH_BACK, QPUSH_FRONT, QSET, SYNC, ZDEL, ZSET, FakeMaster, FakeSlave, Frame, encode_packet,
    hkey, le64, qkey, skey, stream_packet,
)
from tests.harness.server import wait_for

PASSWORD = "wire-test-password-0123456789abcdef"  # >= 32 bytes (ssdbpy refuses weaker ones)
TTL = 100000  # s: long enough that the key never expires during a test

# encoded keys exactly as printed in the capture (§7.1)
H_F = b"h\x01h=f"
Z_M = b"s\x01z\x01m"
Q_ITEM = b"q\x01q?\xff\xff\xff\xff\xff\xff\xff"
Q_FRONT = b"q\x01q\x00\x00\x00\x00\x00\x00\x00\x02"
Q_BACK = b"q\x01q\x00\x00\x00\x00\x00\x00\x00\x03"
Q_PTR = b"\xff\xff\xff\xff\xff\xff\xff?"  # LE64(0x3fffffffffffffff)
TTL_T = b"s\x14\xff\xff\xff\xff\xff|EXPIRE_LIST|KV\x01t"


def test_capture_key_spellings_match_the_storage_encoding():
    """The literal capture bytes are what the key encoders of storage.md produce."""
    assert H_F == hkey(b"h", b"f") and Z_M == skey(b"z", b"m") and TTL_T == skey(EXPIRE_ZSET, b"t")
    assert Q_ITEM == qkey(b"q", QFIRST) and Q_FRONT == qkey(b"q", 2) and Q_BACK == qkey(b"q", 3)
    assert Q_PTR == le64(QFIRST)


# --- helpers ------------------------------------------------------------------------------
def binlog_max_seq(c) -> int:
    info = c("info")
    text = info[info.index(b"binlogs") + 1].decode()
    for line in text.splitlines():
        if line.strip().startswith("max_seq"):
            return int(line.split(":")[1])
    raise AssertionError(text)


def repl_blocks(c) -> list[str]:
    info = c("info")
    return [info[i + 1].decode() for i, b in enumerate(info) if b == b"replication"]


def populate_capture(c) -> tuple[int, int]:
    """The §7.1 master state (``t`` with a long TTL); returns the TTL deadline bounds in ms."""
    before = int(time.time() * 1000) + TTL * 1000
    assert c("set", "k1", "v1") == [b"ok", b"1"]
    assert c("set", "k2", "v2") == [b"ok", b"1"]
    assert c("hset", "h", "f", "x") == [b"ok", b"1"]
    assert c("zset", "z", "m", "7") == [b"ok", b"1"]
    assert c("qpush", "q", "i1") == [b"ok", b"1"]
    assert c("setx", "t", "tv", TTL) == [b"ok", b"1"]
    after = int(time.time() * 1000) + TTL * 1000
    assert binlog_max_seq(c) == 7
    return before, after


CAPTURE_WRITES = [
    ("set", "k3", "v3"), ("del", "k1"), ("hdel", "h", "f"), ("zdel", "z", "m"), ("qpop", "q"),
    ("qpush_front", "q", "a"), ("qset", "q", "0", "b"), ("multi_set", "a", "1", "b", "2"), ("incr", "n", "5"),
]
CAPTURE_REPLIES = [[b"ok", b"1"], [b"ok", b"1"], [b"ok", b"1"], [b"ok", b"1"], [b"ok", b"i1"], [b"ok", b"1"],
                   [b"ok"], [b"ok", b"2"], [b"ok", b"5"]]


def capture_writes(c) -> None:
    """The §7.1 client writes, pipelined in one packet batch (so the master reads values afterwards)."""
    c.send_many(CAPTURE_WRITES)
    assert [c.read() for _ in CAPTURE_WRITES] == CAPTURE_REPLIES
    assert binlog_max_seq(c) == 17


def copy_frames(seq: int, ttl_value: bytes) -> list[Frame]:
    """The §7.1 full copy (copy_begin .. copy_end) of the populated master at position ``seq``."""
    return [
        F(0, COPY, BEGIN, b"", b"copy_begin"),
        F(seq, COPY, HSET, H_F, b"x"),
        F(seq, COPY, KSET, b"kk1", b"v1"),
        F(seq, COPY, KSET, b"kk2", b"v2"),
        F(seq, COPY, KSET, b"kt", b"tv"),
        F(seq, COPY, QPUSH_BACK, Q_FRONT, Q_PTR),  # front pointer
        F(seq, COPY, QPUSH_BACK, Q_BACK, Q_PTR),  # back pointer
        F(seq, COPY, QPUSH_BACK, Q_ITEM, b"i1"),
        F(seq, COPY, ZSET, Z_M, b"7"),
        F(seq, COPY, ZSET, TTL_T, ttl_value),  # TTL index
        F(seq, COPY, END, b"", b"copy_end"),
    ]


# SSDB numbers these 10..19 because its TTL expiry logged 8 and 9; here t does not expire
SYNC_FRAMES = [
    F(8, SYNC, KSET, b"kk3", b"v3"),
    F(9, SYNC, KDEL, b"kk1"),
    F(10, SYNC, HDEL, H_F),
    F(11, SYNC, ZDEL, Z_M),
    F(12, SYNC, QPOP_FRONT, b"q"),  # raw queue name
    F(13, SYNC, QPUSH_FRONT, Q_ITEM, b"b"),  # value read at send time (qset ran before)
    F(14, SYNC, QSET, Q_ITEM, b"b"),
    F(15, SYNC, KSET, b"ka", b"1"),
    F(16, SYNC, KSET, b"kb", b"2"),
    F(17, SYNC, KSET, b"kn", b"5"),
]


def ttl_value_of(frames: list[Frame], bounds: tuple[int, int]) -> bytes:
    """The TTL index value in ``frames`` after checking it is the absolute deadline in ms."""
    vals = [f.values[0] for f in frames if f.key == TTL_T]
    assert len(vals) == 1, frames
    assert bounds[0] <= int(vals[0]) <= bounds[1], (vals[0], bounds)
    return vals[0]


def is_copy_end(f: Frame) -> bool:
    return f.type == COPY and f.cmd == END


# ===========================================================================================
# Part 1: fake slave -> real ssdbpy master
# ===========================================================================================
@pytest.mark.timeout(60)
def test_fresh_full_copy_then_stream_and_heartbeat(server_factory):
    """§7.1: ``sync140 0 "" sync``: raw stream start, copy in key order, SYNC records, noop."""
    master = server_factory("master")
    with master.client() as c:
        bounds = populate_capture(c)
        with FakeSlave(master.port) as fs:
            fs.sync140(0, b"", b"sync")
            frames = fs.read_until(is_copy_end)
            # the first bytes of the stream, byte for byte as captured
            assert fs.raw.startswith(
                b"10\n\x00\x00\x00\x00\x00\x00\x00\x00\x03\x07\n10\ncopy_begin\n\n"
                b"15\n\x07\x00\x00\x00\x00\x00\x00\x00\x03\x03h\x01h=f\n1\nx\n\n"
                b"13\n\x07\x00\x00\x00\x00\x00\x00\x00\x03\x01kk1\n2\nv1\n\n"
            ), fs.raw[:200]
            assert frames == copy_frames(7, ttl_value_of(frames, bounds))

            capture_writes(c)
            frames = fs.read_frames(len(SYNC_FRAMES))
            t_last = time.monotonic()
            assert frames == SYNC_FRAMES

            # the master lists the link as a replication client
            port = fs.sock.getsockname()[1]
            blocks = repl_blocks(c)
            # (ssdbpy, docs/compat.md: then the records not sent yet and the age of the oldest)
            assert (f"client 127.0.0.1:{port}\n    type     : sync\n    status   : SYNC\n    last_seq : 17\n"
                    "    lag_seq  : 0\n    lag_ms   : 0" in blocks), blocks

            # idle link: a noop carrying the last seq, about 3 s later
            blocks, raw = fs.read_packet_raw(timeout=5.0)
            idle = time.monotonic() - t_last
            assert raw == b"10\n\x11\x00\x00\x00\x00\x00\x00\x00\x00\x00\n4\nnoop\n\n", raw
            assert 1.5 < idle < 4.0, idle


@pytest.mark.timeout(30)
def test_empty_master_copy_is_begin_and_end(server_factory):
    """§7.1 (end): an empty master sends copy_begin and copy_end at seq 0."""
    master = server_factory("master")
    with FakeSlave(master.port) as fs:
        fs.sync140()
        assert fs.read_frames(2) == [F(0, COPY, BEGIN, b"", b"copy_begin"), F(0, COPY, END, b"", b"copy_end")]


@pytest.mark.timeout(30)
def test_sync_recover(server_factory):
    """§7.2: ``sync140 <seq> "" sync`` -> copy_end carrying seq, then the records after it."""
    master = server_factory("master")
    with master.client() as c:
        populate_capture(c)
        capture_writes(c)
        with FakeSlave(master.port) as fs:
            fs.sync140(13, b"", b"sync")
            assert fs.read_frames(5) == [F(13, COPY, END, b"", b"copy_end")] + SYNC_FRAMES[6:]
            assert c("set", "k9", "v9") == [b"ok", b"1"]
            assert fs.read_frame() == F(18, SYNC, KSET, b"kk9", b"v9")


def copy_recover_expected(ttl_value: bytes) -> list[Frame]:
    """``sync140 7 kk2 sync`` after the capture writes (ssdbpy, docs/compat.md).

    First the records after 7 whose key is <= "kk2" (SSDB sends only the first of
    them before the copy and interleaves the rest); the queue pop (raw name "q")
    concerns a queue stored beyond "kk2", so it is dropped like the pushes.  Then
    the copy resumes strictly after "kk2" from a snapshot at max_seq 17.
    """
    return [
        F(9, SYNC, KDEL, b"kk1"),
        F(10, SYNC, HDEL, H_F),
        F(15, SYNC, KSET, b"ka", b"1"),
        F(16, SYNC, KSET, b"kb", b"2"),
        F(17, COPY, KSET, b"kk3", b"v3"),
        F(17, COPY, KSET, b"kn", b"5"),
        F(17, COPY, KSET, b"kt", b"tv"),  # (expired in SSDB's capture)
        F(17, COPY, QPUSH_BACK, Q_FRONT, Q_PTR),
        F(17, COPY, QPUSH_BACK, Q_BACK, Q_PTR),
        F(17, COPY, QPUSH_BACK, Q_ITEM, b"b"),
        F(17, COPY, ZSET, TTL_T, ttl_value),
        F(17, COPY, END, b"", b"copy_end"),
    ]


@pytest.mark.timeout(30)
def test_copy_recover(server_factory):
    """§7.4: ``sync140 7 kk2 sync``: records for keys <= kk2, copy strictly after kk2, copy_end."""
    master = server_factory("master")
    with master.client() as c:
        bounds = populate_capture(c)
        capture_writes(c)
        with FakeSlave(master.port) as fs:
            fs.sync140(7, b"kk2", b"sync")
            frames = fs.read_until(is_copy_end)
            assert frames == copy_recover_expected(ttl_value_of(frames, bounds))
            # streaming continues after the copy's position
            assert c("set", "k9", "v9") == [b"ok", b"1"]
            assert fs.read_frame() == F(18, SYNC, KSET, b"kk9", b"v9")


@pytest.mark.timeout(40)
def test_copy_recover_with_binlog_gap_makes_one_full_copy(server_factory):
    """A gap met while catching up a copy recover starts ONE fresh full copy, then streams normally."""
    master = server_factory("master")
    with master.client() as c:
        bounds = populate_capture(c)
        capture_writes(c)
    master.stop()
    db = plyvel.DB(str(master.work_dir / "data"))
    try:
        db.delete(b"\x01" + (12).to_bytes(8, "big"))  # the QPOP_FRONT record: a hole at 12
    finally:
        db.close()
    master.start()
    with master.client() as c, FakeSlave(master.port) as fs:
        assert binlog_max_seq(c) == 17
        fs.sync140(7, b"kk2", b"sync")
        frames = fs.read_until(is_copy_end)
        begin = F(0, COPY, BEGIN, b"", b"copy_begin")
        assert begin in frames, frames
        i = frames.index(begin)
        # before the gap: the records for keys <= kk2
        assert frames[:i] == [F(9, SYNC, KDEL, b"kk1"), F(10, SYNC, HDEL, H_F)]
        ttl = ttl_value_of(frames[i:], bounds)
        assert frames[i:] == [
            begin,
            F(17, COPY, KSET, b"ka", b"1"),
            F(17, COPY, KSET, b"kb", b"2"),
            F(17, COPY, KSET, b"kk2", b"v2"),
            F(17, COPY, KSET, b"kk3", b"v3"),
            F(17, COPY, KSET, b"kn", b"5"),
            F(17, COPY, KSET, b"kt", b"tv"),
            F(17, COPY, QPUSH_BACK, Q_FRONT, Q_PTR),
            F(17, COPY, QPUSH_BACK, Q_BACK, Q_PTR),
            F(17, COPY, QPUSH_BACK, Q_ITEM, b"b"),
            F(17, COPY, ZSET, TTL_T, ttl),
            F(17, COPY, END, b"", b"copy_end"),
        ]
        # nothing else (no second copy): the next packet is the next write
        assert c("set", "k9", "v9") == [b"ok", b"1"]
        assert fs.read_frame() == F(18, SYNC, KSET, b"kk9", b"v9")


@pytest.mark.timeout(40)
def test_out_of_window_positions_get_a_full_copy(server_factory):
    """ssdbpy: a position outside the binlog window starts a fresh full copy (SSDB: CTRL OUT_OF_SYNC)."""
    master = server_factory("master")
    with master.client() as c:
        bounds = populate_capture(c)
        # beyond max_seq (§7.3's request), with and without a last_key
        for last_key in (b"", b"kk2"):
            with FakeSlave(master.port) as fs:
                fs.sync140(1000, last_key, b"sync")
                frames = fs.read_until(is_copy_end)
                assert all(f.type != CTRL for f in frames), frames
                assert frames == copy_frames(7, ttl_value_of(frames, bounds))
        # below the window: the records after 3 were deleted
        assert c("clear_binlog")[0] == b"ok"
        assert c("set", "k3", "v3") == [b"ok", b"1"]
        with FakeSlave(master.port) as fs:
            fs.sync140(3, b"", b"sync")
            frames = fs.read_until(is_copy_end)
            expected = copy_frames(8, ttl_value_of(frames, bounds))
            expected.insert(4, F(8, COPY, KSET, b"kk3", b"v3"))
            assert frames == expected
            assert c("set", "k4", "v4") == [b"ok", b"1"]
            assert fs.read_frame() == F(9, SYNC, KSET, b"kk4", b"v4")


@pytest.mark.timeout(60)
def test_mirror_records_are_filtered_for_mirror_clients(server_factory):
    """§7.5: node A (a mirror slave of B) holds MIRROR records; only sync-type clients get them."""
    b = server_factory("b")
    a = server_factory("a")
    with a.client() as ca:
        assert ca("set", "fromA", "1") == [b"ok", b"1"]  # A seq 1: SYNC
    a.stop()
    with b.client() as cb:
        assert cb("set", "fromA", "1") == [b"ok", b"1"]
        assert cb("set", "fromB", "2") == [b"ok", b"1"]
    a.write_config([b.slaveof("mirror")])
    a.start()
    with a.client() as ca, b.client() as cb:
        wait_for(lambda: binlog_max_seq(ca) == 3, what="A to copy B (seq 2, 3: MIRROR)")
        assert ca("set", "a2", "y") == [b"ok", b"1"]  # A seq 4: SYNC
        assert cb("set", "b2", "z") == [b"ok", b"1"]
        wait_for(lambda: binlog_max_seq(ca) == 5, what="A to apply b2 (seq 5: MIRROR)")

        with FakeSlave(a.port) as fs:
            fs.sync140(1, b"", b"sync")
            assert fs.read_frames(5) == [
                F(1, COPY, END, b"", b"copy_end"),
                F(2, MIRROR, KSET, b"kfromA", b"1"),
                F(3, MIRROR, KSET, b"kfromB", b"2"),
                F(4, SYNC, KSET, b"ka2", b"y"),
                F(5, MIRROR, KSET, b"kb2", b"z"),
            ]
        with FakeSlave(a.port) as fs:
            fs.sync140(1, b"", b"mirror")
            assert fs.read_frames(2) == [F(1, COPY, END, b"", b"copy_end"), F(4, SYNC, KSET, b"ka2", b"y")]
            t0 = time.monotonic()
            # 5 is skipped; the idle heartbeat carries the position past it
            assert fs.read_frame(timeout=5.0) == F(5, NOOP, NONE, b"", b"noop")
            assert time.monotonic() - t0 < 4.0


@pytest.mark.timeout(30)
def test_sync140_requires_auth(server_factory):
    """With a password: sync140 first gets an ordinary noauth reply; after auth the stream starts."""
    master = server_factory("master", server={"auth": PASSWORD})
    with FakeSlave(master.port) as fs:
        fs.sync140(0, b"", b"sync")
        blocks, raw = fs.read_packet_raw()
        assert blocks == [b"noauth", b"authentication required."]
        assert raw == b"6\nnoauth\n24\nauthentication required.\n\n"
        # still an ordinary client connection
        fs.send(b"auth", PASSWORD.encode())
        assert fs.read_packet() == [b"ok", b"1"]
        fs.sync140(0, b"", b"sync")
        assert fs.read_frames(2) == [F(0, COPY, BEGIN, b"", b"copy_begin"), F(0, COPY, END, b"", b"copy_end")]


# ===========================================================================================
# Part 2: fake master -> real ssdbpy slave
# ===========================================================================================
FRESH_SYNC_REQUEST = b"7\nsync140\n1\n0\n0\n\n4\nsync\n\n"


def read_request(conn, timeout: float = 10.0) -> bytes:
    """The raw bytes of the next packet the slave sends."""
    return conn.read_packet_raw(timeout)[1]


def slave_block(c) -> str:
    for block in repl_blocks(c):
        if block.startswith("slaveof"):
            return block
    return ""


def meta_status(srv, port: int) -> dict[bytes, bytes]:
    """The slave's persisted position (meta hash ``slave.status.<id>``), read with plyvel."""
    name = b"slave.status.127.0.0.1|%d" % port
    db = plyvel.DB(str(srv.work_dir / "meta"))
    try:
        prefix = b"h" + bytes((len(name),)) + name + b"="
        fields = {k[len(prefix):]: v for k, v in db.iterator(prefix=prefix)}
        fields[b"<size>"] = db.get(b"H" + name)
    finally:
        db.close()
    return fields


@pytest.mark.timeout(30)
@pytest.mark.parametrize("type_, request_bytes", [
    ("sync", FRESH_SYNC_REQUEST),
    ("mirror", b"7\nsync140\n1\n0\n0\n\n6\nmirror\n\n"),
])
def test_slave_request_bytes(server_factory, type_, request_bytes):
    """§2.3: a fresh slave sends exactly ``sync140 0 "" sync|mirror`` and nothing else on its link.

    ssdbpy: beside the link it asks, on a side connection, whether the master takes its
    extensions (a sync link before sync140, a mirror link after it); refused as SSDB refuses an
    unknown command, the link stays plain."""
    with FakeMaster() as fm:
        server_factory("slave", slaveof=[fm.slaveof(type_)])
        conn = fm.accept()
        assert read_request(conn) == request_bytes
        conn.assert_silent(0.5)
        wait_for(lambda: fm.side_requests, what="the side request")
        (side,) = fm.side_requests
        assert side == ([b"ssdbpy_replica", b"1"] if type_ == "sync" else [b"ssdbpy_mirror", side[1], b"1"]), side
        assert not fm.pending(0.3)


@pytest.mark.timeout(30)
def test_slave_sends_auth_first(server_factory):
    auth = b"4\nauth\n%d\n%s\n\n" % (len(PASSWORD), PASSWORD.encode())
    with FakeMaster() as fm:
        server_factory("slave", slaveof=[fm.slaveof("sync", auth=PASSWORD)])
        conn = fm.accept()
        assert read_request(conn) == auth
        conn.assert_silent(0.3)  # waits for the auth reply before sync140
        conn.send(b"ok", b"1")
        # ssdbpy: the side connection authenticates too, then asks; refused as SSDB refuses it
        side = fm.accept()
        assert read_request(side) == auth
        side.assert_silent(0.3)
        side.send(b"ok", b"1")
        assert read_request(side) == encode_packet([b"ssdbpy_replica", b"1"])
        conn.assert_silent(0.3)  # sync140 waits for the answer
        side.send(b"client_error", b"Unknown Command: ssdbpy_replica")
        assert read_request(conn) == FRESH_SYNC_REQUEST


HISTORY = b"ab" * 20  # a history id as an ssdbpy master answers it (40 hex characters)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("answer, identified", [
    ([b"ok", HISTORY, b"0" * 40, b"-1", b"ssdbpy1id"], True),
    ([b"ok", HISTORY, b"0" * 40, b"-1"], False),  # an ssdbpy master that does not take identified links
])
def test_slave_identifies_itself_to_an_ssdbpy_master(server_factory, answer, identified):
    """ssdbpy (docs/replication.md, "Replication groups"): a slave link from ssdb.conf whose master
    answers the offer with ``ssdbpy1id`` sends ``sync140 <seq> <key> sync ssdbpy1id <listening port>
    <link id>`` and acknowledges each committed position with ``ssdbpy_ack <seq>`` on the link;
    otherwise it sends SSDB's plain request and never writes on the link."""
    with FakeMaster(answers={b"ssdbpy_replica": answer}) as fm:
        slave = server_factory("slave", slaveof=[{"id": "master1", **fm.slaveof()}])
        conn = fm.accept()
        if identified:
            assert read_request(conn) == encode_packet(
                [b"sync140", b"0", b"", b"sync", b"ssdbpy1id", str(slave.port).encode(), b"master1"])
        else:
            assert read_request(conn) == FRESH_SYNC_REQUEST
        assert fm.side_requests == [[b"ssdbpy_replica", b"1"]]
        conn.send_raw(b"".join([
            stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
            stream_packet(7, COPY, KSET, b"kk1", b"v1"),
        ]))
        with slave.client() as s:
            wait_for(lambda: "copy_count : 1" in slave_block(s), what="the copied record")
        if not identified:
            conn.send_raw(stream_packet(7, COPY, END, b"", b"copy_end") + stream_packet(8, SYNC, KSET, b"kk2", b"v2"))
            conn.assert_silent(1.5)  # no acks, not even the periodic one
            return
        conn.assert_silent(1.5)  # nothing is acknowledged during a copy
        conn.send_raw(stream_packet(7, COPY, END, b"", b"copy_end"))
        assert read_request(conn) == encode_packet([b"ssdbpy_ack", b"7"])
        conn.send_raw(stream_packet(8, SYNC, KSET, b"kk2", b"v2") + stream_packet(9, SYNC, KDEL, b"kk1"))
        acks = [conn.read_packet()]
        while acks[-1] != [b"ssdbpy_ack", b"9"]:
            acks.append(conn.read_packet())
        assert all(a[0] == b"ssdbpy_ack" and int(a[1]) in (8, 9) for a in acks), acks
        # idle: the position again about every second
        t0 = time.monotonic()
        assert conn.read_packet(timeout=3.0) == [b"ssdbpy_ack", b"9"]
        assert time.monotonic() - t0 < 2.0
        with slave.client() as s:
            assert s("get", "k2") == [b"ok", b"v2"] and s("get", "k1") == [b"not_found"]


def captured_stream(deadline_ms: int) -> list[bytes]:
    """A §7.1-style stream: every COPY type incl. queue pointers, then SYNC records and noops."""
    ptr = le64(QFIRST)
    return [
        stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
        stream_packet(7, COPY, HSET, H_F, b"x"),
        stream_packet(7, COPY, KSET, b"kk1", b"v1"),
        stream_packet(7, COPY, KSET, b"kk2", b"v2"),
        stream_packet(7, COPY, KSET, b"kt", b"tv"),
        stream_packet(7, COPY, QPUSH_BACK, Q_FRONT, ptr),  # pointer records: ignored by the slave
        stream_packet(7, COPY, QPUSH_BACK, Q_BACK, le64(QFIRST + 1)),
        stream_packet(7, COPY, QPUSH_BACK, Q_ITEM, b"i1"),
        stream_packet(7, COPY, QPUSH_BACK, qkey(b"q", QFIRST + 1), b"i2"),
        stream_packet(7, COPY, ZSET, Z_M, b"7"),
        stream_packet(7, COPY, ZSET, TTL_T, str(deadline_ms).encode()),
        stream_packet(7, COPY, END, b"", b"copy_end"),
        stream_packet(7, NOOP, NONE, b"", b"noop"),
        stream_packet(8, SYNC, KSET, b"kk3", b"v3"),
        stream_packet(9, SYNC, KDEL, b"kk1"),
        stream_packet(10, SYNC, HDEL, H_F),
        stream_packet(11, SYNC, ZDEL, Z_M),
        stream_packet(12, SYNC, QPOP_FRONT, b"q"),  # q = [i2]
        stream_packet(13, SYNC, QPUSH_FRONT, Q_ITEM, b"b"),  # q = [b, i2]
        stream_packet(14, SYNC, QSET, Q_ITEM, b"c"),  # q = [c, i2]
        stream_packet(15, SYNC, QPOP_BACK, b"q"),  # q = [c]
        stream_packet(16, SYNC, KSET, b"ka", b"1"),
        stream_packet(17, SYNC, KDEL, b"kk2"),
        stream_packet(18, SYNC, HSET, hkey(b"h", b"g"), b"y"),
        stream_packet(19, SYNC, ZSET, skey(b"z", b"m2"), b"-3"),
        stream_packet(19, NOOP, NONE, b"", b"noop"),
        stream_packet(20, NOOP, NONE, b"", b"noop"),  # e.g. after skipped mirror records
    ]


@pytest.mark.timeout(60)
def test_slave_applies_captured_stream_and_persists_position(server_factory):
    deadline_ms = int(time.time() * 1000) + TTL * 1000
    with FakeMaster() as fm:
        slave = server_factory("slave", slaveof=[fm.slaveof()])
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST
        with slave.client() as s:
            # ssdbpy (docs/compat.md): a sync-type slave drops its old data on copy_begin
            assert s("set", "stale", "x") == [b"ok", b"1"]
            conn.send_raw(b"".join(captured_stream(deadline_ms)))
            expected_block = (
                f"slaveof 127.0.0.1:{fm.port}\n"
                f"    id         : 127.0.0.1|{fm.port}\n"
                "    type       : sync\n"
                "    status     : SYNC\n"
                "    last_seq   : 20\n"
                "    copy_count : 10\n"
                "    sync_count : 12"
            )
            wait_for(lambda: slave_block(s) == expected_block, what="the slave to apply the stream")
            assert s("get", "stale") == [b"not_found"]
            assert s("get", "k1") == [b"not_found"]
            assert s("get", "k2") == [b"not_found"]
            assert s("get", "k3") == [b"ok", b"v3"]
            assert s("get", "a") == [b"ok", b"1"]
            assert s("get", "t") == [b"ok", b"tv"]
            assert TTL - 100 < int(s("ttl", "t")[1]) <= TTL
            assert s("hgetall", "h") == [b"ok", b"g", b"y"]
            assert s("zscan", "z", "", "", "", "-1") == [b"ok", b"m2", b"-3"]
            assert s("qrange", "q", "0", "-1") == [b"ok", b"c"]
            assert s("qsize", "q") == [b"ok", b"1"]
            conn.assert_silent(0.3)  # a slave never answers on the replication link
    slave.stop()
    assert meta_status(slave, fm.port) == {b"last_key": b"", b"last_seq": b"20", b"<size>": le64(2)}


@pytest.mark.timeout(60)
def test_slave_resumes_where_it_stopped(server_factory):
    """Mid-copy the position is (last_seq, last_key) -> copy recover; after copy_end -> sync recover."""
    with FakeMaster() as fm:
        slave = server_factory("slave", slaveof=[fm.slaveof()])
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST
        conn.send_raw(b"".join([
            stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
            stream_packet(7, COPY, HSET, H_F, b"x"),
            stream_packet(7, COPY, KSET, b"kk1", b"v1"),
            stream_packet(7, COPY, KSET, b"kk2", b"v2"),
        ]))
        with slave.client() as s:
            wait_for(lambda: "last_seq   : 7\n    copy_count : 3" in slave_block(s), what="three COPY records")
            assert "status     : COPY" in slave_block(s)
        slave.stop()
        assert meta_status(slave, fm.port) == {b"last_key": b"kk2", b"last_seq": b"7", b"<size>": le64(2)}

        slave.start()
        conn = fm.accept()
        assert read_request(conn) == b"7\nsync140\n1\n7\n3\nkk2\n4\nsync\n\n"
        conn.send_raw(b"".join([
            stream_packet(9, SYNC, KDEL, b"kk1"),
            stream_packet(9, COPY, KSET, b"kk3", b"v3"),
            stream_packet(9, COPY, END, b"", b"copy_end"),
            stream_packet(10, SYNC, KSET, b"kk4", b"v4"),
        ]))
        with slave.client() as s:
            wait_for(lambda: "status     : SYNC\n    last_seq   : 10\n    copy_count : 1\n    sync_count : 2"
                     in slave_block(s), what="the resumed copy")
            assert s("scan", "", "", "-1") == [b"ok", b"k2", b"v2", b"k3", b"v3", b"k4", b"v4"]
            assert s("hget", "h", "f") == [b"ok", b"x"]
        slave.stop()
        assert meta_status(slave, fm.port) == {b"last_key": b"", b"last_seq": b"10", b"<size>": le64(2)}

        slave.start()
        conn = fm.accept()
        assert read_request(conn) == b"7\nsync140\n2\n10\n0\n\n4\nsync\n\n"


@pytest.mark.timeout(40)
def test_slave_heals_out_of_sync(server_factory):
    """ssdbpy (docs/compat.md): CTRL OUT_OF_SYNC -> the slave reconnects asking for a full copy."""
    with FakeMaster() as fm:
        slave = server_factory("slave", slaveof=[fm.slaveof()])
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST
        conn.send_raw(b"".join([
            stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
            stream_packet(7, COPY, KSET, b"kk1", b"v1"),
            stream_packet(7, COPY, END, b"", b"copy_end"),
            stream_packet(8, SYNC, KSET, b"kk2", b"v2"),
        ]))
        with slave.client() as s:
            wait_for(lambda: "last_seq   : 8" in slave_block(s), what="seq 8 applied")
        conn.close()  # link lost: the slave comes back with its position
        conn = fm.accept()
        assert read_request(conn) == b"7\nsync140\n1\n8\n0\n\n4\nsync\n\n"
        conn.send_raw(stream_packet(8, CTRL, NONE, b"OUT_OF_SYNC"))
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST


@pytest.mark.timeout(40)
def test_slave_reconnects_after_recv_timeout(server_factory):
    """recv_timeout: 2 -> noops keep the link; 2 s of silence makes the slave reconnect."""
    with FakeMaster() as fm:
        server_factory("slave", slaveof=[fm.slaveof("sync", recv_timeout=2)])
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST
        # heartbeats every 0.5 s for 3 s (> recv_timeout): no reconnect
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            conn.send_raw(stream_packet(0, NOOP, NONE, b"", b"noop"))
            assert not fm.pending(0.5), "the slave reconnected although the master sent heartbeats"
        t0 = time.monotonic()
        conn2 = fm.accept(timeout=10.0)
        waited = time.monotonic() - t0
        assert read_request(conn2) == FRESH_SYNC_REQUEST
        assert 1.5 < waited < 6.0, waited  # recv_timeout + the reconnect pause
        # the old link was closed by the slave
        with pytest.raises(ConnectionError):
            conn.read_packet(timeout=2.0)


@pytest.mark.timeout(30)
def test_slave_reconnects_on_noauth(server_factory):
    """§2.4: a ``noauth`` packet from the master makes the slave reconnect."""
    with FakeMaster() as fm:
        server_factory("slave", slaveof=[fm.slaveof()])
        conn = fm.accept()
        assert read_request(conn) == FRESH_SYNC_REQUEST
        conn.send(b"noauth", b"authentication required.")
        conn2 = fm.accept()
        assert read_request(conn2) == FRESH_SYNC_REQUEST
        with pytest.raises(ConnectionError):
            conn.read_packet(timeout=2.0)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("type_, logged_as", [("sync", SYNC), ("mirror", MIRROR)])
def test_slave_logs_applied_records_with_its_link_type(server_factory, type_, logged_as):
    """§2.5/§4: records applied by a sync link are logged SYNC, by a mirror link MIRROR.

    Seen on the wire by a fake slave of the ssdbpy slave (a chain).  Malformed
    packets (short header, set-like record without its value) are skipped but
    still advance the position.
    """
    with FakeMaster() as fm:
        slave = server_factory("slave", slaveof=[fm.slaveof(type_)])
        conn = fm.accept()
        assert read_request(conn) == b"7\nsync140\n1\n0\n0\n\n%d\n%s\n\n" % (len(type_), type_.encode())
        conn.send_raw(b"".join([
            stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
            stream_packet(3, COPY, END, b"", b"copy_end"),
        ]))
        with slave.client() as s, FakeSlave(slave.port) as fs:
            # copy_end does not store its seq (§2.5)
            wait_for(lambda: "status     : SYNC\n    last_seq   : 0" in slave_block(s), what="copy_end")
            fs.sync140()
            assert fs.read_frames(2) == [F(0, COPY, BEGIN, b"", b"copy_begin"), F(0, COPY, END, b"", b"copy_end")]
            conn.send_raw(b"".join([
                encode_packet([b"short", b"x"]),  # "invalid binlog!": ignored
                stream_packet(4, SYNC, KSET, b"kno_value"),  # no value block: skipped
                stream_packet(5, SYNC, KSET, b"kx", b"1"),
                stream_packet(6, MIRROR, HSET, hkey(b"h", b"f"), b"2"),
                stream_packet(7, SYNC, QPUSH_BACK, qkey(b"q", QFIRST), b"i"),
            ]))
            assert fs.read_frames(3) == [
                F(1, logged_as, KSET, b"kx", b"1"),
                F(2, logged_as, HSET, hkey(b"h", b"f"), b"2"),
                F(3, logged_as, QPUSH_BACK, qkey(b"q", QFIRST), b"i"),
            ]
            conn.send_raw(stream_packet(8, SYNC, QPOP_FRONT, b"q"))
            assert fs.read_frame() == F(4, logged_as, QPOP_FRONT, b"q")
            wait_for(lambda: "last_seq   : 8" in slave_block(s), what="position 8")
            assert "sync_count : 5" in slave_block(s)
            assert s("get", "no_value") == [b"not_found"]
            conn.assert_silent(0.2)


def test_fake_peer_framing_roundtrip():
    """The harness' own encoder matches the capture's framing."""
    assert encode_packet([b"sync140", b"0", b"", b"sync"]) == FRESH_SYNC_REQUEST
    assert stream_packet(0, COPY, BEGIN, b"", b"copy_begin") == (
        b"10\n\x00\x00\x00\x00\x00\x00\x00\x00\x03\x07\n10\ncopy_begin\n\n")
    assert stream_packet(1000, CTRL, NONE, b"OUT_OF_SYNC") == (
        b"21\n\xe8\x03\x00\x00\x00\x00\x00\x00\x04\x00OUT_OF_SYNC\n\n")


def test_copy_encoder_matches_packet():
    from ssdbpy.replication import wire
    from ssdbpy.storage import binlog as bl

    enc = wire.copy_encoder(12345)
    for cmd, key, value in [(bl.KSET, b"kfoo", b"bar"), (bl.HSET, b"h\x03abcf", b""), (bl.ZSET, b"s\x01zm", b"7"),
                            (bl.QPUSH_BACK, b"q\x01q" + bytes(8), b"x" * 5000), (bl.KSET, b"k" + bytes(range(256)), b"\n")]:
        assert enc(cmd, key, value) == wire.packet(12345, bl.COPY, cmd, key, value)


# --- bulk copy between ssdbpy nodes (docs/replication.md, "Bulk copy") ---------------------
BULK = 100  # the cmd of a BULK record


def copied_pairs(frames: list[Frame]) -> list[tuple[bytes, bytes]]:
    """``(encoded key, value)`` of every data record of a copy, whether sent as COPY or BULK records."""
    import msgpack

    out: list[tuple[bytes, bytes]] = []
    for f in frames:
        if f.type != COPY or f.cmd in (BEGIN, END):
            continue
        if f.cmd == BULK:
            assert f.key == b"" and len(f.values) == 1, f
            flat = msgpack.unpackb(f.values[0], raw=True)
            out += list(zip(flat[0::2], flat[1::2]))
        else:
            out.append((f.key, f.values[0]))
    return out


@pytest.mark.timeout(60)
def test_master_sends_bulk_records_to_a_slave_that_asks(server_factory):
    """ssdbpy: the answer to ``ssdbpy_replica`` ends with ``ssdbpy1bulk``; an identified request
    ending with ``ssdbpy1bulk`` gets the same copy as BULK records (each the msgpack array of
    encoded keys and values, at the snapshot's seq), then the same stream as a plain request."""
    master = server_factory("master")
    with master.client() as c:
        populate_capture(c)
        answer = c("ssdbpy_replica", "1")
        assert answer[0] == b"ok" and answer[-2:] == [b"ssdbpy1id", b"ssdbpy1bulk"], answer
        for i in range(2500):  # more than one BULK record's worth
            c("set", f"bulk{i:05d}", f"v{i}")
        with FakeSlave(master.port) as fs:
            fs.sync140()
            plain = fs.read_until(is_copy_end)
        with FakeSlave(master.port) as fs:
            fs.send(b"sync140", b"0", b"", b"sync", b"ssdbpy1id", b"1", b"bulk-test", b"ssdbpy1bulk")
            bulk = fs.read_until(is_copy_end)
            assert bulk[0] == F(0, COPY, BEGIN, b"", b"copy_begin") and bulk[-1] == plain[-1]
            assert all(f.cmd == BULK and f.seq == plain[-1].seq for f in bulk[1:-1]), bulk[1:-1]
            assert 2 <= len(bulk) - 2 < len(plain) - 2
            assert copied_pairs(bulk) == copied_pairs(plain)
            assert c("set", "after", "x") == [b"ok", b"1"]
            assert fs.read_frame() == F(plain[-1].seq + 1, SYNC, KSET, b"kafter", b"x")


@pytest.mark.timeout(40)
def test_slave_applies_bulk_records(server_factory):
    """ssdbpy: a slave whose master offers ``ssdbpy1bulk`` asks for it at the end of its identified
    request and applies a BULK record as the COPY records it holds (kv, hash, zset, queue), logged
    for its own slaves; the position after it is the last key it holds."""
    import msgpack

    answer = [b"ok", HISTORY, b"0" * 40, b"-1", b"ssdbpy1id", b"ssdbpy1bulk"]
    with FakeMaster(answers={b"ssdbpy_replica": answer}) as fm:
        slave = server_factory("slave", slaveof=[{"id": "master1", **fm.slaveof()}])
        conn = fm.accept()
        assert read_request(conn) == encode_packet(
            [b"sync140", b"0", b"", b"sync", b"ssdbpy1id", str(slave.port).encode(), b"master1", b"ssdbpy1bulk"])
        pairs = [H_F, b"x", b"kk1", b"v1", b"kk2", b"v2", b"kk3", b"v3", Q_FRONT, Q_PTR, Q_BACK, Q_PTR,
                 Q_ITEM, b"i1", Z_M, b"5"]
        conn.send_raw(b"".join([
            stream_packet(0, COPY, BEGIN, b"", b"copy_begin"),
            stream_packet(7, COPY, BULK, b"", msgpack.packb(pairs, use_bin_type=True)),
        ]))
        with slave.client() as s:
            wait_for(lambda: "copy_count : 8" in slave_block(s), what="the records of the BULK record")
            assert "status     : COPY" in slave_block(s)
            conn.send_raw(stream_packet(7, COPY, END, b"", b"copy_end") + stream_packet(8, SYNC, KSET, b"kk4", b"v4"))
            wait_for(lambda: s("get", "k4") == [b"ok", b"v4"], what="the record after the copy")
            assert [s("get", k) for k in ("k1", "k2", "k3")] == [[b"ok", b"v1"], [b"ok", b"v2"], [b"ok", b"v3"]]
            assert s("hget", "h", "f") == [b"ok", b"x"] and s("hsize", "h") == [b"ok", b"1"]
            assert s("zget", "z", "m") == [b"ok", b"5"] and s("zsize", "z") == [b"ok", b"1"]
            assert s("qslice", "q", "0", "-1") == [b"ok", b"i1"]
            # each copied item logged once (not the queue's pointer records), for this node's own
            # slaves, then the streamed record
            assert binlog_max_seq(s) == 7
