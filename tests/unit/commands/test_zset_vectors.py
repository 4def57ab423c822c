"""Replay the recorded SSDB 1.9.8 zset vectors in-process through the dispatcher.

Every line of ``vectors/zset.jsonl`` must give exactly the recorded reply,
except the lines in :data:`DELIBERATE_FIXES`: there SSDB 1.9.8 skips members
scored exactly INT64_MAX in reverse walks (commands.md §4.1) and ssdbpy
deliberately answers correctly instead.
"""

from __future__ import annotations

import pytest

from tests.harness.inprocess import Dispatcher, line_numbers, matches, replay
from tests.harness.vectors import VECTORS, load

FILE = "zset.jsonl"
LINES = line_numbers(FILE)

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

def test_vector_file_present():
    assert LINES, f"{FILE} not found"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    return replay(FILE, tmp_path_factory.mktemp("zset_vectors"))


@pytest.mark.parametrize("lineno", LINES)
def test_vector(replayed, lineno):
    v, got = replayed[lineno]
    if lineno in DELIBERATE_FIXES:
        _send, reason, correct = DELIBERATE_FIXES[lineno]
        assert got == [b.encode() for b in correct], f"deliberate fix ({reason}): {v.send}"
    else:
        assert matches(v, got), f"{v.id} {v.send}: expected {v.expect}, got {got}"


def test_deliberate_fixes_match_the_file():
    """Each listed line still holds that request, and SSDB's recorded reply differs from ours."""
    vectors = {v.line: v for v in load(VECTORS / FILE)[1]}
    for lineno, (send, _reason, correct) in DELIBERATE_FIXES.items():
        v = vectors[lineno]
        assert v.send == [a.encode() for a in send], lineno
        assert v.expect != [b.encode() for b in correct], lineno
        assert MAX.encode() not in v.expect, lineno  # the bug: no INT64_MAX member in a reverse walk


# --- handler behaviour beyond the recorded vectors (commands.md §4) -------------------------------
@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)

    def call(*args: str | bytes) -> list[bytes]:
        return d(*[a.encode() if isinstance(a, str) else a for a in args])

    yield call
    d.close()


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
