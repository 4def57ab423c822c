"""The merge rule of convergent mirrors: any order, any duplicates -> the same state, the
highest version of every item; and the state packets a master sends."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.db.database import Database
from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.replication import converge, wire
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.versions import Version

ITEMS = [
    keys.encode_kv(b"a"), keys.encode_kv(b"b"),
    keys.encode_hash(b"h", b"f1"), keys.encode_hash(b"h", b"f2"),
    keys.encode_zset(b"z", b"m1"), keys.encode_zset(b"z", b"m2"),
]


def user_state(db: Database) -> dict:
    return {
        "kv": dict(db.kv.scan(b"", b"", 100)),
        "h": dict(db.hash.scan(b"h", b"", b"", 100)),
        "hsize": db.hash.size(b"h"),
        "z": {m: db.zset.score(b"z", m) for m in (b"m1", b"m2")},
        "zindex": list(db.zset.iter_index(b"z")),
        "zsize": db.zset.size(b"z"),
        "raw": {k: db.engine.get(k) for k in ITEMS},
    }


def deliver(db: Database, key: bytes, value: bytes | None, version: Version, btype: int = bl.MIRROR) -> bool:
    """One state packet from a peer, as the slave decodes it."""
    pkt = converge.state_packet(1, btype, key, value, version)
    assert pkt is not None
    reader = PacketReader()
    reader.feed(pkt)
    blocks = reader.next()
    rec = wire.decode(blocks)
    with db.origin(bl.MIRROR):
        applied = converge.merge(db, rec, blocks[1], blocks[2])
    db.commit()
    return applied


writes = st.lists(
    st.tuples(
        st.sampled_from(ITEMS),
        st.one_of(st.none(), st.integers(-5, 5).map(lambda i: str(i).encode())),  # None = delete
        st.integers(1, 40),  # stamp
        st.sampled_from([11, 22, 33]),  # origin
    ),
    min_size=1,
    max_size=25,
    unique_by=lambda w: (w[2], w[3]),  # an origin never issues one stamp twice
)


@settings(max_examples=60, deadline=None)
@given(writes, st.randoms(use_true_random=False))
def test_any_order_any_duplicates_gives_the_highest_version(ws, rnd):
    expect: dict[bytes, tuple] = {}
    for key, value, stamp, origin in ws:
        if key not in expect or (stamp, origin) > expect[key][1]:
            expect[key] = (value, (stamp, origin))
    states = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(3):
            os.mkdir(f"{d}/{i}")
            db = Database.open(f"{d}/{i}")
            db.enable_versions()
            order = list(ws) + [rnd.choice(ws) for _ in range(len(ws) // 2)]  # duplicates
            rnd.shuffle(order)
            for key, value, stamp, origin in order:
                deliver(db, key, value, Version(stamp, origin, value is None))
            states.append(user_state(db))
            for key, (value, ver) in expect.items():
                assert db.engine.get(key) == value, (key, value, ver)
                assert db.binlog.versions.get(key).order() == ver
            # the clock is past every stamp it received
            assert db.binlog.versions.clock.tick() > max(w[2] for w in ws)
            db.close()
    assert states[0] == states[1] == states[2]


def test_local_write_after_a_skewed_peer_wins(tmp_path):
    """A node that received a version from a clock minutes ahead stamps its next write higher."""
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    ahead = v.clock.tick() + (10 * 60_000 << 16)
    assert deliver(db, b"ka", b"from-the-future", Version(ahead, 5))
    db.kv.set(b"a", b"local")
    db.commit()
    assert v.get(b"ka").stamp > ahead
    assert not deliver(db, b"ka", b"from-the-future", Version(ahead, 5))  # a retry changes nothing
    assert db.kv.get(b"a") == b"local"
    db.close()


def test_sizes_and_score_index_follow_merges(tmp_path):
    db = Database.open(str(tmp_path))
    db.enable_versions()
    hk, zk = keys.encode_hash(b"h", b"f"), keys.encode_zset(b"z", b"m")
    assert deliver(db, hk, b"v", Version(10, 1))
    assert deliver(db, zk, b"7", Version(10, 1))
    assert db.hash.size(b"h") == 1 and db.zset.size(b"z") == 1
    assert deliver(db, hk, None, Version(11, 1, True))
    assert deliver(db, zk, b"9", Version(11, 1))
    assert db.hash.size(b"h") == 0 and db.hash.get(b"h", b"f") is None
    assert db.zset.score(b"z", b"m") == 9 and db.zset.size(b"z") == 1
    assert len(list(db.zset.iter_index(b"z"))) == 1  # the old score's index entry is gone
    assert not deliver(db, hk, b"old", Version(10, 2))  # older than the tombstone: stays deleted
    assert db.hash.get(b"h", b"f") is None
    db.close()


def test_unstamped_values_converge_by_bytes(tmp_path):
    """Values written before versioning have version (0, 0): equal versions, so the larger
    value wins on both sides instead of each keeping its own."""
    db = Database.open(str(tmp_path))
    db.kv.set(b"a", b"mine")  # written before versioning
    db.commit()
    db.enable_versions()
    assert not deliver(db, b"ka", b"aaa", Version(0, 0))
    assert deliver(db, b"ka", b"zzz", Version(0, 0))
    assert db.kv.get(b"a") == b"zzz"
    db.close()


def test_state_packet_shapes():
    v = Version(5, 9)
    assert converge.state_packet(3, bl.SYNC, b"kx", None, Version(0, 0)) is None  # nothing to tell
    blocks = PacketReader()
    blocks.feed(converge.state_packet(3, bl.SYNC, b"kx", None, v))
    pkt = blocks.next()
    rec = wire.decode(pkt)
    assert (rec.seq, rec.type, rec.cmd, rec.key) == (3, bl.SYNC, bl.KDEL, b"kx")
    assert pkt[1] == b"" and Version.decode(pkt[2]) == Version(5, 9, True)
    blocks.feed(converge.state_packet(4, bl.COPY, keys.encode_zset(b"z", b"m"), b"12", v))
    pkt = blocks.next()
    assert wire.decode(pkt).cmd == bl.ZSET and pkt[1] == b"12" and Version.decode(pkt[2]) == v


def test_copy_records_interleave_tombstones_in_key_order_and_resume(tmp_path):
    from ssdbpy.storage.versions import PREFIX, PREFIX_END

    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    db.kv.set(b"a", b"1")
    db.kv.delete(b"b")
    db.kv.set(b"c", b"3")
    db.hash.set(b"h", b"f", b"v")
    db.hash.delete(b"h", b"g")
    db.queue.push(b"q", [b"item"], True)
    with db.stamped(99 << 16, 4242):  # written by the peer: not copied back to it
        db.kv.set(b"p", b"peer")
    db.commit()
    snap = db.engine.snapshot()

    def copy(after: bytes | None):
        if after is None:
            it = db.engine.iterate(b"h", b"t", snapshot=snap)
            vit = db.engine.iterate(PREFIX, PREFIX_END, snapshot=snap)
        else:
            it = db.engine.iterate(after, b"t", include_start=False, snapshot=snap)
            vit = db.engine.iterate(PREFIX + after, PREFIX_END, include_start=False, snapshot=snap)
        return list(converge.copy_records(it, vit, 7, 4242))

    out = copy(None)
    ks = [k for k, _p in out]
    assert ks == sorted(ks)
    hk, gk = keys.encode_hash(b"h", b"f"), keys.encode_hash(b"h", b"g")
    assert [k for k in ks if not k.startswith(b"q")] == [hk, gk, b"ka", b"kb", b"kc"]
    reader = PacketReader()
    for _k, pkt in out:
        reader.feed(pkt)
    by_key = {}
    while (blocks := reader.next()) is not None:
        by_key[wire.decode(blocks).key] = blocks
    assert wire.decode(by_key[b"kb"]).cmd == bl.KDEL and Version.decode(by_key[b"kb"][2]).tomb
    assert by_key[b"ka"][1] == b"1" and Version.decode(by_key[b"ka"][2]).origin == v.node_id
    assert len(by_key[b"ka"]) == 3 and any(len(b) == 2 for b in by_key.values())  # the queue item is plain
    # resuming after a key sends exactly the rest
    assert copy(gk) == out[ks.index(gk) + 1:]
    db.close()
