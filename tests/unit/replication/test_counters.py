"""Counters on convergent mirrors: increments made on different nodes add up, in any delivery
order with duplicates; a set is ordered against increments by stamp."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.db.database import Database
from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.replication import converge, wire
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import crdt, keys

KEY = {"kv": keys.encode_kv(b"n"), "h": keys.encode_hash(b"h", b"n"), "z": keys.encode_zset(b"z", b"n")}


def incr(db: Database, kind: str, by: int) -> None:
    if kind == "kv":
        db.kv.incr(b"n", by)
    elif kind == "h":
        db.hash.incr(b"h", b"n", by)
    else:
        db.zset.incr(b"z", b"n", by)
    db.commit()


def read(db: Database, kind: str) -> bytes | None:
    return db.engine.get(KEY[kind])


def ship(src: Database, dst: Database, key: bytes) -> None:
    """The state packet src's master would send now, merged by dst's slave."""
    value, ver = converge.state_of(src, key)
    pkt = converge.state_packet(1, bl.MIRROR, key, value, ver)
    if pkt is None:
        return
    reader = PacketReader()
    reader.feed(pkt)
    blocks = reader.next()
    with dst.origin(bl.MIRROR):
        converge.merge(dst, wire.decode(blocks), blocks[1], blocks[2])
    dst.commit()


def open_nodes(d: str, n: int) -> list[Database]:
    dbs = []
    for i in range(n):
        os.mkdir(f"{d}/{i}")
        db = Database.open(f"{d}/{i}")
        db.enable_versions()
        dbs.append(db)
    return dbs


def exchange_all(dbs: list[Database], key: bytes) -> None:
    for _ in range(2):
        for a in dbs:
            for b in dbs:
                if a is not b:
                    ship(a, b, key)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["kv", "h", "z"]),
       st.lists(st.tuples(st.integers(0, 2), st.integers(-5, 9), st.lists(st.tuples(st.integers(0, 2),
                                                                                   st.integers(0, 2)), max_size=3)),
                min_size=1, max_size=20))
def test_increments_on_different_nodes_add_up(kind, steps):
    """Each step: node i increments by d, then some random node-to-node deliveries (partial,
    repeated, any order).  After a full exchange every node holds the sum of all increments."""
    with tempfile.TemporaryDirectory() as d:
        dbs = open_nodes(d, 3)
        for i, by, deliveries in steps:
            incr(dbs[i], kind, by)
            for a, b in deliveries:
                if a != b:
                    ship(dbs[a], dbs[b], KEY[kind])
        exchange_all(dbs, KEY[kind])
        total = str(sum(by for _i, by, _d in steps)).encode()
        assert [read(db, kind) for db in dbs] == [total] * 3
        for db in dbs:
            db.close()


def test_set_is_ordered_against_increments_by_stamp(tmp_path):
    a, b = open_nodes(str(tmp_path), 2)
    incr(a, "kv", 5)          # before the set, never seen by its setter: replaced by the set
    # b's clock is past a's stamps (two nodes may issue the same stamp in one millisecond;
    # then the origins order them, and the increment might count)
    b.binlog.versions.clock.observe(a.binlog.versions.clock.last)
    b.kv.set(b"n", b"100")    # stamped after a's increment
    b.commit()
    exchange_all([a, b], KEY["kv"])
    assert read(a, "kv") == read(b, "kv") == b"100"
    a.binlog.versions.clock.observe(b.binlog.versions.clock.last)
    incr(a, "kv", 1)           # stamped after the set: adds up
    incr(b, "kv", 2)
    exchange_all([a, b], KEY["kv"])
    assert read(a, "kv") == read(b, "kv") == b"103"
    a.binlog.versions.clock.observe(b.binlog.versions.clock.last)
    a.kv.delete(b"n")
    a.commit()
    exchange_all([a, b], KEY["kv"])
    assert read(a, "kv") is None and read(b, "kv") is None  # the increments are gone with it
    incr(b, "kv", 7)           # after the delete arrived: counts from zero
    exchange_all([a, b], KEY["kv"])
    assert read(a, "kv") == read(b, "kv") == b"7"
    for db in (a, b):
        db.close()


def test_counter_state_round_trip_and_join_laws():
    c1 = crdt.Counter(b"10", {1: (5, 100), 2: (-3, 90)}, {2: (-1, 50)})
    c2 = crdt.Counter(None, {1: (7, 120), 3: (4, 130)}, {1: (5, 100)})
    assert crdt.Counter.decode(c1.encode()) == c1 and crdt.Counter.decode(c2.encode()) == c2
    v1, v2 = (95, 1), (110, 2)
    ab = crdt.join(v1, c1, v2, c2)
    ba = crdt.join(v2, c2, v1, c1)
    assert ab == ba
    assert crdt.join(*ab, *ab) == ab
    version, c = ab
    # base: the delete at 110 (it saw origin 1's 5); origin 1's 7 at 120 counts 2, origin 3's 4
    # counts, origin 2's increments (last at 90) are before the delete
    assert crdt.value(version, c) == b"6"
