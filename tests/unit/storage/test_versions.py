"""Item versions: node id and clock persisted in the meta db, one version record per versioned write."""

from __future__ import annotations

from ssdbpy.db.database import Database
from ssdbpy.storage import keys, qindex
from ssdbpy.storage.versions import PREFIX, PREFIX_END, ZERO, Version


def version_records(db: Database) -> dict[bytes, Version]:
    """The version records of kv keys, hash fields and zset members (queues keep item ids
    under the same prefix in their own format, storage/qindex.py)."""
    db.commit()
    return {k[1:]: Version.decode(v) for k, v in db.engine.iterate(PREFIX, PREFIX_END) if k[1:2] in b"khs"}


def test_node_id_and_clock_survive_a_restart(tmp_path):
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    nid = v.node_id
    stamps = [v.clock.tick() for _ in range(10)]
    v.clock.observe(stamps[-1] + (3_600_000 << 16))  # a peer an hour ahead
    seen = v.clock.last
    db.close()
    db = Database.open(str(tmp_path))
    v = db.enable_versions(offset_ms=-86_400_000)  # and this node's wall clock now a day behind
    assert v.node_id == nid and nid != 0
    assert v.clock.tick() > seen
    db.close()


def test_node_ids_differ(tmp_path):
    ids = set()
    for i in range(3):
        (tmp_path / str(i)).mkdir()
        db = Database.open(str(tmp_path / str(i)))
        ids.add(db.enable_versions().node_id)
        db.close()
    assert len(ids) == 3


def test_unversioned_node_writes_no_version_records(tmp_path):
    db = Database.open(str(tmp_path))
    db.kv.set(b"a", b"1")
    db.hash.set(b"h", b"f", b"v")
    db.hash.delete(b"h", b"f")
    db.zset.set(b"z", b"m", 1)
    assert version_records(db) == {}
    db.close()


def test_every_versioned_write_stamps_its_item(tmp_path):
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    nid = v.node_id
    db.kv.set(b"a", b"1")
    db.kv.delete(b"gone")  # deleting a missing key still leaves a tombstone
    db.hash.set(b"h", b"f", b"v")
    db.zset.set(b"z", b"m", 3)
    db.queue.push(b"q", [b"x"], True)
    recs = version_records(db)
    hk, zk = keys.encode_hash(b"h", b"f"), keys.encode_zset(b"z", b"m")
    assert set(recs) == {b"ka", b"kgone", hk, zk}
    # the queue item got an id in the queue's order index, not an item version
    qitems = list(db.engine.iterate(qindex.base(b"q"), qindex.base(b"q") + b"\xff", keys_only=True))
    assert len(qitems) == 1 and qindex.decode_index_key(qitems[0])[:2] == (b"q", True)
    assert not recs[b"ka"].tomb and recs[b"kgone"].tomb
    assert all(r.origin == nid for r in recs.values())
    before = recs[hk].stamp
    # the same value again: SSDB would skip it, a versioned node stamps it (newer write)
    db.hash.set(b"h", b"f", b"v")
    db.zset.set(b"z", b"m", 3)
    recs2 = version_records(db)
    assert recs2[hk].stamp > before and recs2[zk].stamp > recs[zk].stamp
    # deleting a missing field or member leaves a tombstone too
    db.hash.delete(b"h", b"nope")
    db.zset.delete(b"z", b"nope")
    recs3 = version_records(db)
    assert recs3[keys.encode_hash(b"h", b"nope")].tomb and recs3[keys.encode_zset(b"z", b"nope")].tomb
    assert db.hash.size(b"h") == 1 and db.zset.size(b"z") == 1
    db.close()


def test_stamped_block_writes_the_given_version(tmp_path):
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    with db.stamped(12345 << 16, 777):
        db.kv.set(b"a", b"1")
        db.hash.delete(b"h", b"f")
    recs = version_records(db)
    assert recs[b"ka"] == Version(12345 << 16, 777, False)
    assert recs[keys.encode_hash(b"h", b"f")] == Version(12345 << 16, 777, True)
    assert v.get(b"kmissing") is ZERO
    db.close()


def test_counter_flag_is_persisted_before_the_first_counter_record(tmp_path):
    """Plain writes skip reading old records only while no item holds counter state; the flag
    survives a restart, so a set after an increment keeps the increment totals."""
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    db.kv.set(b"a", b"1")
    assert not v.counters
    db.kv.incr(b"n", 5)
    db.commit()
    assert v.counters
    db.close()
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    assert v.counters
    db.kv.set(b"n", b"100")
    db.commit()
    rec = v.get(b"kn")
    assert rec.counter is not None and rec.counter.totals[v.node_id][0] == 5
    assert rec.counter.observed[v.node_id][0] == 5  # the set saw the increment: replaced by it
    db.close()
