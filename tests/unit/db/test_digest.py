"""db.digest: one hash over user-visible data and TTL deadlines, blind to versions, tombstones,
queue sequence numbers and write order."""

from __future__ import annotations

import pytest

from ssdbpy.db import digest as dg
from ssdbpy.db.database import Database
from ssdbpy.storage.keys import EXPIRE_ZSET

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pair(tmp_path):
    dbs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        dbs.append(Database.open(str(tmp_path / name)))
    yield dbs
    for d in dbs:
        d.close()


def fill(db: Database, reverse: bool = False) -> None:
    ops = [
        lambda: db.kv.set(b"k1", b"v1"),
        lambda: db.kv.set(b"k2", b"v2"),
        lambda: db.hash.set(b"h", b"f1", b"x"),
        lambda: db.hash.set(b"h", b"f2", b"y"),
        lambda: db.zset.set(b"z", b"m", 5),
        lambda: db.zset.set(EXPIRE_ZSET, b"k2", 1_900_000_000_123),
    ]
    for op in reversed(ops) if reverse else ops:
        op()
    db.commit()


def test_same_data_same_digest_whatever_the_history(pair):
    a, b = pair
    fill(a)
    b.enable_versions()  # versions and tombstones are not user data
    b.kv.set(b"gone", b"x")
    b.kv.delete(b"gone")
    b.hash.delete(b"h", b"nope")
    fill(b, reverse=True)
    # the same queue items at different sequences (as two nodes may hold them)
    a.queue.push(b"q", [b"1", b"2"], True)
    b.queue.push(b"q", [b"2"], True, first_seq=5_000_000)
    b.queue.push(b"q", [b"1"], False)
    a.commit()
    b.commit()
    assert dg.digest(a.engine) == dg.digest(b.engine)
    assert dg.digest(a.engine)[1] == 2 + 1 + 2 + 1  # kv k1 k2, hash h, zsets z + TTL index, queue q
    for kind in dg.TYPES:
        assert dg.digest(a.engine, (kind,)) == dg.digest(b.engine, (kind,))


@pytest.mark.parametrize("change", [
    lambda db: db.kv.set(b"k1", b"other"),
    lambda db: db.zset.set(EXPIRE_ZSET, b"k2", 1_900_000_000_124),  # a TTL deadline 1 ms later
    lambda db: db.hash.set(b"h", b"f3", b""),
    lambda db: db.zset.set(b"z", b"m", 6),
    lambda db: db.queue.push(b"q", [b"x"], True),
])
def test_any_user_visible_change_changes_the_digest(pair, change):
    a, b = pair
    fill(a)
    fill(b)
    assert dg.digest(a.engine) == dg.digest(b.engine)
    change(b)
    b.commit()
    assert dg.digest(a.engine) != dg.digest(b.engine)


def test_ranges_are_start_exclusive_end_inclusive(pair):
    a, _ = pair
    for k in (b"a", b"b", b"c", b"d"):
        a.kv.set(k, k)
    a.commit()
    assert dg.digest(a.engine, ("kv",), b"a", b"c")[1] == 2  # b, c
    assert dg.digest(a.engine, ("kv",), b"c", b"")[1] == 1  # d
    whole = dg.digest(a.engine, ("kv",))
    assert [n for _t, n, _d in dg.key_digests(a.engine, ("kv",), b"", b"b")] == [b"a", b"b"]
    assert whole != dg.digest(a.engine, ("kv",), b"a", b"")


def test_slices_call_cooperate(pair):
    a, _ = pair
    for i in range(2500):
        a.kv.set(b"k%05d" % i, b"v")
    a.commit()
    calls = []
    dg.digest(a.engine, ("kv",), cooperate=lambda: calls.append(1))
    assert len(calls) >= 2500 // dg.STEP
