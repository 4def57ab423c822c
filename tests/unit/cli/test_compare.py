"""ssdb-compare's bisection: midpoints split a name range, and differing keys are found with
digest requests answered here by in-process databases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.apps.compare import Comparer, midpoint
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
import ssdbpy.commands.all  # noqa: F401  (registers every command)
from ssdbpy.db.database import Database


@given(st.binary(max_size=6), st.binary(max_size=6))
def test_midpoint_lies_strictly_inside(a, b):
    lo, hi = min(a, b), max(a, b)
    for end in (hi, b""):
        m = midpoint(lo, end)
        if end and lo >= end:
            assert m is None
            continue
        if m is not None:
            assert lo < m and (not end or m < end)


def test_comparer_names_the_keys_that_differ(tmp_path):
    dbs, asks = [], []
    for i in range(3):
        (tmp_path / str(i)).mkdir()
        db = Database.open(str(tmp_path / str(i)))
        ctx = Context(ServerState(db))
        for k in range(500):
            db.kv.set(b"key%04d" % k, b"v")
        db.hash.set(b"h", b"f", b"v")
        db.commit()
        dbs.append(db)
        asks.append(lambda *req, ctx=ctx: execute(ctx, [x if isinstance(x, bytes) else str(x).encode() for x in req]))
    dbs[1].kv.set(b"key0321", b"other")
    dbs[2].hash.delete(b"h", b"f")
    for db in dbs:
        db.commit()
    cmp = Comparer(["a", "b", "c"], asks, leaf=16)
    for kind in ("kv", "hash", "zset", "queue"):
        cmp.compare(kind)
    assert [(k, n) for k, n, _s in cmp.differences] == [("kv", b"key0321"), ("hash", b"h")]
    kv_seen = cmp.differences[0][2]
    assert kv_seen["a"] == kv_seen["c"] != kv_seen["b"]
    assert cmp.differences[1][2]["c"] is None
    assert cmp.requests < 3 * 120  # bisection, not one request per key
    for db in dbs:
        db.close()
