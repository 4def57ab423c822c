"""Redis → SSDB translation table and reply descriptors (protocol.md §3.3–§3.6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ssdbpy.commands.sys  # noqa: F401  (registers auth, which HELLO AUTH runs)
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.info import redis_wanted
from ssdbpy.commands.redis_compat import (
    GENERIC,
    GENERIC3,
    MAPPING,
    MAPPING3,
    PROTOCOLS,
    RENDERERS,
    Desc,
    ConnRequest,
    Hello,
    REDIS_ONLY,
    c_atof,
    hello,
    score_to_int64,
    translate,
    translate3,
)

DATA = Path(__file__).resolve().parents[2] / "data"  # tests/data: recorded from SSDB 1.9.8

_ESC = re.compile(r"\\(x[0-9a-f]{2}|\\)")


def unescape(s: str) -> bytes:
    return _ESC.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), s).encode("latin-1")


def load_vectors(name: str) -> list[dict]:
    path = DATA / "vectors" / name
    assert path.is_file(), f"spec vectors missing: {path}"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tr(*args: bytes) -> tuple[list[bytes], Desc]:
    return translate(list(args))


# --- the table against the spec ---------------------------------------------------


def spec_table() -> dict[bytes, tuple[bytes, str]]:
    path = DATA / "redis_mapping.md"
    assert path.is_file(), f"spec missing: {path}"
    text = path.read_text()
    section = text[text.index("### 3.5 Mapping table") : text.index("Everything else")]
    rows: dict[bytes, tuple[bytes, str]] = {}
    prev = ""
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)` \| `(\w+)` \| ", line)
        if not m:
            continue
        reply_cell = line.rstrip().rstrip("|").rsplit(" | ", 1)[1].strip().strip("*")
        for prefix, kind in [
            ("status", "status"),
            ("`+PONG`", "ping"),
            ("bulk", "bulk"),
            ("integer", "int"),
            ("multi-bulk", "multi"),
            ("mget", "mget"),
            ("same", prev),
        ]:
            if reply_cell.startswith(prefix):
                break
        else:
            raise AssertionError(f"unknown reply type in spec row: {line}")
        prev = kind
        rows[m.group(1).encode()] = (m.group(2).encode(), kind)
    assert len(rows) > 50
    return rows


def test_mapping_matches_spec_table():
    spec = spec_table()
    assert set(MAPPING) == set(spec)
    for name, (ssdb, kind) in spec.items():
        m = MAPPING[name]
        assert m.redis == name
        assert m.ssdb == ssdb, name
        assert m.reply == ("mget" if kind == "mget" and name == b"mget" else "hmget" if kind == "mget" else kind), name


def test_shared_descriptors_are_preallocated():
    d1 = tr(b"get", b"a")[1]
    d2 = tr(b"GET", b"b")[1]
    assert d1 is d2
    assert tr(b"foo")[1] is GENERIC
    assert tr(b"zrange", b"z", b"0", b"1")[1] is tr(b"ZRANGE", b"y", b"0", b"2")[1]


# --- argument rewrites --------------------------------------------------------------


@pytest.mark.parametrize(
    "redis, ssdb",
    [
        ([b"GET", b"nope"], [b"get", b"nope"]),
        ([b"gEt", b"a", b"x"], [b"get", b"a", b"x"]),
        ([b"del", b"a", b"b", b"nope"], [b"multi_del", b"a", b"b", b"nope"]),
        ([b"incrby", b"n", b"10"], [b"incr", b"n", b"10"]),
        ([b"foo", b"bar"], [b"foo", b"bar"]),
        ([b"SELECT", b"0"], [b"select", b"0"]),
        ([b"HSIZE", b"h"], [b"hsize", b"h"]),
        ([b"setex", b"t", b"100", b"tv"], [b"setx", b"t", b"tv", b"100"]),
        ([b"setex", b"t", b"tv"], [b"setx"]),
        ([b"setex", b"t", b"1", b"v", b"x"], [b"setx"]),
        ([b"hkeys", b"h"], [b"hkeys", b"h", b"", b"", b"2000000000"]),
        ([b"hvals", b"h"], [b"hvals", b"h", b"", b"", b"2000000000"]),
        ([b"hkeys", b"h", b"x"], [b"hkeys"]),
        ([b"hkeys"], [b"hkeys"]),
        ([b"zincrby", b"z", b"10", b"b"], [b"zincr", b"z", b"b", b"10"]),
        ([b"zincrby", b"z", b"10"], [b"zincr"]),
        ([b"zadd", b"z", b"1", b"a", b"2", b"b", b"3.7", b"c"], [b"multi_zset", b"z", b"a", b"1", b"b", b"2", b"c", b"3"]),
        ([b"zadd", b"z", b"1"], [b"multi_zset", b"z"]),
        ([b"zadd", b"z", b"1", b"a", b"2"], [b"multi_zset", b"z", b"a", b"1"]),
        ([b"zadd", b"z"], [b"multi_zset", b"z"]),
        ([b"zadd"], [b"multi_zset"]),
        ([b"zremrangebyrank", b"z", b"0", b"0"], [b"zremrangebyrank", b"z", b"0", b"0"]),
        ([b"zremrangebyscore", b"z", b"1", b"2", b"x"], [b"zremrangebyscore", b"z", b"1", b"2"]),
        ([b"zremrangebyscore", b"z", b"1"], [b"zremrangebyscore"]),
        ([b"zrange", b"z", b"0", b"-1"], [b"redis_zrange", b"z", b"0", b"-1"]),
        ([b"zrange", b"z", b"0", b"-1", b"WithScores", b"x"], [b"redis_zrange", b"z", b"0", b"-1", b"withscores"]),
        ([b"zrevrange", b"z", b"0", b"1", b"withscores"], [b"redis_zrrange", b"z", b"0", b"1", b"withscores"]),
        ([b"zrange", b"z", b"0"], [b"redis_zrange", b"z"]),
        ([b"zrange", b"z"], [b"redis_zrange", b"z"]),
        ([b"zrange"], [b"redis_zrange"]),
        ([b"zrangebyscore", b"z", b"(2", b"5"], [b"zscan", b"z", b"", b"3", b"5", b"0", b"2000000000", b""]),
        ([b"zrangebyscore", b"z", b"2", b"(5"], [b"zscan", b"z", b"", b"2", b"4", b"0", b"2000000000", b""]),
        ([b"zrevrangebyscore", b"z", b"5", b"(3"], [b"zrscan", b"z", b"", b"5", b"4", b"0", b"2000000000", b""]),
        ([b"zrevrangebyscore", b"z", b"(5", b"3"], [b"zrscan", b"z", b"", b"4", b"3", b"0", b"2000000000", b""]),
        (
            [b"zrangebyscore", b"z", b"-inf", b"+inf", b"LIMIT", b"1", b"1"],
            [b"zscan", b"z", b"", b"", b"", b"1", b"1", b""],
        ),
        (
            [b"zrevrangebyscore", b"z", b"+inf", b"-inf", b"withscores"],
            [b"zrscan", b"z", b"", b"", b"", b"0", b"2000000000", b"withscores"],
        ),
        (
            [b"zrangebyscore", b"z", b"1", b"9", b"limit", b"2", b"3", b"WITHSCORES"],
            [b"zscan", b"z", b"", b"1", b"9", b"2", b"3", b"withscores"],
        ),
        # inf is matched case-sensitively; other bounds are passed as they are
        ([b"zrangebyscore", b"z", b"-INF", b"1.5"], [b"zscan", b"z", b"", b"-INF", b"1.5", b"0", b"2000000000", b""]),
        # "(" bounds: (int)strtol of the rest, then 32-bit int arithmetic
        ([b"zrangebyscore", b"z", b"(abc", b"(2147483648"], [b"zscan", b"z", b"", b"1", b"2147483647", b"0", b"2000000000", b""]),
        ([b"zrangebyscore", b"z", b"(2147483647", b"5"], [b"zscan", b"z", b"", b"-2147483648", b"5", b"0", b"2000000000", b""]),
        ([b"zrangebyscore", b"z", b"(2.9", b"(", b"x"], [b"zscan", b"z", b"", b"3", b"-1", b"0", b"2000000000", b""]),
        ([b"zrangebyscore", b"z", b"(99999999999", b"1"], [b"zscan", b"z", b"", b"1215752192", b"1", b"0", b"2000000000", b""]),
        # LIMIT quirks: an empty offset is replaced by the next argument; args after LIMIT are also keywords
        (
            [b"zrangebyscore", b"z", b"1", b"2", b"LIMIT", b"", b"7", b"8"],
            [b"zscan", b"z", b"", b"1", b"2", b"7", b"8", b""],
        ),
        (
            [b"zrangebyscore", b"z", b"1", b"2", b"LIMIT", b"withscores", b""],
            [b"zscan", b"z", b"", b"1", b"2", b"withscores", b"2000000000", b"withscores"],
        ),
        ([b"zrangebyscore", b"z", b"1", b"2", b"LIMIT"], [b"zscan", b"z", b"", b"1", b"2", b"0", b"2000000000", b""]),
        ([b"zrangebyscore", b"z", b"0"], [b"zscan"]),
        ([b"zrangebyscore", b"z", b"", b"5"], [b"zscan"]),
        ([b"zrevrangebyscore", b"z", b"5", b"", b"withscores"], [b"zrscan"]),
    ],
)
def test_rewrites(redis, ssdb):
    assert translate(list(redis))[0] == ssdb


@pytest.mark.parametrize(
    "s, v",
    [
        (b"3.7", 3),
        (b"-3.7", -3),
        (b"  +12", 12),
        (b"1e3", 1000),
        (b"1.5abc", 1),
        (b"abc", 0),
        (b"", 0),
        (b"0x10", 16),
        (b"0x1p4", 16),
        (b"0x", 0),
        (b".5", 0),
        (b"-0", 0),
        (b"1e", 1),
        (b"1e+", 1),
        (b"-9223372036854775808", -(1 << 63)),
        (b"9223372036854775807", -(1 << 63)),  # rounds to 2**63: out of range
        (b"9.2e18", 9200000000000000000),
        (b"inf", -(1 << 63)),
        (b"-Infinity", -(1 << 63)),
        (b"nan", -(1 << 63)),
        (b"1e400", -(1 << 63)),
        (b"7\x009", 7),
    ],
)
def test_zadd_scores(s, v):
    assert score_to_int64(s) == v


def test_c_atof():
    assert c_atof(b" 1.25e1x") == 12.5
    assert c_atof(b"-.5") == -0.5
    assert c_atof(b"0x1.8p1") == 3.0


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e18, max_value=1e18))
def test_score_truncation_matches_python_for_plain_floats(f):
    assert score_to_int64(repr(f).encode()) == int(f)


# --- reply descriptors against the recorded RESP vectors -----------------------------------


def _parse_resp(data: bytes, i: int = 0):
    """Minimal RESP reply reader for the vectors: returns (kind, value, next offset)."""
    j = data.index(b"\r\n", i)
    t, line = data[i : i + 1], data[i + 1 : j]
    if t == b"+":
        return "status", line, j + 2
    if t == b"-":
        return "error", line, j + 2
    if t == b":":
        return "int", line, j + 2
    if t == b"$":
        n = int(line)
        if n < 0:
            return "nil", None, j + 2
        return "bulk", data[j + 2 : j + 2 + n], j + 4 + n
    assert t == b"*"
    items, k = [], j + 2
    for _ in range(int(line)):
        kind, v, k = _parse_resp(data, k)
        assert kind in ("bulk", "nil")
        items.append(v)
    return "array", items, k


def ssdb_reply_for(expect: bytes, ssdb_args: list[bytes], desc: Desc) -> list[bytes]:
    """The SSDB reply blocks that produce ``expect`` (obvious inverse of §3.4)."""
    kind, v, end = _parse_resp(expect)
    assert end == len(expect)
    if kind == "error":
        if v.startswith(b"NOAUTH "):
            return [b"noauth", v[7:]]
        assert v.startswith(b"ERR ")
        msg = v[4:]
        return [b"client_error", msg] if msg else [b"client_error"]
    if kind == "nil":
        return [b"not_found"]
    if kind == "status":
        return [b"ok", b"1"] if v == b"OK" else [b"ok"]
    if kind in ("int", "bulk"):
        return [b"ok", v]
    if desc.kind in ("mget", "hmget"):
        keys = ssdb_args[1:] if desc.kind == "mget" else ssdb_args[2:]
        blocks = [b"ok"]
        for key, item in zip(keys, v):
            if item is not None:
                blocks += [key, item]
        return blocks
    if desc.kind == "members":
        blocks = [b"ok"]
        for item in v:
            blocks += [item, b"0"]
        return blocks
    return [b"ok", *v]


def test_redis_vectors_render_exactly():
    n = 0
    for line in load_vectors("redis.jsonl"):
        if "send" not in line:
            continue
        args = [unescape(a) for a in line["send"]]
        ssdb_args, desc = translate(list(args))
        expect = unescape(line["expect_raw"])
        blocks = ssdb_reply_for(expect, ssdb_args, desc)
        assert desc.render(blocks) == expect, (line, blocks)
        n += 1
    assert n >= 100


@pytest.mark.parametrize(
    "args, kind",
    [
        ([b"PING"], "ping"),
        ([b"set", b"a", b"1"], "status"),
        ([b"auth", b"x"], "status"),
        ([b"get", b"a"], "bulk"),
        ([b"zincrby", b"z", b"1", b"m"], "bulk"),
        ([b"zscore", b"z", b"m"], "bulk"),
        ([b"zrank", b"z", b"m"], "int"),
        ([b"del", b"a"], "int"),
        ([b"hgetall", b"h"], "multi"),
        ([b"keys", b"", b"", b"9"], "multi"),
        ([b"zrange", b"z", b"0", b"1"], "members"),
        ([b"zrange", b"z", b"0", b"1", b"WITHSCORES"], "multi"),
        ([b"zrange", b"z", b"0", b"1", b"x"], "members"),
        ([b"zrangebyscore", b"z", b"0", b"1"], "members"),
        ([b"zrangebyscore", b"z", b"0", b"1", b"withscores"], "multi"),
        ([b"zrangebyscore", b"z", b"0"], "members"),
        ([b"mget", b"a"], "mget"),
        ([b"hmget", b"h", b"a"], "hmget"),
        ([b"info", b"cmd"], "generic"),  # SSDB's info arguments; a bare INFO is Redis's (ConnRequest)
        ([b"info", b"x"], "generic"),
        ([b"dbsize"], "generic"),
    ],
)
def test_reply_kinds(args, kind):
    assert translate(args)[1].kind == kind


# --- §3.6: the sticky descriptor of the last RESP request -------------------------------


class FakeConnection:
    """What the server's connection does with descriptors (reply side only)."""

    def __init__(self) -> None:
        self.desc: Desc | None = None

    def reply(self, is_resp: bool, args: list[bytes], blocks: list[bytes]) -> bytes:
        if is_resp:
            args, self.desc = translate(args)
        if self.desc is None:
            from ssdbpy.protocol.ssdb import encode_ssdb

            return encode_ssdb(blocks)
        return self.desc.render(blocks)


def test_sticky_descriptor_scenario_from_redis_mixed():
    c = FakeConnection()
    assert c.reply(True, [b"get", b"a"], [b"not_found"]) == b"$-1\r\n"
    assert c.reply(False, [b"set", b"a", b"1"], [b"ok", b"1"]) == b"$1\r\n1\r\n"
    assert c.reply(False, [b"ping"], [b"ok"]) == b"$0\r\n\r\n"  # SSDB: malformed b"$0\r\n" (docs/compat.md)
    assert c.reply(True, [b"qget", b"q"], [b"client_error", b"wrong number of arguments"]) == (
        b"-ERR wrong number of arguments\r\n"
    )
    assert c.reply(False, [b"ping"], [b"ok"]) == b"*0\r\n"


def test_fresh_connection_stays_ssdb():
    c = FakeConnection()
    assert c.reply(False, [b"ping"], [b"ok"]) == b"2\nok\n\n"


def test_stale_mget_descriptor_keeps_the_request_keys():
    c = FakeConnection()
    assert c.reply(True, [b"mget", b"k1", b"k2"], [b"ok", b"k2", b"v"]) == b"*2\r\n$-1\r\n$1\r\nv\r\n"
    # an SSDB request later: rendered against the old keys
    assert c.reply(False, [b"multi_get", b"k1"], [b"ok", b"k1", b"x"]) == b"*2\r\n$1\r\nx\r\n$-1\r\n"
    assert c.reply(False, [b"set", b"a", b"1"], [b"ok", b"1"]) == b"*0"
    assert c.reply(False, [b"ping"], [b"ok"]) == b"*2\r\n$-1\r\n$-1\r\n"


def test_stale_zrange_descriptor_halves():
    c = FakeConnection()
    c.reply(True, [b"zrange", b"z", b"0", b"-1"], [b"ok"])
    assert c.reply(False, [b"hgetall", b"h"], [b"ok", b"f", b"v", b"g", b"w"]) == b"*2\r\n$1\r\nf\r\n$1\r\ng\r\n"


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=8))
def test_translate_accepts_any_request(args):
    try:
        ssdb_args, desc = translate(list(args))
    except ConnRequest:  # only the names the connection answers itself (HELLO, REDIS_ONLY, a Redis INFO)
        name = args[0].lower()
        assert name == b"hello" or name in REDIS_ONLY or (name == b"info" and redis_wanted(args[1:]) is not None)
        return
    assert ssdb_args and isinstance(ssdb_args[0], bytes)
    assert isinstance(desc.render([b"ok", *args]), bytes)
    if args[0].lower() not in MAPPING:
        assert ssdb_args == [args[0].lower(), *args[1:]]
        assert desc is GENERIC


# --- HELLO and RESP3 (ssdbpy extension) ---------------------------------------------------


def test_resp3_table_has_the_same_rows():
    assert set(MAPPING3) == set(MAPPING)
    for name, m in MAPPING.items():
        m3 = MAPPING3[name]
        assert (m3.redis, m3.ssdb, m3.rewrite) == (m.redis, m.ssdb, m.rewrite)
        # the zrange family's kind is its ``withscores`` kind (``members`` without)
        resp3_kinds = {b"hgetall": "map", b"zscore": "double", b"zincrby": "double", b"zrange": "pairs",
                       b"zrevrange": "pairs", b"zrangebyscore": "pairs", b"zrevrangebyscore": "pairs"}
        assert m3.reply == resp3_kinds.get(name, m.reply)
    assert b"hello" not in MAPPING and b"hello" not in MAPPING3


@pytest.mark.parametrize("name", [b"hello", b"HELLO", b"Hello", b"hELLo"])
@pytest.mark.parametrize("tr_", [translate, translate3])
def test_hello_is_not_sent_to_ssdb(tr_, name):
    with pytest.raises(Hello) as e:
        tr_([name, b"3"])
    assert e.value.request == [name, b"3"]


def test_protocols():
    assert PROTOCOLS[2] == (translate, GENERIC)
    assert PROTOCOLS[3] == (translate3, GENERIC3)


@pytest.mark.parametrize(
    "args, kind, blocks, out",
    [
        ([b"GET", b"a"], "bulk", [b"not_found"], b"_\r\n"),
        ([b"get", b"a"], "bulk", [b"ok", b"v"], b"$1\r\nv\r\n"),
        ([b"set", b"a", b"1"], "status", [b"ok", b"1"], b"+OK\r\n"),
        ([b"ping"], "ping", [b"ok"], b"+PONG\r\n"),
        ([b"incr", b"n"], "int", [b"ok", b"2"], b":2\r\n"),
        ([b"zrank", b"z", b"m"], "int", [b"not_found"], b"_\r\n"),
        ([b"zscore", b"z", b"m"], "double", [b"ok", b"3"], b",3\r\n"),
        ([b"zscore", b"z", b"m"], "double", [b"not_found"], b"_\r\n"),
        ([b"zincrby", b"z", b"10", b"m"], "double", [b"ok", b"11"], b",11\r\n"),
        ([b"hgetall", b"h"], "map", [b"ok", b"f", b"v"], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        ([b"hkeys", b"h"], "multi", [b"ok", b"f"], b"*1\r\n$1\r\nf\r\n"),
        ([b"lrange", b"l", b"0", b"-1"], "multi", [b"ok", b"a"], b"*1\r\n$1\r\na\r\n"),
        ([b"zrange", b"z", b"0", b"1"], "members", [b"ok", b"a", b"1"], b"*1\r\n$1\r\na\r\n"),
        ([b"zrange", b"z", b"0", b"1", b"WITHSCORES"], "pairs", [b"ok", b"a", b"1"],
         b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n"),
        ([b"zrevrange", b"z", b"0", b"1", b"withscores"], "pairs", [b"ok"], b"*0\r\n"),
        ([b"zrangebyscore", b"z", b"0", b"9", b"withscores"], "pairs", [b"ok", b"a", b"1"],
         b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n"),
        ([b"zrevrangebyscore", b"z", b"9", b"0"], "members", [b"ok", b"a", b"1"], b"*1\r\n$1\r\na\r\n"),
        ([b"mget", b"a", b"b"], "mget", [b"ok", b"b", b"2"], b"*2\r\n_\r\n$1\r\n2\r\n"),
        ([b"hmget", b"h", b"a", b"b"], "hmget", [b"ok", b"a", b"1"], b"*2\r\n$1\r\n1\r\n_\r\n"),
        ([b"qsize", b"q"], "generic", [b"ok", b"1"], b"*1\r\n$1\r\n1\r\n"),
        ([b"qget", b"q", b"9"], "generic", [b"not_found"], b"_\r\n"),
        ([b"lset", b"l", b"9", b"x"], "status", [b"error", b"index out of range"], b"-ERR index out of range\r\n"),
    ],
)
def test_resp3_descriptors(args, kind, blocks, out):
    ssdb_args, desc = translate3(list(args))
    assert ssdb_args == translate(list(args))[0]
    assert desc.kind == kind
    assert desc.render(blocks) == out


def test_resp3_descriptors_are_preallocated():
    assert translate3([b"get", b"a"])[1] is translate3([b"GET", b"b"])[1]
    assert translate3([b"foo"])[1] is GENERIC3
    assert translate3([b"get", b"a"])[1] is not translate([b"get", b"a"])[1]


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=8))
def test_translate3_accepts_any_request(args):
    try:
        ssdb_args, desc = translate3(list(args))
    except ConnRequest:  # the names the connection answers itself, as in RESP2
        with pytest.raises(ConnRequest):
            translate(list(args))
        return
    assert ssdb_args == translate(list(args))[0]
    assert isinstance(desc.render([b"ok", *args]), bytes)


PW = b"p" * 32


def ctx_(passwords=None) -> Context:
    return Context(ServerState(None, passwords=passwords))  # type: ignore[arg-type]


def hello_fields(proto: int) -> bytes:
    head = b"%7\r\n" if proto == 3 else b"*14\r\n"
    return head + (
        b"$6\r\nserver\r\n$6\r\nssdbpy\r\n$7\r\nversion\r\n$5\r\n1.9.8\r\n"
        b"$5\r\nproto\r\n:%d\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
        b"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n" % proto
    )


@pytest.mark.parametrize("before", [2, 3])
@pytest.mark.parametrize("ver", [2, 3])
def test_hello_switches_protocol(before, ver):
    out, proto = hello(ctx_(), [b"HELLO", b"%d" % ver], before, 7)
    assert proto == ver
    assert out == hello_fields(ver)


@pytest.mark.parametrize("before", [2, 3])
def test_hello_without_version_keeps_the_protocol(before):
    assert hello(ctx_(), [b"hello"], before, 7) == (hello_fields(before), before)


@pytest.mark.parametrize(
    "args, out",
    [
        ([b"hello", b"4"], b"-NOPROTO sorry, this protocol version is not supported\r\n"),
        ([b"hello", b"1"], b"-NOPROTO sorry, this protocol version is not supported\r\n"),
        ([b"hello", b"-3"], b"-NOPROTO sorry, this protocol version is not supported\r\n"),
        ([b"hello", b"x"], b"-ERR Protocol version is not an integer or out of range\r\n"),
        ([b"hello", b""], b"-ERR Protocol version is not an integer or out of range\r\n"),
        ([b"hello", b"3", b"auth", b"default"], b"-ERR Syntax error in HELLO option 'auth'\r\n"),
        ([b"hello", b"3", b"bogus"], b"-ERR Syntax error in HELLO option 'bogus'\r\n"),
        ([b"hello", b"3", b"SETNAME"], b"-ERR Syntax error in HELLO option 'SETNAME'\r\n"),
        # line breaks echoed as spaces (as Redis): the error stays one line
        ([b"hello", b"2", b"a\r\nb\nc"], b"-ERR Syntax error in HELLO option 'a  b c'\r\n"),
    ],
)
def test_hello_errors_keep_the_protocol(args, out):
    assert hello(ctx_(), args, 2, 1) == (out, 2)


def test_hello_setname_is_accepted():
    out, proto = hello(ctx_(), [b"hello", b"3", b"SETNAME", b"app"], 2, 7)
    assert proto == 3 and out.startswith(b"%7\r\n")


def test_hello_auth():
    ctx = ctx_([PW])
    assert not ctx.authed
    # no AUTH on a connection that has not authenticated
    out, proto = hello(ctx, [b"hello", b"3"], 2, 1)
    assert out.startswith(b"-NOAUTH HELLO must be called with the client already authenticated") and proto == 2
    wrongpass = (b"-WRONGPASS invalid username-password pair or user is disabled.\r\n", 2)
    assert hello(ctx, [b"hello", b"3", b"AUTH", b"default", b"x" * 32], 2, 1) == wrongpass
    assert hello(ctx, [b"hello", b"3", b"AUTH", b"admin", PW], 2, 1) == wrongpass
    assert not ctx.authed
    out, proto = hello(ctx, [b"hello", b"3", b"auth", b"default", PW, b"setname", b"n"], 2, 7)
    assert (out, proto) == (hello_fields(3), 3)
    assert ctx.authed
    # authenticated now: HELLO without AUTH works
    assert hello(ctx, [b"hello", b"2"], 3, 7)[1] == 2


def test_hello_auth_without_configured_password_accepts_any():
    ctx = ctx_()
    assert hello(ctx, [b"hello", b"3", b"AUTH", b"default", b"anything"], 2, 1)[1] == 3


class FakeConnection3(FakeConnection):
    """FakeConnection that also answers HELLO as the server's connection does."""

    def __init__(self) -> None:
        super().__init__()
        self.proto = 2
        self.translate = translate

    def reply(self, is_resp: bool, args: list[bytes], blocks: list[bytes]) -> bytes:
        if is_resp:
            try:
                args, self.desc = self.translate(args)
            except Hello as h:
                out, self.proto = hello(ctx_(), h.request, self.proto, 1)
                self.translate, self.desc = PROTOCOLS[self.proto]
                return out
        if self.desc is None:
            from ssdbpy.protocol.ssdb import encode_ssdb

            return encode_ssdb(blocks)
        return self.desc.render(blocks)


def test_resp3_connection_scenario():
    c = FakeConnection3()
    assert c.reply(True, [b"get", b"a"], [b"not_found"]) == b"$-1\r\n"
    assert c.reply(True, [b"hello", b"4"], []).startswith(b"-NOPROTO")
    assert c.reply(True, [b"get", b"a"], [b"not_found"]) == b"$-1\r\n"
    assert c.reply(True, [b"HELLO", b"3"], []).startswith(b"%7\r\n")
    assert c.reply(False, [b"qget", b"q", b"0"], [b"not_found"]) == b"_\r\n"  # sticky: the unmapped RESP3 descriptor
    assert c.reply(True, [b"get", b"a"], [b"not_found"]) == b"_\r\n"
    assert c.reply(True, [b"hgetall", b"h"], [b"ok", b"f", b"v"]) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert c.reply(True, [b"hello", b"2"], []).startswith(b"*14\r\n")
    assert c.reply(True, [b"get", b"a"], [b"not_found"]) == b"$-1\r\n"
    assert c.reply(True, [b"hgetall", b"h"], [b"ok", b"f", b"v"]) == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"


# --- one RESP2 and one RESP3 renderer per reply kind ------------------------------------------

#: (kind, SSDB reply blocks, RESP2 bytes or None when RESP2 has no such kind, RESP3 bytes, as Redis 7.2)
KIND_CASES = [
    ("ping", [b"ok"], b"+PONG\r\n", b"+PONG\r\n"),
    ("status", [b"ok", b"1"], b"+OK\r\n", b"+OK\r\n"),
    ("status", [b"not_found"], b"$-1\r\n", b"_\r\n"),
    ("bulk", [b"ok", b"v"], b"$1\r\nv\r\n", b"$1\r\nv\r\n"),
    ("bulk", [b"not_found"], b"$-1\r\n", b"_\r\n"),
    ("int", [b"ok", b"-7"], b":-7\r\n", b":-7\r\n"),
    ("int", [b"not_found"], b"$-1\r\n", b"_\r\n"),
    ("multi", [b"ok", b"a", b"1"], b"*2\r\n$1\r\na\r\n$1\r\n1\r\n", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
    ("multi", [b"ok"], b"*0\r\n", b"*0\r\n"),
    ("members", [b"ok", b"a", b"1", b"b", b"2"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ("pop_none", [b"ok", b"2"], b"*0\r\n", b"*0\r\n"),
    ("pop_none", [b"ok", b"0"], b"*-1\r\n", b"_\r\n"),
    ("pop_count", [b"ok"], b"*-1\r\n", b"_\r\n"),
    ("pop_count", [b"ok", b"x", b"y"], b"$1\r\nx\r\n", b"$1\r\nx\r\n"),
    ("map", [b"ok", b"f", b"v"], None, b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ("map", [b"not_found"], None, b"_\r\n"),
    ("double", [b"ok", b"-9223372036854775808"], None, b",-9223372036854775808\r\n"),
    ("double", [b"not_found"], None, b"_\r\n"),
    ("pairs", [b"ok", b"a", b"1", b"b", b"-2"], None,
     b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,-2\r\n"),
    ("pairs", [b"ok"], None, b"*0\r\n"),
]


@pytest.mark.parametrize("kind, blocks, resp2, resp3", KIND_CASES)
def test_reply_kind_renderers(kind, blocks, resp2, resp3):
    if resp2 is None:
        assert kind not in RENDERERS[2]
    else:
        assert RENDERERS[2][kind](blocks) == resp2
    assert RENDERERS[3][kind](blocks) == resp3
    assert RENDERERS[3][kind]([b"error", b"e"]) == b"-ERR e\r\n"


def test_every_reply_kind_has_a_case():
    assert {case[0] for case in KIND_CASES} == set(RENDERERS[3])
    assert set(RENDERERS[2]) <= set(RENDERERS[3])


@pytest.mark.parametrize(
    "args, ssdb_args, kind",
    [
        ([b"LPOP", b"l"], [b"qpop_front", b"l"], "bulk"),
        ([b"rpop", b"l", b"1"], [b"qpop_back", b"l", b"1"], "bulk"),
        ([b"lpop", b"l", b"0"], [b"qsize", b"l"], "pop_none"),
        ([b"RPOP", b"l", b"0"], [b"qsize", b"l"], "pop_none"),
        ([b"lpop", b"l", b"x"], [b"qsize", b"l"], "pop_none"),  # strtoull: 0, as SSDB reads it
        ([b"lpop", b"l", b"0", b"extra"], [b"qsize", b"l"], "pop_none"),
        ([b"lpop", b"l", b"2"], [b"qpop_front", b"l", b"2"], "pop_count"),
        ([b"rpop", b"l", b"-1"], [b"qpop_back", b"l", b"-1"], "pop_count"),  # strtoull: UINT64_MAX
        ([b"lpop"], [b"qpop_front"], "bulk"),
    ],
)
@pytest.mark.parametrize("tr_", [translate, translate3])
def test_pop_with_a_count(tr_, args, ssdb_args, kind):
    got, desc = tr_(list(args))
    assert got == ssdb_args
    assert desc.kind == kind


def test_pop_count_zero_replies_as_redis():
    # an existing list (qsize > 0): the empty array; a missing key: the null array (RESP3: null)
    assert translate([b"lpop", b"l", b"0"])[1].render([b"ok", b"3"]) == b"*0\r\n"
    assert translate([b"lpop", b"l", b"0"])[1].render([b"ok", b"0"]) == b"*-1\r\n"
    assert translate3([b"rpop", b"l", b"0"])[1].render([b"ok", b"3"]) == b"*0\r\n"
    assert translate3([b"rpop", b"l", b"0"])[1].render([b"ok", b"0"]) == b"_\r\n"
    # a count of 2 or more on a missing key (SSDB: ok with no item)
    assert translate([b"rpop", b"l", b"5"])[1].render([b"ok"]) == b"*-1\r\n"
    assert translate3([b"rpop", b"l", b"5"])[1].render([b"ok"]) == b"_\r\n"
