"""Long commands: the ``long`` tests of the table, and a write command that yields
(ctx.cooperate) never rolls back another connection's writes."""

from __future__ import annotations

import pytest

import ssdbpy.commands.all  # noqa: F401
from ssdbpy.commands import pacing
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute, run
from ssdbpy.commands.registry import COMMANDS, WRITE, Command
from ssdbpy.db.database import Database

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def state(tmp_path):
    db = Database.open(str(tmp_path))
    yield ServerState(db)
    db.close()


def long(state, *args) -> bool:
    a = [x if isinstance(x, bytes) else str(x).encode() for x in args]
    return COMMANDS[a[0]].long(Context(state), a)


def test_long_tests_look_at_counts_and_sizes(state):
    db = state.db
    big = pacing.LONG + 1
    assert long(state, "keys", "", "", big) and long(state, "scan", "", "", -1)
    assert not long(state, "keys", "", "", 10) and not long(state, "keys", "")
    for i in range(big):
        db.hash.set(b"h", b"%d" % i, b"")
    db.commit()
    assert long(state, "hgetall", "h") and long(state, "hclear", "h") and long(state, "hscan", "h", "", "", -1)
    assert not long(state, "hscan", "h", "", "", 10) and not long(state, "hgetall", "small")
    assert not long(state, "zrange", "z", 0, -1) and not long(state, "qclear", "q")
    assert long(state, "flushdb")
    assert long(state, "multi_get", *range(big)) and not long(state, "multi_get", "a")
    assert not long(state, "scan", "", "", "junk")


def test_every_long_command_is_registered_with_a_test():
    for name in (b"keys", b"rkeys", b"scan", b"rscan", b"hgetall", b"hkeys", b"hvals", b"hscan", b"hrscan",
                 b"hlist", b"zscan", b"zrscan", b"zkeys", b"zrange", b"zrrange", b"zcount", b"zlist",
                 b"qrange", b"qslice", b"qlist", b"hclear", b"zclear", b"qclear", b"flushdb", b"multi_get"):
        assert COMMANDS[name].long is not None, name


def test_a_yielding_write_rolls_back_only_its_own_slice(state):
    db = state.db
    ctx = Context(state)

    def other_connection() -> bool:
        db.commit()  # the pause commits the slice before yielding
        db.kv.set(b"other", b"1")  # another connection stages a write meanwhile
        return True

    state.pause = other_connection

    def handler(ctx, args):
        db.kv.set(b"slice1", b"x")
        ctx.cooperate()
        db.kv.set(b"slice2", b"x")
        raise RuntimeError("fails half-way")

    reply = run(ctx, Command(b"t", handler, 1, WRITE), [b"t"])
    assert reply[0] == b"error"
    db.commit()
    assert db.kv.get(b"other") == b"1"  # the other connection's write survives
    assert db.kv.get(b"slice1") == b"x"  # committed before the yield
    assert db.kv.get(b"slice2") is None  # rolled back
    assert db.binlog.last_seq == 2


def test_flushdb_inline_empties_the_db_and_releases_the_gate(state):
    db = state.db
    for i in range(1000):
        db.kv.set(b"k%d" % i, b"v")
    db.commit()
    ctx = Context(state)
    assert execute(ctx, [b"flushdb"]) == [b"ok"]
    assert not state.write_gate.held
    db.commit()
    assert list(db.engine.iterate()) == []
