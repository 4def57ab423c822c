"""Per-request protocol sniffing, pipelining, chunking independence, recorded raw vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.errors import ProtocolError
from ssdbpy.protocol.resp import encode_request
from ssdbpy.protocol.sniff import RequestParser
from ssdbpy.protocol.ssdb import encode_ssdb

VECTORS = Path(__file__).resolve().parents[2] / "data" / "vectors"  # recorded from SSDB 1.9.8

_ESC = re.compile(r"\\(x[0-9a-f]{2}|\\)")


def unescape(s: str) -> bytes:
    """Vector string → bytes (README: ``\\xNN`` is a byte, ``\\\\`` a backslash)."""
    return _ESC.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), s).encode("latin-1")


def drain(p: RequestParser) -> list[tuple[bool, list[bytes]]]:
    out = []
    while (r := p.next()) is not None:
        out.append(r)
    return out


def parse_stream(data: bytes, cuts: list[int] | None = None, fast: bool = True):
    """All requests of ``data`` fed in pieces, and the bytes left; ``(requests, "error")`` on a ProtocolError.

    ``fast=False``: the lenient parsers alone (the reference for the hiredis fast path).
    """
    p = RequestParser(fast=fast)
    out: list = []
    points = [0, *(cuts or []), len(data)]
    try:
        for a, b in zip(points, points[1:]):
            p.feed(data[a:b])
            while (r := p.next()) is not None:
                out.append(r)
    except ProtocolError:
        return out, "error"
    return out, len(p)


def test_resp_and_ssdb_on_one_connection():
    data = (
        b"*2\r\n$3\r\nget\r\n$1\r\na\r\n"
        b"3\nset\n1\na\n1\n1\n\n"
        b"\r\n*2\n$3\nget\n$1\na\n"
        b"3abc\nget\n1\na\n\n"
        b"3\r\nget\r\n1\r\na\r\n\r\n"
        b"0\n\n\n"
    )
    reqs, left = parse_stream(data)
    assert reqs == [
        (True, [b"get", b"a"]),
        (False, [b"set", b"a", b"1"]),
        (True, [b"get", b"a"]),
        (False, [b"get", b"a"]),
        (False, [b"get", b"a"]),
        (False, [b""]),
    ]
    assert left == 0


def test_next_returns_none_until_complete_and_drains_pipeline():
    p = RequestParser()
    assert p.next() is None
    p.feed(b"*1\r\n$4\r\nPI")
    assert p.next() is None
    p.feed(b"NG\r\n*1\r\n$4\r\nping\r\n4\nping\n\n\n\n")
    assert drain(p) == [(True, [b"PING"]), (True, [b"ping"]), (False, [b"ping"])]
    assert p.next() is None


def test_error_is_sticky():
    p = RequestParser()
    p.feed(b"*0\r\n")
    with pytest.raises(ProtocolError):
        p.next()
    p.feed(b"*1\r\n$4\r\nping\r\n")
    with pytest.raises(ProtocolError):
        p.next()


def test_complete_requests_before_an_error_are_returned_first():
    p = RequestParser()
    p.feed(b"4\nping\n\nx\nget\n\n")
    assert p.next() == (False, [b"ping"])
    with pytest.raises(ProtocolError):
        p.next()


def test_inline_command_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        drain(_fed(b"PING\r\n"))


def _fed(data: bytes) -> RequestParser:
    p = RequestParser()
    p.feed(data)
    return p


def load_vectors(name: str) -> list[dict]:
    path = VECTORS / name
    assert path.is_file(), f"spec vectors missing: {path}"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_redis_mixed_vectors():
    """Every raw send of redis_mixed.jsonl: <RST> ⇔ ProtocolError; otherwise requests parse."""
    lines = load_vectors("redis_mixed.jsonl")
    parsers: dict[str, RequestParser] = {}
    n_rst = n_ok = 0
    for v in lines:
        assert "send_raw" in v
        p = parsers.setdefault(v.get("conn", "main"), RequestParser())
        p.feed(unescape(v["send_raw"]))
        if v["expect_raw"].endswith("<RST>"):
            with pytest.raises(ProtocolError):
                drain(p)
            n_rst += 1
        else:
            reqs = drain(p)
            assert reqs, v
            # one reply per request: count SSDB replies (blank-line ends) or RESP replies (CRLF ends)
            expect = unescape(v["expect_raw"])
            if expect.endswith(b"\r\n"):
                assert len(reqs) == 1
            else:
                assert len(reqs) == expect.count(b"\n\n")
            n_ok += 1
    assert n_rst == 4 and n_ok == 12


def test_redis_jsonl_raw_vectors():
    for v in load_vectors("redis.jsonl"):
        if "send_raw" not in v:
            continue
        p = _fed(unescape(v["send_raw"]))
        if v["expect_raw"].endswith("<RST>"):
            with pytest.raises(ProtocolError):
                drain(p)
        else:
            assert drain(p)


def test_redis_jsonl_requests_parse_as_sent():
    for v in load_vectors("redis.jsonl"):
        if "send" not in v:
            continue
        args = [unescape(a) for a in v["send"]]
        assert parse_stream(encode_request(args)) == ([(True, args)], 0)


def test_unescape():
    assert unescape("bin\\x00\\xff\\\\key") == b"bin\x00\xff\\key"


# --- properties -----------------------------------------------------------------

args_st = st.lists(st.binary(max_size=20), min_size=1, max_size=5)
request_st = st.tuples(st.booleans(), args_st)
blank_st = st.sampled_from([b"", b"", b"\n", b"\r\n", b"\r\n\r\n"])


def _encode(is_resp: bool, args: list[bytes]) -> bytes:
    return encode_request(args) if is_resp else encode_ssdb(args)


@settings(max_examples=200)
@given(st.lists(st.tuples(request_st, blank_st), min_size=1, max_size=6), st.data())
def test_any_chunking_gives_the_same_requests(reqs, data):
    stream = b"".join(blank + _encode(*req) for req, blank in reqs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    expected = [req for req, _ in reqs]
    assert parse_stream(stream) == (expected, 0)
    assert parse_stream(stream, cuts) == (expected, 0)


@settings(max_examples=200)
@given(st.lists(request_st, min_size=1, max_size=4))
def test_byte_by_byte(reqs):
    stream = b"".join(_encode(*r) for r in reqs)
    assert parse_stream(stream, list(range(1, len(stream)))) == (reqs, 0)


_fragments = st.sampled_from(
    [b"*", b"$", b"\r\n", b"\n", b"\r", b"0", b"1", b"3", b"-1", b"get", b"x", b" ", b"99999999999"]
)


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=100), st.lists(_fragments, max_size=30).map(b"".join)), st.data())
def test_arbitrary_bytes_only_raise_protocol_error_and_terminate(raw, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    whole = parse_stream(raw)
    chunked = parse_stream(raw, cuts)
    assert whole == chunked
    reqs, _ = whole
    # every returned request consumed at least 2 bytes: bounded number of requests
    assert len(reqs) <= len(raw) // 2


# --- differential test against a literal model of SSDB's C parsers ---------------------------
#
# The model re-parses the whole buffer from the start of each request, step by step as
# Link::recv / RedisLink::parse_req do; "wait" where C would need bytes not yet received.

_WS = b" \t\n\v\f\r"


class _Wait(Exception):
    pass


class _Bad(Exception):
    pass


def _model_strtol(buf: bytes, i: int) -> int:
    n = len(buf)
    while i < n and buf[i] in _WS:
        i += 1
    neg = False
    if i < n and buf[i] in b"+-":
        neg = buf[i] == 45
        i += 1
    j = i
    while j < n and 48 <= buf[j] <= 57:
        j += 1
    if j >= n:
        raise _Wait  # C would read on into bytes not received yet
    v = int(buf[i:j]) if j > i else 0
    v = -v if neg else v
    v = max(-(1 << 63), min((1 << 63) - 1, v)) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _model_resp(buf: bytes, ptr: int) -> tuple[list[bytes], int]:
    size = len(buf) - ptr
    num_args = 0
    args: list[bytes] = []
    while size > 0:
        lf = buf.find(b"\n", ptr)
        if lf < 0:
            break
        lf += 1
        size -= lf - ptr
        length = _model_strtol(buf, ptr + 1)
        ptr = lf
        if length < 0:
            raise _Bad
        if num_args == 0:
            if length <= 0:
                raise _Bad
            num_args = length
            continue
        if length > size - 1:
            break
        args.append(buf[ptr : ptr + length])
        ptr += length + 1
        size -= length + 1
        if size > 0 and buf[ptr] == 10:
            ptr += 1
            size -= 1
        num_args -= 1
        if num_args == 0:
            return args, ptr
    raise _Wait


def _model_ssdb(buf: bytes, head: int, parsed: int) -> tuple[list[bytes], int]:
    size = len(buf) - head
    blocks: list[bytes] = []
    while size > 0:
        body = buf.find(b"\n", head)
        if body < 0:
            if size >= 19:
                # deliberate: a header line that already has 19 bytes and no "\n" can only
                # fail; ssdbpy fails it at once where SSDB keeps buffering (protocol/ssdb.py)
                raise _Bad
            break
        body += 1
        head_len = body - head
        if head_len == 1 or (head_len == 2 and buf[head] == 13):
            return blocks, body
        if not 48 <= buf[head] <= 57:
            raise _Bad
        if head_len > 19:
            raise _Bad
        body_len = int(re.match(rb"[0-9]+", buf[head : body - 1]).group()) & 0xFFFFFFFF
        if body_len >= 1 << 31:
            raise _Bad
        size -= head_len + body_len
        if size < 0:
            break
        blocks.append(buf[body : body + body_len])
        head += head_len + body_len
        parsed += head_len + body_len
        if size >= 1 and buf[head] == 10:
            head, size, parsed = head + 1, size - 1, parsed + 1
        elif size >= 2 and buf[head] == 13 and buf[head + 1] == 10:
            head, size, parsed = head + 2, size - 2, parsed + 2
        elif size >= 2:
            raise _Bad
        else:
            break
    raise _Wait


def model_parse(data: bytes):
    out: list = []
    pos = 0
    while True:
        head = pos
        while head < len(data) and data[head] in b"\r\n":
            head += 1
        if head >= len(data):
            return out, len(data) - pos
        try:
            if data[head] == 42:
                args, end = _model_resp(data, head)
                out.append((True, args))
            else:
                args, end = _model_ssdb(data, head, head - pos)
                out.append((False, args))
        except _Bad:
            return out, "error"
        except _Wait:
            return out, None  # incomplete request
        pos = end


@settings(max_examples=1000)
@given(st.lists(_fragments, max_size=40).map(b"".join), st.data())
def test_matches_the_model_of_ssdb(raw, data):
    reqs, state = model_parse(raw)
    mine = parse_stream(raw)
    assert mine[0] == reqs
    if state == "error":
        assert mine[1] == "error"
    else:
        assert mine[1] != "error"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    assert parse_stream(raw, cuts) == mine


@settings(max_examples=300)
@given(st.lists(st.tuples(request_st, blank_st), min_size=1, max_size=4), st.binary(max_size=30))
def test_matches_the_model_on_valid_streams_with_a_garbage_tail(reqs, tail):
    stream = b"".join(blank + _encode(*req) for req, blank in reqs) + tail
    reqs_model, state = model_parse(stream)
    mine = parse_stream(stream)
    assert mine[0] == reqs_model
    assert (mine[1] == "error") == (state == "error")


# --- the canonical RESP fast path (hiredis) gives exactly the lenient parser's requests ---

_arg = st.binary(max_size=12)


def _canonical(args: list[bytes]) -> bytes:
    return encode_request(args)


def _lf_only(args: list[bytes]) -> bytes:
    return b"*%d\n" % len(args) + b"".join(b"$%d\n%s\n" % (len(a), a) for a in args)


def _status_element(args: list[bytes]) -> bytes:
    # "+x" where "$n" belongs: hiredis reads a status string, SSDB reads strtol("x")
    return b"*%d\r\n" % len(args) + b"".join(b"+%s\r\n" % a.replace(b"\r", b"").replace(b"\n", b"") for a in args)


def _no_crlf_after_data(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%sXY" % (len(a), a) for a in args)


def _resp3_set(args: list[bytes]) -> bytes:
    return b"~" + _canonical(args)[1:]


def _integer_element(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b":%d\r\n" % len(a) for a in args)


_FORMS = [_canonical, _canonical, _canonical, _lf_only, _status_element, _no_crlf_after_data, _resp3_set,
          _integer_element, lambda a: encode_ssdb(a), lambda a: b"\r\n" + _canonical(a), lambda a: b"*0\r\n",
          lambda a: b"*-1\r\n", lambda a: b"*1\r\n*1\r\n$1\r\na\r\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(len(_FORMS))), st.lists(_arg, min_size=1, max_size=4)),
                min_size=1, max_size=8), st.data())
def test_fast_path_matches_the_lenient_parser(requests, data):
    stream = b"".join(_FORMS[form](args) for form, args in requests)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    assert parse_stream(stream, cuts) == parse_stream(stream, cuts, fast=False)


def test_fast_path_takes_canonical_requests_and_leaves_the_rest():
    canonical = encode_request([b"SET", b"k", b"v"]) + encode_request([b"GET", b"k"])
    odd = b"*2\r\n$3\r\ngetXY$1\r\nk\r\n"  # no CRLF after "get": the lenient parser skips "X", reads "Y$1" as a length line (0)
    p = RequestParser()
    p.feed(canonical + odd + encode_request([b"GET", b"a"])[:7])
    assert drain(p) == [(True, [b"SET", b"k", b"v"]), (True, [b"GET", b"k"]), (True, [b"get", b""])]
    assert parse_stream(canonical + odd) == parse_stream(canonical + odd, fast=False)
