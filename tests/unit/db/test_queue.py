"""ssdbpy.db.queue: byte layout (storage.md §7), binlog records (§8), sequences, slices, fix."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy import errors
from ssdbpy.db.database import Database
from ssdbpy.db.queue import SEQ_INIT, SEQ_MAX, SEQ_MIN
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

pytestmark = pytest.mark.timeout(60)

BE = struct.Struct(">Q").pack
LE = struct.Struct("<Q").pack


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    yield d
    d.close()


def data_items(db) -> list[tuple[bytes, bytes]]:
    db.commit()
    return [(k, v) for k, v in db.engine.iterate() if not k.startswith(keys.BINLOG)]


def records(db) -> list[tuple[int, bytes]]:
    """``(cmd, key)`` of every binlog record, in sequence order."""
    db.commit()
    return [(r.cmd, r.key) for r in (bl.Record.decode(v) for _k, v in db.engine.iterate(keys.BINLOG, b"\x02"))]


def items(db, name: bytes) -> list[bytes]:
    return db.queue.slice(name, 0, -1)


# --- storage.md §7 / §8 -----------------------------------------------------------------
def test_layout_of_the_storage_md_example(db):
    q = db.queue
    assert SEQ_INIT == 0x3FFFFFFFFFFFFFFF
    assert q.push(b"q1", [b"a", b"b"]) == 2
    assert q.push(b"q1", [b"c"], back=False) == 3
    assert data_items(db) == [
        (b"Qq1", bytes.fromhex("0300000000000000")),
        (b"q\x02q1\x00\x00\x00\x00\x00\x00\x00\x02", bytes.fromhex("feffffffffffff3f")),
        (b"q\x02q1\x00\x00\x00\x00\x00\x00\x00\x03", bytes.fromhex("0000000000000040")),
        (b"q\x02q1?\xff\xff\xff\xff\xff\xff\xfe", b"c"),
        (b"q\x02q1?\xff\xff\xff\xff\xff\xff\xff", b"a"),
        (b"q\x02q1@\x00\x00\x00\x00\x00\x00\x00", b"b"),
    ]
    assert records(db) == [
        (bl.QPUSH_BACK, b"q\x02q1?\xff\xff\xff\xff\xff\xff\xff"),
        (bl.QPUSH_BACK, b"q\x02q1@\x00\x00\x00\x00\x00\x00\x00"),
        (bl.QPUSH_FRONT, b"q\x02q1?\xff\xff\xff\xff\xff\xff\xfe"),
    ]
    raw = db.engine.get(keys.encode_binlog_key(1))
    assert raw == LE(1) + b"\x01\x0a" + b"q\x02q1?\xff\xff\xff\xff\xff\xff\xff"


def test_first_push_front_uses_the_initial_seq(db):
    assert db.queue.push(b"q", [b"y", b"x"], back=False) == 2
    assert data_items(db)[1:] == [
        (b"q\x01q" + BE(2), LE(SEQ_INIT - 1)),
        (b"q\x01q" + BE(3), LE(SEQ_INIT)),
        (b"q\x01q" + BE(SEQ_INIT - 1), b"x"),
        (b"q\x01q" + BE(SEQ_INIT), b"y"),
    ]


def test_pops_log_the_raw_name_and_empty_queues_vanish(db):
    q = db.queue
    q.push(b"q", [b"a", b"b", b"c"])
    db.commit()
    assert q.pop(b"q") == b"a"
    assert db.engine.get(b"q\x01q" + BE(2)) == LE(SEQ_INIT + 1)
    assert q.pop(b"q", back=True) == b"c"
    assert db.engine.get(b"q\x01q" + BE(3)) == LE(SEQ_INIT + 1)
    assert db.engine.get(b"Qq") == LE(1)
    assert q.pop(b"q") == b"b"
    assert q.pop(b"q") is None and q.pop(b"q", back=True) is None
    assert data_items(db) == []
    assert records(db)[3:] == [(bl.QPOP_FRONT, b"q"), (bl.QPOP_BACK, b"q"), (bl.QPOP_FRONT, b"q")]


def test_empty_name_works_and_long_names_fail(db):
    assert db.queue.push(b"", [b"x"]) == 1
    assert db.engine.get(b"q\x00" + BE(SEQ_INIT)) == b"x"
    with pytest.raises(errors.ServerError) as exc:
        db.queue.push(b"n" * 256, [b"x"])
    assert exc.value.blocks() == [b"error"]
    assert db.queue.pop(b"n" * 256) is None and db.queue.size(b"n" * 256) == 0
    assert db.queue.push(b"n" * 255, [b"x"]) == 1


def test_queue_full_at_the_back_keeps_the_earlier_items(db):
    q = db.queue
    q.push(b"q", [b"a"])
    db.engine.put(b"q\x01q" + BE(3), LE(SEQ_MAX - 2))
    db.commit()
    n = len(records(db))
    with pytest.raises(errors.ServerError):
        q.push(b"q", [b"b", b"c", b"d"])
    db.commit()
    assert db.engine.get(b"q\x01q" + BE(SEQ_MAX - 1)) == b"b"
    assert db.engine.get(b"q\x01q" + BE(3)) == LE(SEQ_MAX - 1)
    assert q.size(b"q") == 2
    assert records(db)[n:] == [(bl.QPUSH_BACK, b"q\x01q" + BE(SEQ_MAX - 1))]
    with pytest.raises(errors.ServerError):
        q.push(b"q", [b"e"])
    assert q.size(b"q") == 2


def test_queue_full_at_the_front(db):
    q = db.queue
    q.push(b"q", [b"a"])
    db.engine.put(b"q\x01q" + BE(2), LE(SEQ_MIN + 1))
    db.commit()
    with pytest.raises(errors.ServerError):
        q.push(b"q", [b"z"], back=False)
    assert q.size(b"q") == 1 and db.engine.get(b"q\x01q" + BE(SEQ_MIN)) is None
    assert db.engine.get(b"q\x01q" + BE(2)) == LE(SEQ_MIN + 1)


def test_corrupt_records_fail_before_writing(db):
    q = db.queue
    q.push(b"q", [b"a"])
    db.engine.put(b"Qq", b"\x01")
    db.commit()
    before = data_items(db), records(db)
    for op in (lambda: q.push(b"q", [b"b"]), lambda: q.pop(b"q"), lambda: q.size(b"q")):
        with pytest.raises(errors.ServerError):
            op()
    assert (data_items(db), records(db)) == before
    db.engine.put(b"Qq", LE(1))
    db.engine.put(b"q\x01q" + BE(2), b"\x00")
    with pytest.raises(errors.ServerError):
        q.front(b"q")
    with pytest.raises(errors.ServerError):
        q.pop(b"q")
    assert q.pop(b"q", back=True) == b"a"
    db.engine.put(b"Qneg", struct.pack("<q", -1))
    with pytest.raises(errors.ServerError):
        q.size(b"neg")


def test_index_access(db):
    q = db.queue
    q.push(b"q", [b"a", b"b", b"c"])
    assert [q.get(b"q", i) for i in (0, 1, 2, 3, -1, -3, -4)] == [b"a", b"b", b"c", None, b"c", b"a", None]
    assert q.front(b"q") == b"a" and q.back(b"q") == b"c"
    db.commit()
    assert q.set(b"q", -1, b"C") and q.set(b"q", 0, b"A")
    assert not q.set(b"q", 3, b"x") and not q.set(b"q", -4, b"x") and not q.set(b"nope", 0, b"x")
    assert items(db, b"q") == [b"A", b"b", b"C"]
    assert records(db)[3:] == [(bl.QSET, b"q\x01q" + BE(SEQ_INIT + 2)), (bl.QSET, b"q\x01q" + BE(SEQ_INIT))]


def test_set_by_seq(db):
    q = db.queue
    q.push(b"q", [b"a", b"b"])
    assert q.set_by_seq(b"q", SEQ_INIT + 1, b"B")
    assert not q.set_by_seq(b"q", SEQ_INIT - 1, b"x")
    assert items(db, b"q") == [b"a", b"B"]


def test_first_seq_numbers_the_first_item_of_an_empty_queue_only(db):
    """Replication: an item pushed onto an empty queue can keep the master's sequence."""
    q = db.queue
    s = SEQ_INIT + 5
    assert q.push(b"q", [b"a", b"b"], first_seq=s) == 2
    assert q.push(b"q", [b"z"], back=False, first_seq=123456) == 3  # not empty: ignored
    assert data_items(db) == [
        (b"Qq", LE(3)),
        (b"q\x01q" + BE(2), LE(s - 1)), (b"q\x01q" + BE(3), LE(s + 1)),
        (b"q\x01q" + BE(s - 1), b"z"), (b"q\x01q" + BE(s), b"a"), (b"q\x01q" + BE(s + 1), b"b"),
    ]
    assert records(db) == [(bl.QPUSH_BACK, b"q\x01q" + BE(s)), (bl.QPUSH_BACK, b"q\x01q" + BE(s + 1)),
                           (bl.QPUSH_FRONT, b"q\x01q" + BE(s - 1))]
    assert (q.get_by_seq(b"q", s), q.get_by_seq(b"q", s + 2), q.get_by_seq(b"x" * 300, s)) == (b"a", None, None)
    for bad in (SEQ_MIN, SEQ_MAX, 0):  # outside (10000, 2**63-1): the initial seq
        assert q.push(b"r%d" % bad, [b"a"], first_seq=bad) == 1
        assert q.get_by_seq(b"r%d" % bad, SEQ_INIT) == b"a"


@pytest.mark.parametrize("n", [7, 100])  # point gets and the iterator path
def test_slice(db, n):
    q = db.queue
    vals = [b"%d" % i for i in range(n)]
    q.push(b"q", vals)
    q.push(b"other", [b"zz"])
    sl = q.slice
    assert sl(b"q", 0, -1) == vals
    assert sl(b"q", 1, 2) == vals[1:3]
    assert sl(b"q", -2, -1) == vals[-2:]
    assert sl(b"q", n - 2, n + 100) == vals[-2:]
    assert sl(b"q", 3, 1) == []
    assert sl(b"q", -n - 5, -1) == []  # starts before the front: first position is missing
    assert sl(b"q", 0, 2**63 - 1) == vals
    assert sl(b"nope", 0, -1) == []
    # a hole stops the slice
    db.engine.delete(b"q\x01q" + BE(SEQ_INIT + 3))
    assert sl(b"q", 0, -1) == vals[:3]
    assert sl(b"q", 4, -1) == vals[4:]


def test_clear_and_pop_many(db):
    q = db.queue
    q.push(b"q", [b"1", b"2", b"3", b"4", b"5"])
    assert q.pop_many(b"q", 2) == [b"1", b"2"]
    assert q.pop_many(b"q", 1, back=True) == [b"5"]
    assert q.pop_many(b"q", 0) == []
    assert q.clear(b"q") == 2
    assert q.clear(b"q") == 0
    assert data_items(db) == []
    assert [c for c, _ in records(db)][5:] == [bl.QPOP_FRONT] * 2 + [bl.QPOP_BACK] + [bl.QPOP_FRONT] * 2


def test_fix_rebuilds_size_and_pointers_without_binlog(db):
    q = db.queue
    q.push(b"q", [b"a", b"b", b"c"])
    db.engine.delete(b"Qq")
    db.engine.put(b"q\x01q" + BE(2), LE(5))
    db.engine.delete(b"q\x01q" + BE(3))
    db.engine.put(b"Qghost", LE(4))
    db.engine.put(b"q\x05ghost" + BE(2), LE(SEQ_INIT))
    n = len(records(db))
    q.fix(b"q")
    q.fix(b"ghost")
    assert data_items(db) == [
        (b"Qq", LE(3)),
        (b"q\x01q" + BE(2), LE(SEQ_INIT)),
        (b"q\x01q" + BE(3), LE(SEQ_INIT + 2)),
        (b"q\x01q" + BE(SEQ_INIT), b"a"),
        (b"q\x01q" + BE(SEQ_INIT + 1), b"b"),
        (b"q\x01q" + BE(SEQ_INIT + 2), b"c"),
    ]
    assert len(records(db)) == n


def test_list_names(db):
    for n in (b"q2", b"a1", b"q"):
        db.queue.push(n, [b"x"])
    db.queue.pop(b"q")
    db.commit()
    assert db.queue.list_names(b"", b"", 10) == [b"a1", b"q2"]
    assert db.queue.list_names(b"q", b"", 10) == [b"q2"]
    assert db.queue.list_names(b"", b"", 10, reverse=True) == [b"q2", b"a1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pb", "pf", "ob", "of"]), st.binary(max_size=2)), max_size=40))
def test_matches_a_deque(tmp_path_factory, ops):
    db = Database.open(str(tmp_path_factory.mktemp("q")))
    try:
        model: list[bytes] = []
        for op, v in ops:
            if op == "pb":
                assert db.queue.push(b"q", [v]) == len(model) + 1
                model.append(v)
            elif op == "pf":
                assert db.queue.push(b"q", [v], back=False) == len(model) + 1
                model.insert(0, v)
            elif op == "ob":
                assert db.queue.pop(b"q", back=True) == (model.pop() if model else None)
            else:
                assert db.queue.pop(b"q") == (model.pop(0) if model else None)
        assert db.queue.size(b"q") == len(model)
        assert items(db, b"q") == model
        assert [db.queue.get(b"q", i) for i in range(-len(model), len(model))] == model + model
    finally:
        db.close()
