"""Replay the recorded SSDB 1.9.8 zset vectors in-process through the dispatcher.

Every line of ``vectors/zset.jsonl`` must give exactly the recorded reply,
except the lines in :data:`DELIBERATE_FIXES`: there SSDB 1.9.8 skips members
scored exactly INT64_MAX in reverse walks (commands.md §4.1) and ssdbpy
deliberately answers correctly instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ssdbpy.commands.kv  # noqa: F401  (registers the kv commands)
import ssdbpy.commands.zset  # noqa: F401  (registers the zset commands)
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
from ssdbpy.db.database import Database

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "vectors"
ZSET_VECTORS = VECTORS / "zset.jsonl"

MAX = "9223372036854775807"

#: Vectors whose recorded reply shows SSDB 1.9.8's reverse-walk bug (members
#: scored exactly INT64_MAX are skipped).  line number -> (request, reason,
#: the correct reply ssdbpy gives instead).  State at these lines: z holds
#: g=INT64_MIN … a, f=h=INT64_MAX; f < h by member bytes, so descending is h, f.
DELIBERATE_FIXES: dict[int, tuple[list[str], str, list[str]]] = {
    25: (
        ["zrrange", "z", "0", "3"],
        "zrrange skips f and h (score INT64_MAX) in SSDB 1.9.8",
        ["ok", "h", MAX, "f", MAX, "a", "20"],
    ),
    31: (
        ["zrrank", "z", "a"],
        "zrrank walks from below the INT64_MAX members in SSDB 1.9.8 (h, f rank 0, 1)",
        ["ok", "2"],
    ),
    40: (
        ["zrscan", "z", "", "", "", "100"],
        "zrscan with empty score_start skips f and h (score INT64_MAX) in SSDB 1.9.8",
        ["ok", "h", MAX, "f", MAX, "a", "20", "d", "1", "e", "0", "c", "0", "b", "-5",
         "g", "-9223372036854775808"],
    ),
    71: (
        ["redis_zrrange", "z", "0", "1"],
        "redis_zrrange skips f and h (score INT64_MAX) in SSDB 1.9.8",
        ["ok", "h", MAX, "f", MAX],
    ),
}

_ESC = re.compile(rb"\\\\|\\x([0-9a-f]{2})")


def unescape(s: str) -> bytes:
    """Vector string -> bytes: ``\\\\`` is one backslash, ``\\xNN`` one byte."""
    return _ESC.sub(lambda m: bytes((int(m.group(1), 16),)) if m.group(1) else b"\\", s.encode("ascii"))


def load(path: Path) -> list[tuple[int, dict]]:
    with path.open(encoding="ascii") as f:
        return [(i, json.loads(line)) for i, line in enumerate(f, 1) if line.strip()]


def _params():
    if not ZSET_VECTORS.is_file():
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(i, id=f"line{i}") for i, _ in load(ZSET_VECTORS)]


def _matches(vec: dict, got: list[bytes]) -> bool:
    kind = vec.get("expect_kind")
    if kind == "int":
        return len(got) == 2 and got[0] == b"ok" and re.fullmatch(rb"-?[0-9]+", got[1]) is not None
    if kind == "ok_any":
        return bool(got) and got[0] == b"ok"
    return got == [unescape(b) for b in vec["expect"]]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict[int, tuple[dict, list[bytes]]]:
    """Replay the whole file once, in order, on a fresh database; line -> (vector, reply)."""
    assert ZSET_VECTORS.is_file(), f"vectors not found: {ZSET_VECTORS}"
    db = Database.open(str(tmp_path_factory.mktemp("zset_vectors")))
    ctx = Context(ServerState(db))
    out: dict[int, tuple[dict, list[bytes]]] = {}
    try:
        for lineno, vec in load(ZSET_VECTORS):
            if "config" in vec:
                assert not vec["config"], "zset vectors need no server options"
                continue
            reply = execute(ctx, [unescape(a) for a in vec["send"]])
            db.commit()
            out[lineno] = (vec, list(reply))
    finally:
        db.close()
    return out


@pytest.mark.parametrize("lineno", _params())
def test_vector(replayed, lineno):
    assert lineno is not None, f"vectors not found: {ZSET_VECTORS}"
    vec, got = replayed[lineno]
    if lineno in DELIBERATE_FIXES:
        _send, reason, correct = DELIBERATE_FIXES[lineno]
        assert got == [unescape(b) for b in correct], f"deliberate fix ({reason}): {vec['send']}"
    else:
        assert _matches(vec, got), f"{vec['send']}: expected {vec['expect']}, got {got}"


def test_deliberate_fixes_match_the_file():
    """Each listed line still holds that request, and SSDB's recorded reply differs from ours."""
    assert ZSET_VECTORS.is_file(), f"vectors not found: {ZSET_VECTORS}"
    vectors = dict(load(ZSET_VECTORS))
    for lineno, (send, _reason, correct) in DELIBERATE_FIXES.items():
        vec = vectors[lineno]
        assert vec["send"] == send, lineno
        assert vec["expect"] != correct, lineno
        assert MAX not in vec["expect"], lineno  # the bug: no INT64_MAX member in a reverse walk


def test_unescape():
    assert unescape("bin\\x00\\xff\\\\key") == b"bin\x00\xff\\key"
    assert unescape("plain") == b"plain"
    assert unescape("\\\\x41") == b"\\x41"


# --- handler behaviour beyond the recorded vectors (commands.md §4) -------------------------------
@pytest.fixture
def run(tmp_path):
    db = Database.open(str(tmp_path))
    ctx = Context(ServerState(db))

    def call(*args: str | bytes) -> list[bytes]:
        reply = execute(ctx, [a.encode() if isinstance(a, str) else a for a in args])
        db.commit()
        return list(reply)

    yield call
    db.close()


def test_empty_and_oversized_names(run):
    long = b"x" * 256
    assert run("zincr", "", "m", "5") == [b"ok", b"5"]  # computed, nothing stored
    assert run("zincr", "z", "", "5") == [b"ok", b"5"]
    assert run("zlist", "", "", "10") == [b"ok"]
    assert run("zincr", "z", long, "1") == [b"error"]
    assert run("zset", long, "m", "1") == [b"error"]
    assert run("zset", "", long, "1") == [b"ok", b"0"]  # the empty check comes first
    assert run("zdel", "z", long) == [b"error"]
    assert run("zget", long, "m") == [b"not_found"]
    assert run("zexists", "z", long) == [b"ok", b"0"]
    assert run("zrank", long, "m") == [b"not_found"]
    assert run("zscan", long, "", "", "", "10") == [b"ok"]
    assert run("zclear", long) == [b"ok", b"0"]
    assert run("zset", "z", b"y" * 255, "1") == [b"ok", b"1"]


def test_multi_writes_stop_at_the_first_invalid_member(run):
    long = b"x" * 256
    assert run("multi_zset", "z", "a", "1", long, "2", "b", "3") == [b"error"]
    assert run("zrange", "z", "0", "-1") == [b"ok", b"a", b"1"]  # earlier members stay written
    assert run("multi_zset", "", "a", "1") == [b"ok", b"0"]
    assert run("multi_zset", "z") == [b"client_error"]
    assert run("multi_zset", "z", "a") == [b"client_error"]
    assert run("multi_zdel", "z", "a", long) == [b"error"]
    assert run("zsize", "z") == [b"ok", b"0"]
    assert run("multi_zdel", "z") == [b"client_error", b"wrong number of arguments"]


def test_number_parsing(run):
    assert run("zset", "z", "a", " -12abc") == [b"ok", b"1"]
    assert run("zget", "z", "a") == [b"ok", b"-12"]
    assert run("zdecr", "z", "a", "-9223372036854775808") == [b"ok", b"9223372036854775796"]
    assert run("zincr", "z", "a", "9223372036854775807") == [b"ok", b"-13"]  # int64 wrap
    assert run("zrange", "z", "0", "-1") == [b"ok", b"a", b"-13"]  # uint parse: -1 = all
    assert run("zrange", "z", "abc", "1") == [b"ok", b"a", b"-13"]


def test_aggregates(run):
    run("multi_zset", "z", "a", "1", "b", "2", "c", "9223372036854775807", "d", "9223372036854775807")
    assert run("zavg", "z", "1", "2") == [b"ok", b"1.500000"]
    assert run("zavg", "z", "", "") == [b"ok", b"0.250000"]  # the sum wraps: 3 + 2*MAX = 1 (mod 2**64)
    assert run("zsum", "z", "", "") == [b"ok", b"1"]
    assert run("zavg", "", "", "") == [b"ok", b"-nan"]
    assert run("zcount", "z", "2", "") == [b"ok", b"3"]
    assert run("zavg", "z", "3", "9223372036854775806") == [b"ok", b"-nan"]


def test_scan_offset_mode(run):
    run("multi_zset", "z", "a", "1", "b", "2", "c", "3", "d", "4")
    assert run("zscan", "z", "", "", "", "1", "2") == [b"ok", b"b", b"2", b"c", b"3"]
    assert run("zrscan", "z", "", "", "", "1", "2") == [b"ok", b"c", b"3", b"b", b"2"]
    assert run("zscan", "z", "", "", "", "1", "-1") == [b"ok"]  # offset + count wraps to 0
    assert run("zscan", "z", "", "", "", "0", "2") == [b"ok", b"a", b"1", b"b", b"2"]
    assert run("zkeys", "z", "", "", "", "1", "2") == [b"ok", b"a"]  # no offset mode
    assert run("zscan", "z", "b", "", "", "-1") == [b"ok", b"c", b"3", b"d", b"4"]
    assert run("zrscan", "z", "c", "", "", "-1") == [b"ok", b"b", b"2", b"a", b"1"]


def test_rank_ranges_and_pops(run):
    run("multi_zset", "z", "a", "1", "b", "2", "m", "9223372036854775807")
    assert run("zrrank", "z", "m") == [b"ok", b"0"]  # INT64_MAX members are ranked (fixed)
    assert run("zremrangebyrank", "z", "5", "1") == [b"ok", b"0"]
    assert run("redis_zrange", "z", "-100", "0") == [b"ok", b"a", b"1"]
    assert run("zpop_back", "z", "1") == [b"ok", b"m", b"9223372036854775807"]
    assert run("zpop_front", "z", "-1") == [b"ok", b"a", b"1", b"b", b"2"]
    assert run("zpop_back", "z", "1") == [b"ok"]
    assert run("zrank", "z", "a", "extra") == [b"not_found"]


def test_zrlist_and_arity(run):
    run("zset", "a", "m", "1")
    run("zset", "b", "m", "1")
    assert run("zrlist", "b", "a", "10") == [b"ok", b"a"]
    assert run("zrlist", "", "", "-1") == [b"ok", b"b", b"a"]
    for cmd, need in (("zget", 3), ("zscan", 6), ("zlist", 4), ("zpop_back", 3), ("redis_zrrange", 4), ("zfix", 2)):
        assert run(cmd, *["x"] * (need - 2)) == [b"client_error", b"wrong number of arguments"], cmd
