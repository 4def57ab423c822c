"""ssdbpy.db.slices and the long walks that use it: same results, ``cooperate`` between slices,
and what other clients do while a clear yields stays consistent."""

from __future__ import annotations

import pytest

from ssdbpy.db import slices
from ssdbpy.db.database import Database

pytestmark = pytest.mark.timeout(60)

STEP = slices.STEP


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    yield d
    d.close()


class Calls:
    def __init__(self, during=None) -> None:
        self.n = 0
        self.during = during

    def __call__(self) -> None:
        self.n += 1
        if self.during is not None:
            self.during(self.n)


@pytest.mark.parametrize("n", [0, 1, STEP - 1, STEP, STEP + 1, 5 * STEP + 7])
def test_collect_count_skip_match_plain_python(n):
    c = Calls()
    assert slices.collect(iter(range(n)), c) == list(range(n))
    assert c.n == n // STEP
    pairs = [(i, -i) for i in range(n)]
    assert slices.collect_flat(iter(pairs), Calls(), ["ok"]) == ["ok"] + [x for p in pairs for x in p]
    assert slices.count(iter(range(n)), Calls()) == n
    for k in (0, 1, STEP, n, n + 3):
        it = iter(range(n))
        slices.skip(it, k, Calls())
        assert list(it) == list(range(n))[k:]


def test_scans_give_the_same_result_with_cooperate(db):
    n = 3 * STEP + 5
    for i in range(n):
        db.hash.set(b"h", b"f%05d" % i, b"v%d" % i)
        db.zset.set(b"z", b"m%05d" % i, n - i)
        db.kv.set(b"k%05d" % i, b"v")
    db.queue.push(b"q", [b"i%d" % i for i in range(n)])
    db.commit()
    z = db.zset
    for kw in ({}, {"reverse": True}):
        c = Calls()
        assert z.range(b"z", 7, n, cooperate=c, **kw) == z.range(b"z", 7, n, **kw)
        assert c.n >= 2
    assert z.scan(b"z", b"", None, None, n, 300, False, Calls()) == z.scan(b"z", b"", None, None, n, 300)
    assert z.count(b"z", None, None, Calls()) == n
    assert z.sum_count(b"z", None, None, Calls()) == z.sum_count(b"z", None, None)
    assert z.rank(b"z", b"m00000", cooperate=Calls()) == n - 1
    c = Calls()
    assert db.queue.slice(b"q", 0, -1, c) == [b"i%d" % i for i in range(n)]
    assert c.n >= 2
    assert db.hash.list_names(b"", b"", 10, cooperate=Calls()) == [b"h"]


def test_hclear_skips_fields_deleted_and_keeps_fields_added_while_it_yields(db):
    n = 4 * STEP
    for i in range(n):
        db.hash.set(b"h", b"f%05d" % i, b"v")
    db.commit()

    def other_client(call: int) -> None:
        db.commit()  # the server commits the slice before yielding
        if call == 1:
            assert db.hash.delete(b"h", b"f%05d" % (n - 1)) == 1  # not reached yet
            assert db.hash.set(b"h", b"new", b"x") == 1  # after the walk's snapshot

    assert db.hash.clear(b"h", Calls(other_client)) == n - 1
    db.commit()
    assert list(db.hash.items(b"h")) == [(b"new", b"x")]
    assert db.hash.size(b"h") == 1


def test_zclear_skips_members_deleted_or_rescored_while_it_yields(db):
    n = 4 * STEP
    for i in range(n):
        db.zset.set(b"z", b"m%05d" % i, i)
    db.commit()

    def other_client(call: int) -> None:
        db.commit()
        if call == 1:
            assert db.zset.delete(b"z", b"m%05d" % (n - 1)) == 1
            assert db.zset.set(b"z", b"m%05d" % (n - 2), -5) == 0  # moved before the walk's position
            assert db.zset.set(b"z", b"late", 10**9) == 1

    assert db.zset.clear(b"z", Calls(other_client)) == n - 1
    db.commit()
    assert db.zset.range(b"z", 0, 100) == [(b"late", 10**9)]
    assert db.zset.size(b"z") == 1


def test_qclear_cooperates(db):
    db.queue.push(b"q", [b"x"] * (3 * STEP))
    c = Calls()
    assert db.queue.clear(b"q", c) == 3 * STEP
    assert c.n == 3
    assert db.queue.size(b"q") == 0
