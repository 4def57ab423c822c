"""ssdbpy.db.zset: byte layout (storage.md §5), binlog records, ordering and range semantics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.cnum import INT64_MAX, INT64_MIN, UINT64_MAX
from ssdbpy.db.database import Database
from ssdbpy.db.zset import range_window, redis_window
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    yield d
    d.close()


def data_items(db) -> list[tuple[bytes, bytes]]:
    """Every committed non-binlog record."""
    db.commit()
    return [(k, v) for k, v in db.engine.iterate() if not k.startswith(keys.BINLOG)]


def records(db) -> list[bl.Record]:
    db.commit()
    return [bl.Record.decode(v) for _k, v in db.engine.iterate(keys.BINLOG, b"\x02")]


def fill(db, name: bytes, items: dict[bytes, int]) -> None:
    for m, s in items.items():
        db.zset.set(name, m, s)
    db.commit()


# --- storage.md §5 --------------------------------------------------------------------
def test_storage_example_bytes(db):
    z = db.zset
    assert z.set(b"z1", b"m1", 5) == 1
    assert z.set(b"z1", b"m2", -3) == 1
    assert z.set(b"z1", b"m3", 0) == 1
    assert data_items(db) == [
        (b"Zz1", bytes.fromhex("0300000000000000")),
        (b"s\x02z1\x02m1", b"5"),
        (b"s\x02z1\x02m2", b"-3"),
        (b"s\x02z1\x02m3", b"0"),
        (b"z\x02z1-\xff\xff\xff\xff\xff\xff\xff\xfd=m2", b""),
        (b"z\x02z1=\x00\x00\x00\x00\x00\x00\x00\x00=m3", b""),
        (b"z\x02z1=\x00\x00\x00\x00\x00\x00\x00\x05=m1", b""),
    ]


def test_update_moves_index_entry_and_keeps_size(db):
    z = db.zset
    z.set(b"z1", b"m1", 5)
    assert z.set(b"z1", b"m1", -7) == 0
    assert data_items(db) == [
        (b"Zz1", bytes.fromhex("0100000000000000")),
        (b"s\x02z1\x02m1", b"-7"),
        (b"z\x02z1-\xff\xff\xff\xff\xff\xff\xff\xf9=m1", b""),
    ]


def test_extreme_score_index_keys(db):
    fill(db, b"z", {b"lo": INT64_MIN, b"hi": INT64_MAX})
    index = [k for k, _ in data_items(db) if k[:1] == b"z"]
    assert index == [
        b"z\x01z-\x80\x00\x00\x00\x00\x00\x00\x00=lo",
        b"z\x01z=\x7f\xff\xff\xff\xff\xff\xff\xff=hi",
    ]
    assert db.zset.get(b"z", b"lo") == b"-9223372036854775808"


def test_last_delete_removes_size_record(db):
    z = db.zset
    z.set(b"z1", b"a", 1)
    z.set(b"z1", b"b", 2)
    assert z.delete(b"z1", b"a") == 1
    assert z.delete(b"z1", b"a") == 0
    assert z.size(b"z1") == 1
    assert z.delete(b"z1", b"b") == 1
    assert z.size(b"z1") == 0
    assert data_items(db) == []


# --- binlog (storage.md §8) ----------------------------------------------------------------
def test_binlog_records(db):
    z = db.zset
    z.set(b"z1", b"m1", 5)  # new: ZSET
    z.set(b"z1", b"m1", 5)  # unchanged: nothing
    z.set(b"z1", b"m1", 6)  # changed: ZSET
    z.delete(b"z1", b"nope")  # absent: nothing
    z.delete(b"z1", b"m1")  # ZDEL
    mk = b"s\x02z1\x02m1"
    assert [(r.seq, r.type, r.cmd, r.key) for r in records(db)] == [
        (1, bl.SYNC, bl.ZSET, mk),
        (2, bl.SYNC, bl.ZSET, mk),
        (3, bl.SYNC, bl.ZDEL, mk),
    ]
    raw = db.engine.get(keys.encode_binlog_key(1))
    assert raw == b"\x01" + bytes(7) + b"\x01\x05" + mk


def test_bulk_removals_log_one_zdel_per_member(db):
    fill(db, b"z", {b"a": 1, b"b": 2, b"c": 3, b"d": 4})
    n0 = len(records(db))
    assert db.zset.clear(b"z") == 4
    recs = records(db)[n0:]
    assert [r.cmd for r in recs] == [bl.ZDEL] * 4
    assert [r.key for r in recs] == [keys.encode_zset(b"z", m) for m in (b"a", b"b", b"c", b"d")]


# --- ordering ------------------------------------------------------------------------------
SCORES = [INT64_MIN, INT64_MIN + 1, -(1 << 32), -256, -1, 0, 1, 255, 256, 1 << 40, INT64_MAX - 1, INT64_MAX]


def test_index_order_negative_and_extremes(db):
    items = {}
    for i, s in enumerate(SCORES):
        items[b"m%02d" % i] = s
        items[b"n%02d" % i] = s  # a tie, ordered by member bytes
    fill(db, b"z", items)
    expected = sorted(((m, s) for m, s in items.items()), key=lambda p: (p[1], p[0]))
    assert list(db.zset.iter_index(b"z")) == expected
    # the deliberate fix: reverse walks include the INT64_MAX members
    assert list(db.zset.iter_index(b"z", reverse=True)) == expected[::-1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(INT64_MIN, INT64_MAX), min_size=2, max_size=20))
def test_score_encoding_preserves_order(scores):
    enc = sorted(scores, key=keys.encode_score)
    assert enc == sorted(scores)


def test_member_bytes_order_within_a_score(db):
    members = [b"\x00", b"A", b"a", b"aa", b"\x7f", b"\xff", b"\xff\xff", b"\xff" * 255]
    fill(db, b"z", {m: 7 for m in members})
    assert [m for m, _ in db.zset.iter_index(b"z")] == sorted(members)
    # members after b"\xff" still count as scored 7 at an inclusive end bound
    assert [m for m, _ in db.zset.iter_index(b"z", score_start=7, score_end=7)] == sorted(members)
    assert [m for m, _ in db.zset.iter_members(b"z")] == sorted(members, key=lambda m: (len(m), m))


def test_sets_do_not_leak_into_each_other(db):
    fill(db, b"z", {b"a": 1})
    fill(db, b"z\x00", {b"b": 1})
    fill(db, b"zz", {b"c": 1})
    fill(db, b"y", {b"d": INT64_MAX})
    for name, member in ((b"z", b"a"), (b"z\x00", b"b"), (b"zz", b"c"), (b"y", b"d")):
        assert [m for m, _ in db.zset.iter_index(name)] == [member]
        assert [m for m, _ in db.zset.iter_index(name, reverse=True)] == [member]
        assert [m for m, _ in db.zset.iter_members(name)] == [member]


# --- rank and range -----------------------------------------------------------------------------
@pytest.fixture
def z8(db):
    """The set of the zset vectors at line 24 of zset.jsonl."""
    fill(db, b"z", {b"a": 20, b"b": -5, b"c": 0, b"d": 1, b"e": 0, b"f": INT64_MAX, b"g": INT64_MIN, b"h": INT64_MAX})
    return db.zset


ASC = [b"g", b"b", b"c", b"e", b"d", b"a", b"f", b"h"]


def test_rank(z8):
    assert [z8.rank(b"z", m) for m in ASC] == list(range(8))
    assert [z8.rank(b"z", m, reverse=True) for m in ASC] == list(range(7, -1, -1))
    assert z8.rank(b"z", b"nope") is None
    assert z8.rank(b"nope", b"a") is None
    assert z8.rank(b"z", b"x" * 300) is None


def test_rank_needs_the_index_entry(db):
    fill(db, b"z", {b"a": 1, b"b": 2})
    db.engine.delete(keys.encode_zscore(b"z", b"b", 2))
    assert db.zset.rank(b"z", b"b") is None
    assert db.zset.rank(b"z", b"b", reverse=True) is None
    assert db.zset.rank(b"z", b"a", reverse=True) == 0


def members(pairs) -> list[bytes]:
    return [m for m, _ in pairs]


def test_range_offset_limit(z8):
    assert members(z8.range(b"z", 0, 100)) == ASC
    assert members(z8.range(b"z", 2, 2)) == [b"c", b"e"]
    assert z8.range(b"z", 0, 0) == []
    assert members(z8.range(b"z", 5, UINT64_MAX)) == ASC[5:]  # -1: offset+limit overflows -> limit
    assert members(z8.range(b"z", UINT64_MAX, UINT64_MAX)) == []
    assert members(z8.range(b"z", 0, 3, reverse=True)) == [b"h", b"f", b"a"]
    assert z8.range(b"z", 0, 100)[-1] == (b"h", INT64_MAX)


def test_range_window():
    assert range_window(2, 3) == (2, 5)
    assert range_window(0, UINT64_MAX) == (0, UINT64_MAX)
    assert range_window(5, UINT64_MAX) == (5, UINT64_MAX)
    assert range_window(UINT64_MAX, 2) == (UINT64_MAX, 2)


@pytest.mark.parametrize(
    "start,stop,expected",
    [
        (0, -1, (0, 8)),
        (-2, -1, (6, 2)),
        (-100, 2, (0, 3)),
        (5, 1, None),
        (0, -9, None),
        (3, 3, (3, 1)),
        (INT64_MIN, INT64_MIN, None),
        (0, INT64_MAX, (0, INT64_MAX + 1)),
    ],
)
def test_redis_window(start, stop, expected):
    assert redis_window(start, stop, lambda: 8) == expected


def test_redis_window_reads_size_only_for_negative_indexes():
    def boom():
        raise AssertionError("size read")

    assert redis_window(1, 2, boom) == (1, 2)


def test_redis_range(z8):
    assert members(z8.redis_range(b"z", 0, -1)) == ASC
    assert members(z8.redis_range(b"z", -2, -1)) == [b"f", b"h"]
    assert members(z8.redis_range(b"z", 0, 1, reverse=True)) == [b"h", b"f"]
    assert z8.redis_range(b"z", 5, 1) == []


# --- scan (commands.md §4.1) ------------------------------------------------------------------
def test_scan_bounds(z8):
    scan = z8.scan
    assert members(scan(b"z", b"", None, None, 100)) == ASC
    assert members(scan(b"z", b"", 0, 10, 100)) == [b"c", b"e", b"d"]  # inclusive start
    assert members(scan(b"z", b"", 0, None, 2)) == [b"c", b"e"]
    assert members(scan(b"z", b"c", 0, None, 100)) == ASC[3:]  # strictly after (0, c)
    assert members(scan(b"z", b"c", None, None, 100)) == ASC[3:]  # score taken from c
    assert members(scan(b"z", b"cc", None, None, 100)) == ASC  # missing member: from INT64_MIN
    assert members(scan(b"z", b"", -5, 20, 3, offset=1)) == [b"c", b"e"]  # offset mode
    assert scan(b"z", b"", None, None, 1, offset=1) == []
    assert members(scan(b"z", b"", 20, 0, 100)) == []  # empty range


def test_rscan_bounds(z8):
    scan = z8.scan
    desc = ASC[::-1]
    assert members(scan(b"z", b"", None, None, 100, reverse=True)) == desc  # incl. INT64_MAX (fixed)
    assert members(scan(b"z", b"", 10, 0, 100, reverse=True)) == [b"d", b"e", b"c"]
    assert members(scan(b"z", b"a", None, None, 100, reverse=True)) == desc[3:]
    assert members(scan(b"z", b"h", INT64_MAX, None, 100, reverse=True)) == desc[1:]
    assert members(scan(b"z", b"", 0, 0, 100, reverse=True)) == [b"e", b"c"]
    assert members(scan(b"z", b"", None, None, 3, offset=1, reverse=True)) == [b"f", b"a"]


# --- aggregates and removal ----------------------------------------------------------------------
def test_count_and_sum(z8):
    assert z8.count(b"z", 0, 20) == 4
    assert z8.count(b"z", None, None) == 8
    assert z8.sum_count(b"z", 0, 20) == (21, 4)
    assert z8.sum_count(b"z", 100, 200) == (0, 0)
    # f + h = 2 * INT64_MAX wraps to -2
    assert z8.sum_count(b"z", 21, None) == (-2, 2)


def test_remove_range_by_score_and_rank(z8):
    assert z8.remove_range_by_score(b"z", -5, 0) == 3
    assert members(z8.range(b"z", 0, 100)) == [b"g", b"d", b"a", b"f", b"h"]
    assert z8.remove_range_by_rank(b"z", -1, -1) == 1
    assert z8.remove_range_by_rank(b"z", 0, 0) == 1
    assert z8.remove_range_by_rank(b"z", 5, 1) == 0
    assert members(z8.range(b"z", 0, 100)) == [b"d", b"a", b"f"]
    assert z8.size(b"z") == 3


def test_pop_front_and_back(z8):
    assert z8.pop(b"z", 2) == [(b"g", INT64_MIN), (b"b", -5)]
    assert z8.pop(b"z", 1, back=True) == [(b"h", INT64_MAX)]  # the fix: INT64_MAX pops
    assert z8.pop(b"z", 0) == []
    assert members(z8.pop(b"z", UINT64_MAX, back=True)) == [b"f", b"a", b"d", b"e", b"c"]
    assert z8.size(b"z") == 0
    assert z8.pop(b"z", 10) == []


def test_clear_many(db):
    fill(db, b"big", {b"m%05d" % i: i - 1500 for i in range(2500)})
    assert db.zset.clear(b"big") == 2500
    assert db.zset.clear(b"big") == 0
    assert data_items(db) == []


# --- zfix ----------------------------------------------------------------------------------------
def test_fix_rebuilds_members_index_and_size(db):
    fill(db, b"z", {b"a": 1, b"b": -2, b"c": 3})
    n0 = len(records(db))
    eng = db.engine
    eng.delete(keys.encode_zset(b"z", b"a"))  # index entry without member record
    eng.delete(keys.encode_zscore(b"z", b"b", -2))  # member record without index entry
    eng.put(keys.encode_zset(b"z", b"c"), b"3x")  # a non-canonical score string
    eng.put(b"Zz", keys.pack_i64le(42))
    db.commit()
    before = data_items(db)
    assert db.zset.fix(b"z") == 3
    after = dict(data_items(db))
    assert after[b"Zz"] == keys.pack_i64le(3)
    assert after[keys.encode_zset(b"z", b"a")] == b"1"
    assert keys.encode_zscore(b"z", b"b", -2) in after
    assert after[keys.encode_zset(b"z", b"c")] == b"3"
    assert before != list(after.items())
    assert len(records(db)) == n0  # no binlog records
    assert db.zset.fix(b"nope") == 0
    assert db.zset.size(b"nope") == 0


def test_fix_empty_set_deletes_stale_size(db):
    db.engine.put(b"Zghost", keys.pack_i64le(5))
    assert db.zset.fix(b"ghost") == 0
    assert data_items(db) == []


# --- oversized names -------------------------------------------------------------------------------
def test_oversized_names_read_as_absent(db):
    long = b"n" * 256
    z = db.zset
    assert z.get(long, b"m") is None
    assert z.get(b"z", long) is None
    assert z.score(long, b"m") is None
    assert list(z.iter_index(long)) == []
    assert list(z.iter_members(long)) == []
    assert z.range(long, 0, 10) == []
    assert z.scan(long, b"", None, None, 10) == []
    assert z.clear(long) == 0
    assert z.fix(long) == 0
    assert z.size(long) == 0


def test_max_length_names_work(db):
    name, member = b"n" * 255, b"\xff" * 255
    assert db.zset.set(name, member, INT64_MAX) == 1
    db.commit()
    assert db.zset.range(name, 0, 10, reverse=True) == [(member, INT64_MAX)]
    assert db.zset.rank(name, member, reverse=True) == 0
    assert list(db.zset.iter_members(name)) == [(member, b"9223372036854775807")]


def test_incr_wraps(db):
    z = db.zset
    assert z.incr(b"z", b"a", 5) == 5
    z.set(b"z", b"a", INT64_MAX)
    assert z.incr(b"z", b"a", 1) == INT64_MIN
    assert z.get(b"z", b"a") == b"-9223372036854775808"


def test_reopen_keeps_data(tmp_path):
    d = Database.open(str(tmp_path))
    fill(d, b"z", {b"a": 1, b"b": INT64_MAX})
    d.close()
    d = Database.open(str(tmp_path))
    try:
        assert d.zset.size(b"z") == 2
        assert d.zset.range(b"z", 0, 10, reverse=True) == [(b"b", INT64_MAX), (b"a", 1)]
    finally:
        d.close()


# --- names ---------------------------------------------------------------------------------------
def test_list_names(db):
    for name in (b"aa", b"z", b"z2"):
        fill(db, name, {b"m": 1})
    ls = db.zset.list_names
    assert ls(b"", b"", 10) == [b"aa", b"z", b"z2"]
    assert ls(b"z", b"", 10) == [b"z2"]
    assert ls(b"", b"z", 10) == [b"aa", b"z"]
    assert ls(b"", b"", 1) == [b"aa"]
    assert ls(b"", b"", 0) == []
    assert ls(b"", b"", 10, reverse=True) == [b"z2", b"z", b"aa"]
    assert ls(b"z2", b"", 10, reverse=True) == [b"z", b"aa"]
    # an inclusive end that is the only name in range (plyvel's reverse-start pitfall)
    assert ls(b"z", b"aa", 10, reverse=True) == [b"aa"]
    assert ls(b"z2", b"z", 10, reverse=True) == [b"z"]
    assert ls(b"", b"z2", 10, reverse=True) == [b"z2"]


def test_list_names_ignores_other_types(db):
    fill(db, b"z", {b"m": 1})
    db.engine.put(b"Hh", keys.pack_i64le(1))
    db.engine.put(b"[x", b"")
    db.commit()
    assert db.zset.list_names(b"", b"", 10) == [b"z"]
    assert db.zset.list_names(b"", b"", 10, reverse=True) == [b"z"]
