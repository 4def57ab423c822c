"""ssdbpy.db.hash: byte layout (storage.md §4), binlog records (§8), scan bounds, clear/fix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy import errors
from ssdbpy.cnum import INT64_MAX, INT64_MIN
from ssdbpy.db import hash as hashmod
from ssdbpy.db.database import Database
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    yield d
    d.close()


def data_items(db) -> list[tuple[bytes, bytes]]:
    """Every committed non-binlog record."""
    db.commit()
    return [(k, v) for k, v in db.engine.iterate() if not k.startswith(keys.BINLOG)]


def records(db) -> list[tuple[int, int, bytes]]:
    """``(type, cmd, key)`` of every binlog record, in sequence order."""
    db.commit()
    return [(r.type, r.cmd, r.key) for r in (bl.Record.decode(v) for _k, v in db.engine.iterate(keys.BINLOG, b"\x02"))]


# --- storage.md §4 / §8 -----------------------------------------------------------------
def test_layout_of_the_storage_md_example(db):
    assert db.hash.set(b"h1", b"f1", b"x") == 1
    assert db.hash.set(b"h1", b"f2", b"y") == 1
    assert data_items(db) == [
        (b"Hh1", b"\x02\x00\x00\x00\x00\x00\x00\x00"),
        (b"h\x02h1=f1", b"x"),
        (b"h\x02h1=f2", b"y"),
    ]
    assert records(db) == [(bl.SYNC, bl.HSET, b"h\x02h1=f1"), (bl.SYNC, bl.HSET, b"h\x02h1=f2")]
    raw = db.engine.get(keys.encode_binlog_key(1))
    assert raw == b"\x01\x00\x00\x00\x00\x00\x00\x00" + b"\x01\x03" + b"h\x02h1=f1"


def test_identical_value_writes_and_logs_nothing(db):
    db.hash.set(b"h", b"f", b"v")
    db.commit()
    assert db.hash.set(b"h", b"f", b"v") == 0
    assert not db.engine.dirty
    assert db.hash.set(b"h", b"f", b"v2") == 0
    assert records(db) == [(bl.SYNC, bl.HSET, b"h\x01h=f")] * 2
    assert db.hash.get(b"h", b"f") == b"v2" and db.hash.size(b"h") == 1


def test_delete_logs_only_existing_fields_and_drops_the_size_at_zero(db):
    db.hash.set(b"h", b"a", b"1")
    db.hash.set(b"h", b"b", b"2")
    assert db.hash.delete(b"h", b"zz") == 0
    assert db.hash.delete(b"h", b"a") == 1
    assert db.engine.get(b"Hh") == b"\x01" + b"\x00" * 7
    assert db.hash.delete(b"h", b"b") == 1
    assert data_items(db) == []
    assert [r[1:] for r in records(db)][2:] == [(bl.HDEL, b"h\x01h=a"), (bl.HDEL, b"h\x01h=b")]
    assert db.hash.list_names(b"", b"", 10) == []


@pytest.mark.parametrize(
    "name,field",
    [(b"", b"f"), (b"h", b""), (b"n" * 256, b"f"), (b"h", b"f" * 256)],
)
def test_invalid_names_are_errors_and_write_nothing(db, name, field):
    with pytest.raises(errors.ServerError) as exc:
        db.hash.set(name, field, b"v")
    assert exc.value.blocks() == [b"error"]
    assert data_items(db) == [] and records(db) == []


def test_255_byte_name_and_field_are_fine(db):
    n, f = b"n" * 255, b"f" * 255
    assert db.hash.set(n, f, b"v") == 1
    assert data_items(db) == [(b"H" + n, b"\x01" + b"\x00" * 7), (b"h\xff" + n + b"=" + f, b"v")]
    assert db.hash.delete(n, f) == 1
    with pytest.raises(errors.ServerError):
        db.hash.delete(b"h", b"f" * 256)
    assert db.hash.get(b"n" * 256, b"f") is None


def test_size_record_leniency(db):
    db.engine.put(b"Hbad", b"\x05")
    db.engine.put(b"Hneg", (-3).to_bytes(8, "little", signed=True))
    assert db.hash.size(b"bad") == 0 and db.hash.size(b"neg") == 0 and db.hash.size(b"none") == 0
    # as SSDB's incr_hsize, the record is rewritten from the lenient read
    db.hash.set(b"bad", b"f", b"v")
    assert db.engine.get(b"Hbad") == b"\x01" + b"\x00" * 7


def test_incr(db):
    h = db.hash
    assert h.incr(b"h", b"n", 5) == 5
    assert h.get(b"h", b"n") == b"5"
    assert h.incr(b"h", b"n", -7) == -2
    h.set(b"h", b"m", str(INT64_MAX).encode())
    assert h.incr(b"h", b"m", 1) == INT64_MIN  # wraps like incr (commands.md §2.1)
    h.set(b"h", b"s", b" 12")
    assert h.incr(b"h", b"s", 1) == 13
    h.set(b"h", b"t", b"1.5")
    with pytest.raises(errors.ServerError) as exc:
        h.incr(b"h", b"t", 1)
    assert exc.value.blocks() == [b"error", errors.MSG_NOT_INTEGER]
    with pytest.raises(errors.ServerError) as exc:
        h.incr(b"", b"t", 1)
    assert exc.value.blocks() == [b"error"]
    assert [r[1] for r in records(db)].count(bl.HSET) == 7


def test_scan_bounds(db):
    h = db.hash
    for f in (b"a", b"b", b"c", b"\xff", b"\xff\x01"):
        h.set(b"h", f, f.upper())
    h.set(b"h2", b"a", b"other")
    h.set(b"g", b"z", b"other")
    fields = lambda it: [f for f, _ in it]  # noqa: E731
    assert fields(h.scan(b"h", b"", b"", 100)) == [b"a", b"b", b"c", b"\xff", b"\xff\x01"]
    assert fields(h.scan(b"h", b"a", b"c", 100)) == [b"b", b"c"]
    assert fields(h.scan(b"h", b"", b"", 2)) == [b"a", b"b"]
    assert fields(h.scan(b"h", b"c", b"a", 100)) == []
    assert fields(h.scan(b"h", b"", b"", 0)) == []
    assert fields(h.rscan(b"h", b"", b"", 100)) == [b"\xff\x01", b"\xff", b"c", b"b", b"a"]
    assert fields(h.rscan(b"h", b"c", b"a", 100)) == [b"b", b"a"]
    assert fields(h.rscan(b"h", b"c", b"", 1)) == [b"b"]
    assert list(h.items(b"h2")) == [(b"a", b"other")]
    assert list(h.scan(b"nope", b"", b"", 10)) == [] and list(h.rscan(b"nope", b"", b"", 10)) == []


def test_clear_deletes_field_by_field(db, monkeypatch):
    monkeypatch.setattr(hashmod, "CLEAR_BATCH", 3)
    for i in range(7):
        db.hash.set(b"h", b"f%d" % i, b"v")
    db.hash.set(b"other", b"f", b"v")
    db.commit()
    assert db.hash.clear(b"h") == 7
    assert data_items(db) == [(b"Hother", b"\x01" + b"\x00" * 7), (b"h\x05other=f", b"v")]
    assert records(db)[8:] == [(bl.SYNC, bl.HDEL, b"h\x01h=f%d" % i) for i in range(7)]
    assert db.hash.clear(b"h") == 0


def test_fix_rewrites_the_size_without_binlog(db):
    db.hash.set(b"h", b"a", b"1")
    db.hash.set(b"h", b"b", b"2")
    db.engine.put(b"Hh", b"\x09" + b"\x00" * 7)
    db.engine.put(b"Hghost", b"\x09" + b"\x00" * 7)
    n_records = len(records(db))
    assert db.hash.fix(b"h") == 2
    assert db.hash.fix(b"ghost") == 0
    assert db.engine.get(b"Hh") == b"\x02" + b"\x00" * 7
    assert db.engine.get(b"Hghost") is None
    assert len(records(db)) == n_records


def test_list_names(db):
    for n in (b"h", b"h2", b"h3", b"a1"):
        db.hash.set(n, b"x", b"1")
    db.commit()
    assert db.hash.list_names(b"", b"", 10) == [b"a1", b"h", b"h2", b"h3"]
    assert db.hash.list_names(b"a", b"h2", 10) == [b"a1", b"h", b"h2"]
    assert db.hash.list_names(b"h3", b"h", 10, reverse=True) == [b"h2", b"h"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"\x00", b"\xff"]), st.binary(max_size=3), st.booleans()),
                max_size=30))
def test_size_record_tracks_the_fields(tmp_path_factory, ops):
    db = Database.open(str(tmp_path_factory.mktemp("h")))
    try:
        model: dict[bytes, bytes] = {}
        for field, value, is_set in ops:
            if is_set:
                assert db.hash.set(b"h", field, value) == (field not in model)
                model[field] = value
            else:
                assert db.hash.delete(b"h", field) == (field in model)
                model.pop(field, None)
        assert db.hash.size(b"h") == len(model)
        assert dict(db.hash.items(b"h")) == model
        assert (db.engine.get(b"Hh") is None) == (not model)
    finally:
        db.close()
