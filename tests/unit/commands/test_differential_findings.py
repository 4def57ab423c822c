"""Edge cases found by the differential test (tests/compat), each reply as SSDB 1.9.8 gave it.

Every transcript here was sent to the reference server (a fresh one per
transcript) and its replies recorded; the in-process dispatcher must give the
same blocks.
"""

from __future__ import annotations

import pytest

from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)

OK0, OK1 = [b"ok", b"0"], [b"ok", b"1"]
NOT_INT = [b"error", b"value is not an integer or out of range"]


@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    yield d
    d.close()


def replay(run, transcript):
    for i, (req, want) in enumerate(transcript):
        got = run(*req)
        assert got == want, f"step {i}: {req!r}: {got!r} != SSDB's {want!r}"


def test_getbit_reads_offsets_as_c_int(run):
    """strtol truncated to int; C division and a signed char for negative offsets."""
    replay(run, [
        ((b"set", b"k", b"\x80\x01"), OK1),
        ((b"getbit", b"k", b"-1"), OK1),  # byte 0, bit number 8: set because 0x80 sign-extends
        ((b"getbit", b"k", b"-3"), OK1),
        ((b"getbit", b"k", b"-7"), OK1),
        ((b"getbit", b"k", b"-8"), OK0),  # byte -1: out of the value
        ((b"getbit", b"k", b"-9"), OK0),
        ((b"getbit", b"k", b"99999999999999999999"), OK1),  # INT64_MAX as int is -1
        ((b"getbit", b"k", b"4294967296"), OK1),  # as int: 0
        ((b"getbit", b"k", b"15"), OK1),
        ((b"getbit", b"k", b"1073741825"), OK0),  # no range check on reads
        ((b"set", b"k2", b"\x7f"), OK1),
        ((b"getbit", b"k2", b"-3"), OK0),
        ((b"getbit", b"k2", b"1"), OK1),
    ])


def test_setbit_checks_the_bit_first_and_reads_it_as_an_int(run):
    replay(run, [
        ((b"set", b"k", b"\x80\x01"), OK1),
        ((b"setbit", b"k", b"2147483648", b"abc"), [b"client_error", b"bit is not an integer or out of range"]),
        ((b"setbit", b"k", b"2147483648", b"1"), [b"client_error", b"offset is out of range [0, 1073741824]"]),
        ((b"setbit", b"k", b"3", b"1x"), OK0),  # 1: sets
        ((b"setbit", b"k", b"3", b"10"), OK1),  # 10 is not 1: clears
        ((b"getbit", b"k", b"3"), OK0),
        ((b"setbit", b"k", b"3", b"01"), OK0),  # 1: sets
        ((b"getbit", b"k", b"3"), OK1),
        ((b"setbit", b"", b"1", b"1"), OK0),  # the empty key is not written
        ((b"exists", b""), OK0),
        ((b"setbit", b"k", b"4294967297", b"1"), OK0),  # as int: offset 1
        ((b"get", b"k"), [b"ok", b"\xd0\x01"]),
    ])


def test_ranges_are_32_bit_ints(run):
    replay(run, [
        ((b"set", b"s", b"abcdef"), OK1),
        ((b"countbit", b"s", b"99999999999999999999"), [b"ok", b"4"]),  # start -1: "f"
        ((b"substr", b"s", b"-9223372036854775808"), [b"ok", b"abcdef"]),  # start 0
        ((b"getrange", b"s", b"0", b"2147483647"), [b"ok", b""]),  # size end-start+1 wraps negative
        ((b"getrange", b"s", b"1", b"2147483647"), [b"ok", b"bcdef"]),
        ((b"bitcount", b"s", b"0", b"2147483647"), [b"ok", b"0"]),
        ((b"substr", b"s", b"2", b"4294967298"), [b"ok", b"cd"]),  # size 2
        ((b"countbit", b"s", b"-2147483648", b"-1"), [b"ok", b"0"]),
        ((b"getrange", b"s", b"-2147483648", b"-1"), [b"ok", b""]),
    ])


def test_incr_reads_stored_values_as_strtoll_does(run):
    """Empty is 0, leading blanks pass, an overflow saturates; trailing bytes or a NUL do not."""
    replay(run, [
        ((b"set", b"n", b""), OK1),
        ((b"incr", b"n", b"5"), [b"ok", b"5"]),
        ((b"set", b"n", b" 7"), OK1),
        ((b"incr", b"n"), [b"ok", b"8"]),
        ((b"set", b"n", b"7 "), OK1),
        ((b"incr", b"n"), NOT_INT),
        ((b"set", b"n", b"99999999999999999999"), OK1),
        ((b"incr", b"n", b"1"), [b"ok", b"-9223372036854775808"]),
        ((b"set", b"n", b"-99999999999999999999"), OK1),
        ((b"decr", b"n", b"0"), [b"ok", b"-9223372036854775808"]),
        ((b"set", b"n", b"5\x00"), OK1),
        ((b"incr", b"n"), NOT_INT),
        ((b"hset", b"h", b"f", b""), OK1),
        ((b"hincr", b"h", b"f", b"2"), [b"ok", b"2"]),
        ((b"hset", b"h", b"f", b"18446744073709551616"), OK0),
        ((b"hincr", b"h", b"f", b"0"), [b"ok", b"9223372036854775807"]),
    ])


def test_multi_del_deletes_every_key_of_any_length(run):
    replay(run, [
        ((b"set", b"a", b"1"), OK1),
        ((b"set", b"b", b"2"), OK1),
        ((b"multi_del", b"N" * 300, b"a", b""), [b"ok", b"3"]),
        ((b"multi_get", b"a", b"b"), [b"ok", b"b", b"2"]),
        ((b"ttl", b"N" * 300), [b"ok", b"-1"]),
        ((b"del", b"N" * 300), [b"error"]),
        ((b"multi_del", b"b"), OK1),
        ((b"exists", b"b"), OK0),
    ])


def test_reverse_walks_from_an_empty_start_skip_0xff_keys_and_names(run):
    """SSDB starts below ``prefix + "\\xff"``: the TTL index is not listed by zrlist (zlist lists it)."""
    replay(run, [
        ((b"set", b"\xff", b"1"), OK1),
        ((b"set", b"\xff\x01", b"2"), OK1),
        ((b"set", b"\xfe", b"3"), OK1),
        ((b"set", b"a", b"4"), OK1),
        ((b"rscan", b"", b"", b"10"), [b"ok", b"\xfe", b"3", b"a", b"4"]),
        ((b"rkeys", b"", b"", b"10"), [b"ok", b"\xfe", b"a"]),
        ((b"rscan", b"\xff\x02", b"", b"10"), [b"ok", b"\xff\x01", b"2", b"\xff", b"1", b"\xfe", b"3", b"a", b"4"]),
        ((b"hset", b"\xff", b"f", b"1"), OK1),
        ((b"hset", b"h", b"f", b"1"), OK1),
        ((b"hrlist", b"", b"", b"10"), [b"ok", b"h"]),
        ((b"hlist", b"", b"", b"10"), [b"ok", b"h", b"\xff"]),
        ((b"zset", b"\xffz", b"f", b"1"), OK1),
        ((b"zset", b"z", b"f", b"1"), OK1),
        ((b"setx", b"a", b"v", b"1000"), OK1),
        ((b"zrlist", b"", b"", b"10"), [b"ok", b"z"]),
        ((b"zlist", b"", b"", b"10"), [b"ok", b"z", b"\xffz", b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"]),
        ((b"qpush", b"\xff", b"1"), OK1),
        ((b"qpush", b"q", b"1"), OK1),
        ((b"qrlist", b"", b"", b"10"), [b"ok", b"q"]),
        ((b"qrlist", b"\xff\x01", b"", b"10"), [b"ok", b"\xff", b"q"]),
    ])


def test_zfix_keeps_the_size_of_a_255_byte_zset(run):
    """A deliberate difference (docs/compat.md): SSDB replies ok 0 and deletes the size record."""
    name = b"L" * 255
    replay(run, [
        ((b"zset", name, b"f", b"1"), OK1),
        ((b"zset", name, b"g", b"2"), OK1),
        ((b"zfix", name), [b"ok", b"2"]),
        ((b"zsize", name), [b"ok", b"2"]),
        ((b"zlist", b"", b"", b"10"), [b"ok", name]),
        ((b"zset", name, b"h", b"3"), OK1),
        ((b"zsize", name), [b"ok", b"3"]),
    ])
