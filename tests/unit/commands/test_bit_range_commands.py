"""getbit / setbit / bitcount / countbit / substr / getrange with out-of-int32 numbers.

SSDB 1.9.8 reads these arguments as C ``int``s (``Bytes::Int()``: lenient,
truncated to 32 bits), getbit has no range check, and the slice arithmetic is
int arithmetic.  Every reply below was recorded from the SSDB 1.9.8 reference
server (values: ``foo`` = ``bar``, ``hi`` = ``\\xff\\x80``); the live comparison
is tests/integration/test_bit_range_reference.py.
"""

from __future__ import annotations

import pytest

from ssdbpy.commands.redis_compat import translate
from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)

#: (request, SSDB 1.9.8's reply), in order on one database holding foo and hi
CASES = [
    ((b"getbit", b"foo", b"-1"), [b"ok", b"0"]),
    ((b"getbit", b"hi", b"-1"), [b"ok", b"1"]),  # bit 8 of the signed char 0xff
    ((b"getbit", b"hi", b"-7"), [b"ok", b"1"]),
    ((b"getbit", b"hi", b"-8"), [b"ok", b"0"]),
    ((b"getbit", b"hi", b"-9"), [b"ok", b"0"]),
    ((b"getbit", b"foo", b"1073741825"), [b"ok", b"0"]),
    ((b"getbit", b"foo", b"2000000000"), [b"ok", b"0"]),
    ((b"getbit", b"foo", b"abc"), [b"ok", b"0"]),
    ((b"getbit", b"foo", b"9"), [b"ok", b"1"]),
    ((b"getbit", b"foo", b"4294967297"), [b"ok", b"1"]),  # offset 1
    ((b"getbit", b"nokey", b"4294967296"), [b"ok", b"0"]),
    ((b"getbit", b"nokey", b"-1"), [b"ok", b"0"]),
    ((b"setbit", b"s", b"4294967297", b"1"), [b"ok", b"0"]),  # sets bit 1
    ((b"get", b"s"), [b"ok", b"@"]),
    ((b"setbit", b"s", b"-4294967295", b"1"), [b"ok", b"1"]),  # bit 1 again
    ((b"get", b"s"), [b"ok", b"@"]),
    ((b"setbit", b"b", b"-1", b"2"), [b"client_error", b"bit is not an integer or out of range"]),
    ((b"setbit", b"b", b"4294967296", b"x"), [b"client_error", b"bit is not an integer or out of range"]),
    ((b"setbit", b"b", b"-1", b"1"), [b"client_error", b"offset is out of range [0, 1073741824]"]),
    ((b"setbit", b"b", b"2147483648", b"1"), [b"client_error", b"offset is out of range [0, 1073741824]"]),
    ((b"bitcount", b"foo", b"0", b"4294967296"), [b"ok", b"3"]),  # end 0: "b"
    ((b"bitcount", b"foo", b"0", b"2147483647"), [b"ok", b"0"]),  # size 2**31 wraps negative
    ((b"countbit", b"foo", b"4294967296", b"1"), [b"ok", b"3"]),
    ((b"substr", b"foo", b"4294967297", b"1"), [b"ok", b"a"]),
    ((b"substr", b"foo", b"0", b"4294967297"), [b"ok", b"b"]),
    ((b"substr", b"foo", b"0", b"2147483647"), [b"ok", b"bar"]),
    ((b"substr", b"foo", b"1", b"-2147483648"), [b"ok", b""]),
    ((b"getrange", b"foo", b"0", b"4294967297"), [b"ok", b"ba"]),
    ((b"getrange", b"foo", b"0", b"4294967296"), [b"ok", b"b"]),
    ((b"getrange", b"foo", b"0", b"2147483648"), [b"ok", b""]),
    ((b"getrange", b"foo", b"4294967296", b"4294967297"), [b"ok", b"ba"]),
    ((b"getrange", b"foo", b"0", b"-4294967297"), [b"ok", b"bar"]),
    ((b"getrange", b"foo", b"-4294967295", b"4294967297"), [b"ok", b"a"]),
    ((b"getrange", b"foo", b"0", b"2147483647"), [b"ok", b""]),
    ((b"getrange", b"foo", b"1", b"2147483647"), [b"ok", b"ar"]),
    ((b"getrange", b"foo", b"-3", b"2147483647"), [b"ok", b""]),
    ((b"getrange", b"foo", b"2", b"-2147483648"), [b"ok", b""]),
]


@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    d(b"set", b"foo", b"bar")
    d(b"set", b"hi", b"\xff\x80")
    yield d
    d.close()


def test_replies_as_ssdb(run):
    assert [(req, run(*req)) for req, _ in CASES] == CASES


def test_through_the_redis_mapping(run):
    """GETBIT/SETBIT/BITCOUNT/GETRANGE pass their numbers unchanged; Redis's SUBSTR is getrange."""
    for req, _want in CASES:
        if req[0] in (b"getbit", b"setbit", b"bitcount", b"getrange"):
            assert translate([req[0].upper(), *req[1:]])[0] == list(req)
    assert run(*translate([b"SUBSTR", b"foo", b"0", b"4294967297"])[0]) == [b"ok", b"ba"]
