"""SSDB framing: parser leniencies of SSDB 1.9.8 (protocol.md §2.3) and the encoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.errors import ProtocolError
from ssdbpy.protocol import ssdb
from ssdbpy.protocol.ssdb import MAX_PACKET_SIZE, PacketReader, encode_ssdb


def parse_all(data: bytes, chunks: list[int] | None = None) -> list[list[bytes]]:
    """Feed ``data`` (split at ``chunks`` offsets) and drain every complete packet."""
    r = PacketReader()
    out: list[list[bytes]] = []
    cuts = [0, *(chunks or []), len(data)]
    for a, b in zip(cuts, cuts[1:]):
        r.feed(data[a:b])
        while (pkt := r.next()) is not None:
            out.append(pkt)
    return out


def test_basic_packet():
    assert parse_all(b"3\nset\n3\nkey\n5\nvalue\n\n") == [[b"set", b"key", b"value"]]


def test_reply_shape_round_trip():
    assert encode_ssdb([b"ok", b"1"]) == b"2\nok\n1\n1\n\n"
    assert encode_ssdb([b"ok"]) == b"2\nok\n\n"
    assert encode_ssdb([b""]) == b"0\n\n\n"
    assert encode_ssdb([]) == b""
    assert parse_all(b"2\nok\n1\n1\n\n") == [[b"ok", b"1"]]


def test_binary_data():
    data = b"a\nb\r\n\x00\xff"
    assert parse_all(encode_ssdb([b"set", data])) == [[b"set", data]]


def test_crlf_everywhere():
    assert parse_all(b"3\r\nget\r\n1\r\na\r\n\r\n") == [[b"get", b"a"]]


def test_mixed_terminators():
    assert parse_all(b"3\nget\r\n1\r\na\n\r\n") == [[b"get", b"a"]]


def test_leading_blank_lines_skipped():
    assert parse_all(b"\n\r\n\r\r\n3\nget\n1\na\n\n\n\n") == [[b"get", b"a"]]


def test_pipelined():
    assert parse_all(b"3\nget\n1\na\n\n3\nget\n1\nb\n\n") == [[b"get", b"a"], [b"get", b"b"]]


def test_single_empty_block():
    assert parse_all(b"0\n\n\n") == [[b""]]


@pytest.mark.parametrize(
    "header, length",
    [(b"3abc", 3), (b"3 ", 3), (b"03", 3), (b"3\r", 3), (b"000000000000000003", 3)],
)
def test_atoi_lengths(header, length):
    data = b"x" * length
    assert parse_all(header + b"\n" + data + b"\n\n") == [[data]]


def test_atoi_truncates_to_32_bits():
    # 4294967299 = 2**32 + 3: (int) of the long is 3
    assert parse_all(b"4294967299\nabc\n\n") == [[b"abc"]]


@pytest.mark.parametrize("header", [b"2147483648", b"4294967295", b"999999999999999999"])
def test_atoi_negative_after_truncation(header):
    r = PacketReader()
    r.feed(header + b"\n")
    with pytest.raises(ProtocolError):
        r.next()


def test_atoi_large_positive_after_truncation_waits_for_data():
    r = PacketReader()
    r.feed(b"99999999999999999\n")  # (int) -> 1569325055
    assert r.next() is None


@pytest.mark.parametrize(
    "data",
    [
        b"x\nget\n\n",
        b"+3\nget\n\n",
        b"-3\nget\n\n",
        b" 3\nget\n\n",
        b"3\ngetX1\na\n\n",
        b"3\nget\rX",
        b"1234567890123456789\nget\n\n",
        b"3\nget\n1\na\nX\n",
        b"PING\r\n",
        b"3\nget\n\r\r\n",
    ],
)
def test_framing_errors(data):
    with pytest.raises(ProtocolError):
        parse_all(data)


def test_header_line_limit_is_19_bytes_with_lf():
    assert parse_all(b"000000000000000001\nx\n\n") == [[b"x"]]  # 18 chars + LF
    with pytest.raises(ProtocolError):
        parse_all(b"0000000000000000001\nx\n\n")  # 19 chars + LF


def test_errors_wait_for_the_line_feed():
    r = PacketReader()
    r.feed(b"x")
    assert r.next() is None  # SSDB checks the header only once its LF arrived
    r.feed(b"yz")
    assert r.next() is None
    r.feed(b"\n")
    with pytest.raises(ProtocolError):
        r.next()


def test_one_byte_after_data_waits():
    r = PacketReader()
    r.feed(b"3\nget")
    assert r.next() is None
    r.feed(b"X")
    assert r.next() is None  # one byte that is not LF: wait
    r.feed(b"1")
    with pytest.raises(ProtocolError):
        r.next()


def test_cr_then_lf_in_separate_chunks():
    assert parse_all(b"3\nget\r\n1\na\n\n", [5, 6]) == [[b"get", b"a"]]


def test_partial_packets_wait():
    data = b"3\nset\n1\na\n1\nb\n\n"
    r = PacketReader()
    for i in range(len(data) - 1):
        r.feed(data[i : i + 1])
        assert r.next() is None
    r.feed(data[-1:])
    assert r.next() == [b"set", b"a", b"b"]
    assert r.next() is None


def test_packet_size_limit_small(monkeypatch):
    monkeypatch.setattr(ssdb, "MAX_PACKET_SIZE", 20)
    # "3\nget\n" (6) + "10\n0123456789\n" (14) = 20 bytes: allowed
    assert parse_all(b"3\nget\n10\n0123456789\n\n") == [[b"get", b"0123456789"]]
    with pytest.raises(ProtocolError):
        parse_all(b"3\nget\n11\n0123456789X\n\n")
    # CRLF terminators count too
    with pytest.raises(ProtocolError):
        parse_all(b"3\nget\r\n10\n0123456789\n\n")


def test_leading_blank_bytes_count_towards_limit(monkeypatch):
    monkeypatch.setattr(ssdb, "MAX_PACKET_SIZE", 20)
    assert parse_all(b"3\nget\n10\n0123456789\n\n") == [[b"get", b"0123456789"]]
    with pytest.raises(ProtocolError):
        parse_all(b"\n3\nget\n10\n0123456789\n\n")
    with pytest.raises(ProtocolError):
        parse_all(b"\n3\nget\n10\n0123456789\n\n", [1])


def test_oversized_incomplete_packet_fails_once_limit_buffered(monkeypatch):
    monkeypatch.setattr(ssdb, "MAX_PACKET_SIZE", 100)
    r = PacketReader()
    r.feed(b"1000\n")
    r.feed(b"x" * 90)
    assert r.next() is None
    r.feed(b"x" * 7)  # 5 + 97 = 102 bytes buffered: still possibly valid
    assert r.next() is None
    r.feed(b"x")
    with pytest.raises(ProtocolError):
        r.next()


def test_real_129_mib_request_is_rejected():
    r = PacketReader()
    size = 129 * 1024 * 1024
    r.feed(b"3\nset\n1\nk\n%d\n" % size)
    chunk = b"\0" * (1024 * 1024)
    with pytest.raises(ProtocolError):
        for _ in range(129):
            r.feed(chunk)
            assert r.next() is None
    assert MAX_PACKET_SIZE == 128 * 1024 * 1024


def test_header_line_without_lf_fails_once_it_cannot_be_a_header():
    # SSDB would buffer a header line until its "\n" arrives and then reject it;
    # ssdbpy rejects it as soon as 19 bytes without "\n" make failure certain
    r = PacketReader()
    r.feed(b"1" * 18)
    assert r.next() is None
    r.feed(b"1")
    with pytest.raises(ProtocolError):
        r.next()
    r = PacketReader()
    r.feed(b"3\nget\n")
    for c in b"000000000000000001":  # the longest valid header, a byte at a time
        r.feed(bytes([c]))
        assert r.next() is None
    r.feed(b"\nk\n\n")
    assert r.next() == [b"get", b"k"]


# --- properties -----------------------------------------------------------------

blocks_st = st.lists(st.binary(max_size=40), min_size=1, max_size=6)


@given(blocks_st)
def test_encode_parse_round_trip(blocks):
    assert parse_all(encode_ssdb(blocks)) == [blocks]


@settings(max_examples=200)
@given(st.lists(blocks_st, min_size=1, max_size=5), st.data())
def test_any_chunking_gives_the_same_packets(packets, data):
    stream = b"".join(encode_ssdb(p) for p in packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    assert parse_all(stream, cuts) == packets


@settings(max_examples=300)
@given(st.binary(max_size=200), st.data())
def test_arbitrary_bytes_only_raise_protocol_error(raw, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=5)))
    try:
        whole = parse_all(raw)
    except ProtocolError:
        whole = None
    try:
        chunked = parse_all(raw, cuts)
    except ProtocolError:
        chunked = None
    assert whole == chunked


# --- PacketReader.next_batch: the fast LF splitter gives exactly next()'s packets ---------

_block = st.binary(max_size=20)
_packet_forms = st.sampled_from(["lf", "lf", "lf", "crlf", "blank_first", "junk", "empty", "crlf_after_data",
                                 "bad_trailer", "short"])


def _encode_packet(blocks: list[bytes], form: str) -> bytes:
    if form == "crlf":
        return b"".join(b"%d\r\n%s\r\n" % (len(b), b) for b in blocks) + b"\r\n"
    if form == "blank_first":
        return b"\n\r\n" + encode_ssdb(blocks)
    if form == "junk":
        return b"x1\nab\n\n"
    if form == "empty":
        return b"\n"
    if form == "crlf_after_data":  # LF headers, CRLF after each data block
        return b"".join(b"%d\n%s\r\n" % (len(b), b) for b in blocks) + b"\n"
    if form == "bad_trailer":  # data not followed by a line end: a framing error
        return b"".join(b"%d\n%sX" % (len(b), b) for b in blocks) + b"\n"
    if form == "short":  # a length larger than the data that follows
        return b"%d\n%s\n\n" % (len(blocks[0]) + 3, blocks[0])
    return encode_ssdb(blocks)


def _all_next(data: bytes, cuts: list[int]):
    from ssdbpy.protocol.ssdb import PacketReader

    r = PacketReader()
    out: list = []
    points = [0, *cuts, len(data)]
    try:
        for a, b in zip(points, points[1:]):
            r.feed(data[a:b])
            while (p := r.next()) is not None:
                out.append(p)
    except ProtocolError:
        out.append("error")
    return out


def _all_batches(data: bytes, cuts: list[int], limit: int):
    from ssdbpy.protocol.ssdb import PacketReader

    r = PacketReader()
    out: list = []
    points = [0, *cuts, len(data)]
    try:
        for a, b in zip(points, points[1:]):
            r.feed(data[a:b])
            while True:
                got = r.next_batch(limit)
                assert len(got) <= limit
                out += got
                if len(got) < limit and not r.failed:
                    break
    except ProtocolError:
        out.append("error")
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.lists(_block, min_size=1, max_size=3), _packet_forms), min_size=1, max_size=8),
       st.data(), st.integers(1, 4))
def test_next_batch_matches_next(packets, data, limit):
    stream = b"".join(_encode_packet(blocks, form) for blocks, form in packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    assert _all_batches(stream, cuts, limit) == _all_next(stream, cuts)


def test_next_batch_splits_many_lf_packets_at_once():
    from ssdbpy.protocol.ssdb import PacketReader

    r = PacketReader()
    r.feed(b"".join(encode_ssdb([b"h%d" % i, b"v" * i]) for i in range(50)) + b"3\nabc\n")
    assert r.next_batch(30) == [[b"h%d" % i, b"v" * i] for i in range(30)]
    assert r.next_batch(30) == [[b"h%d" % i, b"v" * i] for i in range(30, 50)]
    r.feed(b"\n")
    assert r.next_batch(30) == [[b"abc"]]
