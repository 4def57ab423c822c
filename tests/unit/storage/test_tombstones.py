"""The tombstone index and its collection pass (storage/tombstones.py)."""

from __future__ import annotations

from ssdbpy.db.database import Database
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys, qindex
from ssdbpy.storage.crdt import Counter
from ssdbpy.storage.tombstones import COUNTERS_INDEXED_KEY, GC, GC_END, INDEXED_KEY, decode_entry
from ssdbpy.storage.versions import MARKER, PREFIX, Version


def entries(db: Database) -> list[tuple[int, bytes]]:
    db.commit()
    return [decode_entry(k) for k in db.engine.iterate(GC, GC_END, keys_only=True)]


def full_pass(db: Database, upto: int, limit: int = 1000) -> None:
    ts = db.binlog.versions.tombstones
    while ts.step(upto, limit):
        pass


def open_db(path) -> Database:
    db = Database.open(str(path))
    db.enable_versions()
    return db


def test_each_delete_indexes_its_tombstone_under_its_binlog_record(tmp_path):
    db = open_db(tmp_path)
    db.kv.set(b"a", b"1")
    db.kv.delete(b"a")
    db.hash.set(b"h", b"f", b"v")
    db.hash.delete(b"h", b"f")
    db.commit()
    got = entries(db)
    vk_a, vk_f = PREFIX + keys.encode_kv(b"a"), PREFIX + keys.encode_hash(b"h", b"f")
    assert {k for _s, k in got} >= {vk_a, vk_f}
    for seq, k in got:
        rec = db.binlog.get(seq)
        assert rec is not None and rec.cmd in (bl.KDEL, bl.HDEL, bl.ZDEL)
        assert PREFIX + rec.key == k
        assert Version.decode(db.engine.get(k)).tomb
    db.close()


def test_a_pass_collects_only_up_to_the_bound_and_counts_the_rest(tmp_path):
    db = open_db(tmp_path)
    for i in range(30):
        db.kv.set(b"k%d" % i, b"v")
        db.kv.delete(b"k%d" % i)
    db.commit()
    ts = db.binlog.versions.tombstones
    seqs = sorted(s for s, _k in entries(db))
    n = len(seqs)
    assert n == 30 and ts.held == n
    full_pass(db, -1, limit=7)
    assert ts.held == n and ts.collected == 0
    middle = seqs[n // 2]
    full_pass(db, middle, limit=7)
    left = [s for s, _k in entries(db)]
    assert left and min(left) > middle
    assert ts.held == len(left) and ts.collected == n - len(left)
    for s in range(1, middle + 1):
        rec = db.binlog.get(s)
        if rec is not None and rec.cmd == bl.KDEL:
            assert db.engine.get(PREFIX + rec.key) is None  # the version record went with it
    full_pass(db, db.binlog.max_seq)
    assert ts.held == 0 and entries(db) == []
    assert db.kv.get(b"k3") is None
    db.close()


def test_an_item_written_again_drops_its_entry_and_keeps_its_version(tmp_path):
    db = open_db(tmp_path)
    db.kv.set(b"a", b"1")
    db.kv.delete(b"a")
    db.kv.set(b"a", b"2")  # no longer a tombstone
    db.kv.set(b"b", b"1")
    db.kv.delete(b"b")
    db.kv.delete(b"b")  # a later tombstone: its own entry
    db.commit()
    full_pass(db, -1)
    vk_a, vk_b = PREFIX + keys.encode_kv(b"a"), PREFIX + keys.encode_kv(b"b")
    got = entries(db)
    assert vk_a not in {k for _s, k in got}
    assert [k for _s, k in got].count(vk_b) == 1
    full_pass(db, db.binlog.max_seq)
    assert db.engine.get(vk_a) is not None and db.kv.get(b"a") == b"2"
    assert db.engine.get(vk_b) is None
    db.close()


def test_popped_queue_items_are_indexed_and_collected(tmp_path):
    db = open_db(tmp_path)
    db.queue.push(b"q", [b"x", b"y"])
    assert db.queue.pop_front(b"q") == b"x"
    db.commit()
    tombs = [k for _s, k in entries(db) if k.startswith(qindex.PREFIX)]
    assert len(tombs) == 1 and qindex.decode_index_key(tombs[0])[1] is False
    full_pass(db, db.binlog.max_seq)
    assert db.engine.get(tombs[0]) is None
    assert db.queue.size(b"q") == 1 and db.queue.front(b"q") == b"y"
    db.close()


def test_a_deleted_counter_is_indexed_and_collected_with_its_marker(tmp_path):
    db = open_db(tmp_path)
    db.kv.incr(b"n", 5)
    db.kv.delete(b"n")
    db.commit()
    vk = PREFIX + keys.encode_kv(b"n")
    [(seq, k)] = entries(db)
    assert k == vk and db.binlog.get(seq).cmd == bl.KDEL
    ts = db.binlog.versions.tombstones
    assert ts.held == 1
    full_pass(db, seq - 1)
    v = Version.decode(db.engine.get(vk))
    assert v.counter is not None and v.tomb and ts.held == 1
    full_pass(db, seq)
    assert db.engine.get(vk) is None and db.engine.get(MARKER + keys.encode_kv(b"n")) is None
    assert vk not in db.binlog.versions.counter_keys
    assert ts.held == 0 and ts.collected == 1 and entries(db) == []
    db.kv.incr(b"n", 3)  # from an empty state: counts from zero
    db.commit()
    assert db.kv.get(b"n") == b"3"
    db.close()


def test_tombstones_from_before_the_index_are_indexed_once_at_start(tmp_path):
    db = open_db(tmp_path)
    db.kv.set(b"a", b"1")
    db.kv.delete(b"a")
    db.queue.push(b"q", [b"x"])
    db.queue.pop_front(b"q")
    db.commit()
    for k in list(db.engine.iterate(GC, GC_END, keys_only=True)):
        db.engine.delete(k)  # as written by a version without the index
    db.commit()
    db.meta.delete(INDEXED_KEY)
    db.meta.commit()
    db.close()
    db = open_db(tmp_path)
    got = entries(db)
    assert len(got) == 2  # the key and the popped item
    assert {s for s, _k in got} == {db.binlog.max_seq}
    db.close()
    db = open_db(tmp_path)
    assert len(entries(db)) == 2  # not twice
    db.close()


def test_deleted_counters_from_before_their_index_are_indexed_once_at_start(tmp_path):
    """Deleted counters written by a version that did not index them: indexed once at start and
    counted; one whose own total is not zero (no restart) is held, one with no total of this
    node goes."""
    db = open_db(tmp_path)
    for k in (b"mine", b"theirs"):
        db.kv.incr(k, 5)
        db.kv.delete(k)
    db.commit()
    me = db.binlog.versions.node_id
    other = me + 1
    old_mine = Version(900, other, True, Counter(None, {me: (5, 10)}, {me: (5, 10)}))
    old_theirs = Version(900, other, True, Counter(None, {other: (7, 10)}, {other: (7, 10)}))
    db.engine.put(PREFIX + keys.encode_kv(b"mine"), old_mine.encode())
    db.engine.put(PREFIX + keys.encode_kv(b"theirs"), old_theirs.encode())
    for k in list(db.engine.iterate(GC, GC_END, keys_only=True)):
        db.engine.delete(k)  # as written by a version without the index of deleted counters
    db.commit()
    db.meta.delete(COUNTERS_INDEXED_KEY)
    db.meta.commit()
    db.close()
    db = open_db(tmp_path)
    got = entries(db)
    assert sorted(k for _s, k in got) == [PREFIX + keys.encode_kv(b"mine"), PREFIX + keys.encode_kv(b"theirs")]
    assert {s for s, _k in got} == {db.binlog.max_seq}
    ts = db.binlog.versions.tombstones
    assert ts.held == 2
    full_pass(db, db.binlog.max_seq)
    assert ts.held == 1 and ts.collected == 1
    assert db.engine.get(PREFIX + keys.encode_kv(b"mine")) == old_mine.encode()
    assert db.engine.get(PREFIX + keys.encode_kv(b"theirs")) is None
    db.close()
    db = open_db(tmp_path)
    assert len(entries(db)) == 1  # not twice
    db.close()
