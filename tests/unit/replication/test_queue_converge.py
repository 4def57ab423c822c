"""Queues on convergent links: item states merged in any order, with duplicates, give the same
queue (SSDB's dense encoding, items in id order, popped items never back); a plain slave
replaying the merging node's binlog ends with the same queue."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.db.database import Database
from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.replication import converge, wire
from ssdbpy.replication.apply import APPLY
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage import qindex as qi

Q = b"q1"


def deliver(db: Database, name: bytes, iid: bytes, value: bytes | None, stamp: int, origin: int,
            tomb: bool) -> bool:
    pkt = converge.queue_state_packet(1, bl.MIRROR, name, iid, (value, stamp, origin, tomb), peer_id=-1)
    reader = PacketReader()
    reader.feed(pkt)
    blocks = reader.next()
    rec = wire.decode(blocks)
    assert converge.carries_state(rec.cmd, len(blocks))
    with db.origin(bl.MIRROR):
        applied = converge.merge(db, rec, blocks[1], blocks[2])
    db.commit()
    return applied


def queue_of(db: Database, name: bytes = Q) -> list[bytes]:
    items = db.queue.slice(name, 0, -1)
    assert len(items) == db.queue.size(name)  # dense: SSDB's walk finds every item
    return items


def replay_plain(src: Database, dst: Database) -> None:
    """Apply ``src``'s binlog to ``dst`` as a plain sync slave does (values read at send time)."""
    for _k, raw in src.engine.iterate(keys.encode_binlog_key(0), b"\x02"):
        rec = bl.Record.decode(raw)
        if rec.cmd == bl.NONE:
            continue
        value = None
        if rec.cmd in wire.SET_LIKE:
            value = src.engine.get(rec.key)
            if value is None:
                value = b""
        APPLY[rec.cmd](dst, rec, value)
        dst.commit()


ops = st.lists(
    st.tuples(
        st.integers(-30, 30).filter(lambda p: p != 0),  # signed position: + back push, - front push
        st.sampled_from([11, 22, 33]),  # origin
        st.sampled_from(["push", "pop", "set"]),
        st.integers(1, 99),  # set stamp / pop stamp
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=50, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_any_order_any_duplicates_gives_one_queue(items, rnd):
    packets = []
    expect: dict[bytes, tuple] = {}
    popped = set()
    for pos, origin, kind, stamp in items:
        iid = qi.item_id(pos, origin)
        value = b"v%d.%d" % (pos, origin)
        if kind == "pop":
            packets.append((iid, None, stamp, origin + 1, True))
            popped.add(iid)
            continue
        packets.append((iid, value, abs(pos), origin, False))
        expect.setdefault(iid, (value, (abs(pos), origin)))
        if kind == "set":
            nv = value + b"!%d" % stamp
            packets.append((iid, nv, abs(pos) + stamp, origin, False))
            if (abs(pos) + stamp, origin) > expect[iid][1]:
                expect[iid] = (nv, (abs(pos) + stamp, origin))
    want = [expect[i][0] for i in sorted(expect) if i not in popped]
    with tempfile.TemporaryDirectory() as d:
        results = []
        for i in range(3):
            os.mkdir(f"{d}/{i}")
            db = Database.open(f"{d}/{i}")
            db.enable_versions()
            order = packets + [rnd.choice(packets) for _ in range(len(packets) // 2)]
            rnd.shuffle(order)
            for iid, value, stamp, origin, tomb in order:
                deliver(db, Q, iid, value, stamp, origin, tomb)
            got = queue_of(db)
            assert got == want
            results.append(got)
            os.mkdir(f"{d}/plain{i}")
            plain = Database.open(f"{d}/plain{i}")
            replay_plain(db, plain)
            assert queue_of(plain) == want
            plain.close()
            db.close()
    assert results[0] == results[1] == results[2]


def ship(src: Database, dst: Database, after: int = 0) -> int:
    """Send the queue records of ``src``'s binlog after ``after`` to ``dst`` as a convergent link does."""
    n = 0
    for _k, raw in src.engine.iterate(keys.encode_binlog_key(after + 1), b"\x02"):
        rec = bl.Record.decode(raw)
        if rec.type != bl.SYNC:
            continue
        pkt = converge.queue_packet(src, rec, peer_id=-1)
        assert pkt is not converge.PLAIN
        if pkt is None:
            continue
        reader = PacketReader()
        reader.feed(pkt)
        blocks = reader.next()
        with dst.origin(bl.MIRROR):
            n += converge.merge(dst, wire.decode(blocks), blocks[1], blocks[2])
        dst.commit()
    return n


def test_concurrent_pushes_and_pops_on_two_masters(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Database.open(str(tmp_path / "a"))
    b = Database.open(str(tmp_path / "b"))
    a.enable_versions()
    b.enable_versions()
    for x in (b"1", b"2", b"3"):
        a.queue.push_back(Q, x)
    a.commit()
    ship(a, b)
    # concurrently: both pop the front item, a pushes to the back, b to the front, b sets item 3
    assert a.queue.pop_front(Q) == b"1"
    a.queue.push_back(Q, b"a-back")
    a.commit()
    assert b.queue.pop_front(Q) == b"1"
    b.queue.push_front(Q, b"b-front")
    assert b.queue.set(Q, -1, b"3b")
    b.commit()
    ship(a, b)
    ship(b, a)
    assert queue_of(a) == queue_of(b) == [b"b-front", b"2", b"3b", b"a-back"]
    # a popped item never comes back, not even from a copy of old states
    tombs = list(a.engine.iterate(qi.base(Q) + qi.TOMB, qi.base(Q) + b"U", keys_only=True))
    assert len(tombs) == 1  # item "1", popped on both: removed once
    iid = tombs[0][-qi.ID_LEN:]
    pos, origin = qi.id_parts(iid)
    assert not deliver(a, Q, iid, b"1", pos, origin, False)
    assert queue_of(a) == [b"b-front", b"2", b"3b", b"a-back"]
    a.close()
    b.close()


def test_items_from_before_versioning_get_the_same_ids_on_both_nodes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Database.open(str(tmp_path / "a"))
    b = Database.open(str(tmp_path / "b"))
    for db in (a, b):
        for x in (b"1", b"2"):
            db.queue.push_back(Q, x)
        db.commit()
        db.enable_versions()
    legacy = a.binlog.last_seq
    a.queue.pop_front(Q)  # pops legacy item "1" (id pos 0, origin = its sequence)
    a.queue.push_back(Q, b"3")
    a.commit()
    assert ship(a, b, legacy) == 2
    assert queue_of(a) == queue_of(b) == [b"2", b"3"]
    a.close()
    b.close()
