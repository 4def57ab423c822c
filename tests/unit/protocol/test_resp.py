"""RESP request parsing with SSDB 1.9.8's leniencies (protocol.md §3.2), and RESP encoders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.errors import ProtocolError
from ssdbpy.protocol import resp
from ssdbpy.protocol.buffer import ReceiveBuffer
from ssdbpy.protocol.resp import (
    RESPParser,
    c_strtol_int,
    encode_bulk,
    encode_error,
    encode_integer,
    encode_multibulk,
    encode_request,
    encode_status,
)


def parse_all(data: bytes, cuts: list[int] | None = None) -> tuple[list[list[bytes]], int]:
    """Parse back-to-back RESP requests; return them and the unconsumed byte count.

    Between requests, a ``\\n`` left over (the optional LF after the last
    argument) is skipped, as the connection-level sniffer does; parsing stops
    at a request that does not start with ``*``.
    """
    buf = ReceiveBuffer()
    parser = RESPParser()
    active = False
    out: list[list[bytes]] = []
    points = [0, *(cuts or []), len(data)]
    for a, b in zip(points, points[1:]):
        buf.feed(data[a:b])
        while True:
            if not active:
                buf.skip_blank_lines()
                if len(buf) == 0 or buf.raw[buf.pos] != 42:
                    break
                active = True
            args = parser.parse(buf)
            if args is None:
                break
            active = False
            out.append(args)
    return out, len(buf)


def one(data: bytes) -> list[bytes]:
    reqs, left = parse_all(data)
    assert len(reqs) == 1 and left == 0, (reqs, left)
    return reqs[0]


def test_standard_request():
    assert one(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n") == [b"set", b"a", b"1"]


def test_lf_only():
    assert one(b"*2\n$3\nget\n$1\na\n") == [b"get", b"a"]


def test_dollar_not_checked():
    assert one(b"*2\r\n#3\r\nget\r\nX1\r\na\r\n") == [b"get", b"a"]


def test_one_byte_skipped_after_data_whatever_it_is():
    assert one(b"*2\r\n$3\r\ngetX$1\r\naY") == [b"get", b"a"]


def test_optional_lf_after_skipped_byte():
    assert one(b"*2\r\n$3\r\ngetX\n$1\r\naY\n") == [b"get", b"a"]


def test_binary_args():
    assert one(encode_request([b"set", b"k\r\n", b"\x00\xff\n"])) == [b"set", b"k\r\n", b"\x00\xff\n"]


def test_empty_arg():
    assert one(b"*2\r\n$3\r\nget\r\n$0\r\n\r\n") == [b"get", b""]


@pytest.mark.parametrize(
    "data",
    [b"*0\r\n", b"*-1\r\n", b"*abc\r\n", b"*\r\nx", b"*2\r\n$-1\r\n", b"*1\r\n$-5\r\nabc"],
)
def test_errors(data):
    with pytest.raises(ProtocolError):
        parse_all(data)


@pytest.mark.parametrize(
    "line, value",
    [
        (b"*1", 1),
        (b"* 1", 1),
        (b"*+1", 1),
        (b"*1abc", 1),
        (b"*4294967297", 1),  # (int)(long) keeps the low 32 bits
        (b"*00002", 2),
    ],
)
def test_count_strtol(line, value):
    args = [b"a%d" % i for i in range(value)]
    body = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    assert one(line + b"\r\n" + body) == args


def test_count_overflow_saturates_then_truncates():
    # LONG_MAX truncated to int is -1: error
    with pytest.raises(ProtocolError):
        parse_all(b"*99999999999999999999999\r\n")


def test_length_line_without_digits_reads_following_lines():
    # strtol skips the CRLF and reads "3" from the next line; the data starts after
    # the first LF: "3\r\n", then one byte ("a") is skipped.
    reqs, left = parse_all(b"*1\r\n$\r\n3\r\nabc")
    assert reqs == [[b"3\r\n"]]
    assert left == 2  # "bc" is the start of the next request


def test_strtol_across_lines_waits_for_bytes():
    buf = ReceiveBuffer()
    p = RESPParser()
    buf.feed(b"*1\r\n$\r\n")
    assert p.parse(buf) is None  # the number may still come
    buf.feed(b"1")
    assert p.parse(buf) is None  # more digits may follow
    buf.feed(b"\r\nxy")
    # length 1 read from the line after "$\r\n"; the data is the "1" itself
    assert p.parse(buf) == [b"1"]
    assert len(buf) == 2


def test_partial_requests_wait():
    data = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n"
    buf = ReceiveBuffer()
    p = RESPParser()
    for i in range(len(data) - 2):
        buf.feed(data[i : i + 1])
        assert p.parse(buf) is None, i
    buf.feed(data[-2:-1])
    assert p.parse(buf) == [b"set", b"a", b"1"]  # complete once the byte after the data is in
    buf.feed(data[-1:])
    assert len(buf) == 1  # the trailing LF, skipped later as a blank line


def test_non_last_arg_waits_for_optional_lf():
    buf = ReceiveBuffer()
    p = RESPParser()
    buf.feed(b"*2\r\n$1\r\na\r")
    assert p.parse(buf) is None
    buf.feed(b"\n$1\r\nb\r\n")
    assert p.parse(buf) == [b"a", b"b"]


def test_no_packet_size_limit_but_buffer_limit(monkeypatch):
    monkeypatch.setattr(resp, "MAX_REQUEST_BUFFER", 100)
    assert one(b"*1\r\n$80\r\n" + b"x" * 80 + b"\r\n") == [b"x" * 80]
    buf = ReceiveBuffer()
    p = RESPParser()
    buf.feed(b"*1\r\n$1000\r\n")
    buf.feed(b"x" * 80)
    assert p.parse(buf) is None
    buf.feed(b"x" * 20)
    with pytest.raises(ProtocolError):
        p.parse(buf)


def test_big_bulk_in_many_chunks():
    value = bytes(range(256)) * 4000
    data = encode_request([b"set", b"k", value])
    cuts = list(range(1, len(data), 997))
    assert parse_all(data, cuts) == ([[b"set", b"k", value]], 0)


@pytest.mark.parametrize(
    "s, v",
    [
        (b"12", 12),
        (b"  -7x", -7),
        (b"+", 0),
        (b"", 0),
        (b"abc", 0),
        (b"2147483648", -2147483648),
        (b"-2147483649", 2147483647),
        (b"9223372036854775808", -1),
        (b"-9223372036854775809", 0),
    ],
)
def test_c_strtol_int(s, v):
    assert c_strtol_int(s, 0) == v


def test_encoders():
    assert encode_bulk(b"ab") == b"$2\r\nab\r\n"
    assert encode_bulk(b"x" * 5000).startswith(b"$5000\r\nxxx")
    assert encode_multibulk([b"a", b""]) == b"*2\r\n$1\r\na\r\n$0\r\n\r\n"
    assert encode_multibulk([]) == b"*0\r\n"
    assert encode_multibulk([b"a", b"b"], 1) == b"*1\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert encode_request([b"get", b"k"]) == b"*2\r\n$3\r\nget\r\n$1\r\nk\r\n"
    assert encode_error(b"ERR x") == b"-ERR x\r\n"
    assert encode_status(b"OK") == b"+OK\r\n"
    assert encode_integer(-3) == b":-3\r\n"
    assert encode_integer(b"12") == b":12\r\n"


# --- properties -----------------------------------------------------------------

args_st = st.lists(st.binary(max_size=30), min_size=1, max_size=6)


@given(args_st)
def test_encode_parse_round_trip(args):
    assert one(encode_request(args)) == args


@given(args_st)
def test_lf_only_round_trip(args):
    data = b"*%d\n" % len(args) + b"".join(b"$%d\n%s\n" % (len(a), a) for a in args)
    assert one(data) == args


@settings(max_examples=200)
@given(st.lists(args_st, min_size=1, max_size=5), st.data())
def test_any_chunking_gives_the_same_requests(requests, data):
    stream = b"".join(encode_request(r) for r in requests)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    assert parse_all(stream, cuts) == (requests, 0)


@settings(max_examples=300)
@given(st.binary(max_size=120).map(lambda b: b"*" + b), st.data())
def test_arbitrary_bytes_only_raise_protocol_error(raw, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=5)))
    results = []
    for c in (None, cuts):
        try:
            results.append(parse_all(raw, c)[0])
        except ProtocolError:
            results.append("error")
        except AssertionError:
            raise
    assert results[0] == results[1]


# --- bounded work for hostile input ------------------------------------------------------
@pytest.mark.parametrize("head", [b"*2000000000\r\n", b"*1\r\n>2000000000\r\n", b"*1\r\n~2000000000\r\n",
                                  b"*2\r\n$3\r\nget\r\n*99999999999999999999999\r\n"])
def test_canonical_fast_path_never_allocates_a_declared_aggregate(head):
    import time

    from ssdbpy.protocol.resp import parse_canonical

    src = encode_request([b"get", b"a"]) + head
    t0 = time.perf_counter()
    reqs, end = parse_canonical(src, 0)
    assert time.perf_counter() - t0 < 0.05
    assert reqs == [[b"get", b"a"]] and end == len(encode_request([b"get", b"a"]))


def test_a_large_request_that_fits_its_bytes_takes_the_fast_path():
    from ssdbpy.protocol.resp import parse_canonical

    args = [b"mset"] + [b"k"] * 20000
    src = encode_request(args)
    assert parse_canonical(src, 0) == ([args], len(src))


@pytest.mark.parametrize("line", [b"*" + b"\r\n" * 40000, b"*" + b" " * 70000, b"*1\r\n$" + b" " * 70000,
                                  b"*" + b"1" * 70000, b"*1\r\n$" + b"9" * 70000 + b"\r\n"])
def test_number_lines_are_capped(line):
    p = RESPParser()
    buf = ReceiveBuffer()
    with pytest.raises(ProtocolError):
        for i in range(0, len(line), 4096):
            buf.feed(line[i : i + 4096])
            p.parse(buf)


def test_long_digit_strings_saturate():
    # strtol saturates; (int) keeps the low 32 bits of INT64_MAX: -1, an error for a length
    buf = ReceiveBuffer()
    buf.feed(b"*1\r\n$" + b"9" * 5000 + b"\r\nabc\r\n")
    with pytest.raises(ProtocolError):
        RESPParser().parse(buf)
    buf = ReceiveBuffer()
    buf.feed(b"*" + b"0" * 5000 + b"1\r\n$1\r\na\r\n")
    assert RESPParser().parse(buf) == [b"a"]


@pytest.mark.parametrize("first", [
    b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n",  # a request cut short: hiredis holds half an array
    b"*2\r\n$3\r\nget\r\n$1\r\na\r\n*1\r\n$3\r\nge",  # complete, then cut short inside a bulk
    b"*1\r\n$3\r\nget\r\n+OK\r\n*1\r\n$4\r\nping\r\n",  # a status line after a request
    b"*2\r\n$3\r\nget\r\n:1\r\n",  # an integer element
    b"*1\r\n$3\r\nget\r\n$x\r\n",  # a framing error
    b"*0\r\n*1\r\n$4\r\nping\r\n",
    b"*1\r\n$4\r\nping\r\n",  # complete: the reader is kept for the next call
])
def test_each_call_reads_as_a_fresh_reader_would(first):
    """What one call leaves in hiredis' reader never reaches the next call."""
    from ssdbpy.protocol import resp

    second = encode_request([b"get", b"key"]) + encode_request([b"set", b"k", b"v"])

    def fresh(src):
        resp._spare_readers.clear()
        return resp.parse_canonical(src, 0)

    expected = [fresh(first), fresh(second), fresh(second[:9])]
    resp._spare_readers.clear()
    got = [resp.parse_canonical(first, 0), resp.parse_canonical(second, 0), resp.parse_canonical(second[:9], 0)]
    assert got == expected
    assert expected[1] == ([[b"get", b"key"], [b"set", b"k", b"v"]], len(second))
    assert len(resp._spare_readers) <= 1


def test_the_guard_reads_only_the_bytes_after_start():
    from ssdbpy.protocol.resp import parse_canonical

    get = encode_request([b"get", b"a"])
    # a big header before ``start`` is not this call's business; one after it is
    assert parse_canonical(b"*2000000000\r\n" + get, 13) == ([[b"get", b"a"]], 13 + len(get))
    assert parse_canonical(b"xx" + get + b"~2000000000\r\n", 2) == ([[b"get", b"a"]], 2 + len(get))
