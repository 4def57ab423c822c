"""Hash command edge cases beyond the recorded vectors (the vectors themselves are
replayed by test_vectors_inprocess.py)."""

from __future__ import annotations

import pytest

from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)


# --- edge cases beyond the recorded vectors (commands.md §3) ------------------------------
@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    yield d
    d.close()


def test_multi_hset_stops_at_the_first_invalid_field(run):
    assert run(b"multi_hset", b"h", b"a", b"1", b"", b"2", b"c", b"3") == [b"error"]
    assert run(b"hgetall", b"h") == [b"ok", b"a", b"1"]
    assert run(b"multi_hset", b"h", b"a", b"1", b"b") == [b"client_error"]


def test_multi_hdel_error_keeps_earlier_deletes(run):
    run(b"multi_hset", b"h", b"a", b"1", b"b", b"2")
    assert run(b"multi_hdel", b"h", b"a", b"x" * 256, b"b") == [b"error"]
    assert run(b"hgetall", b"h") == [b"ok", b"b", b"2"]


def test_hincr_parsing_and_wrapping(run):
    assert run(b"hincr", b"h", b"n", b"5x") == [b"ok", b"5"]
    assert run(b"hincr", b"h", b"n", b"abc") == [b"ok", b"5"]
    assert run(b"hdecr", b"h", b"m", b"-9223372036854775808") == [b"ok", b"-9223372036854775808"]
    assert run(b"hincr", b"h", b"x", b"9223372036854775807") == [b"ok", b"9223372036854775807"]
    assert run(b"hincr", b"h", b"x") == [b"ok", b"-9223372036854775808"]
    assert run(b"hincr", b"", b"x") == [b"error"]


def test_long_names_read_as_missing(run):
    long = b"n" * 256
    assert run(b"hget", long, b"f") == [b"not_found"]
    assert run(b"hgetall", long) == [b"ok"]
    assert run(b"hsize", long) == [b"ok", b"0"]
    assert run(b"hclear", long) == [b"ok", b"0"]
    assert run(b"hset", long, b"f", b"v") == [b"error"]


def test_scan_limits_are_uint_parsed(run):
    run(b"multi_hset", b"h", b"a", b"1", b"b", b"2", b"\xff", b"3")
    assert run(b"hkeys", b"h", b"", b"", b"-1") == [b"ok", b"a", b"b", b"\xff"]
    assert run(b"hkeys", b"h", b"", b"", b"abc") == [b"ok"]
    assert run(b"hrscan", b"h", b"", b"", b"-1") == [b"ok", b"\xff", b"3", b"b", b"2", b"a", b"1"]
    assert run(b"hlist", b"", b"", b"-1") == [b"ok", b"h"]
