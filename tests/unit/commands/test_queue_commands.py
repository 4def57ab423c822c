"""Queue command edge cases beyond the recorded vectors (the vectors themselves are
replayed by test_vectors_inprocess.py)."""

from __future__ import annotations

import pytest

from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)


# --- edge cases beyond the recorded vectors (commands.md §5) ------------------------------
@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    yield d
    d.close()


def test_qrange_limit_zero_and_negative(run):
    run(b"qpush", b"q", b"a", b"b", b"c")
    assert run(b"qrange", b"q", b"0", b"0") == [b"ok", b"a", b"b", b"c"]  # end = offset-1 = -1
    assert run(b"qrange", b"q", b"1", b"0") == [b"ok"]
    assert run(b"qrange", b"q", b"1", b"-5") == [b"ok", b"b", b"c"]


def test_pop_and_trim_sizes_are_uint_parsed(run):
    run(b"qpush", b"q", b"a", b"b", b"c", b"d", b"e")
    assert run(b"qpop_back", b"q", b"abc") == [b"ok"]
    assert run(b"qtrim_back", b"q", b"-1") == [b"ok", b"5"]
    run(b"qpush", b"q", b"a", b"b")
    assert run(b"qpop", b"q", b"-1") == [b"ok", b"a", b"b"]
    assert run(b"qtrim_front", b"q", b"0") == [b"ok", b"0"]


def test_push_into_a_full_queue_keeps_earlier_items(run):
    from ssdbpy.db.queue import SEQ_MAX

    run(b"qpush", b"q", b"a")
    run.db.engine.put(b"q\x01q" + (3).to_bytes(8, "big"), (SEQ_MAX - 2).to_bytes(8, "little"))
    assert run(b"qpush", b"q", b"b", b"c") == [b"error"]
    assert run(b"qsize", b"q") == [b"ok", b"2"]
    assert run(b"qback", b"q") == [b"ok", b"b"]
    assert run(b"qpush_front", b"q", b"z") == [b"ok", b"3"]


def test_corrupt_records_answer_error(run):
    run(b"qpush", b"q", b"a")
    run.db.engine.put(b"Qq", b"\x01")
    assert run(b"qsize", b"q") == [b"error"]
    assert run(b"qpush", b"q", b"b") == [b"error"]
    assert run(b"qpop", b"q") == [b"error"]
    assert run(b"qpop", b"q", b"2") == [b"ok"]
    assert run(b"qset", b"q", b"0", b"x") == [b"error", b"index out of range"]
    assert run(b"qfix", b"q") == [b"ok"]
    assert run(b"qsize", b"q") == [b"ok", b"1"]


def test_long_names(run):
    long = b"n" * 256
    assert run(b"qpush", long, b"x") == [b"error"]
    assert run(b"qpop", long) == [b"not_found"]
    assert run(b"qsize", long) == [b"ok", b"0"]
    assert run(b"qslice", long, b"0", b"-1") == [b"ok"]
    assert run(b"qset", long, b"0", b"x") == [b"error", b"index out of range"]
    assert run(b"qclear", long) == [b"ok", b"0"]
