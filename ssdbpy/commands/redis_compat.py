"""Redis → SSDB request translation and reply shapes (protocol.md §3.3–§3.6), as data.

:data:`MAPPING` is SSDB 1.9.8's table (src/net/link_redis.cpp): lowercased Redis
name → SSDB command, argument rewrite and RESP reply type.  :func:`translate`
turns a parsed RESP request into the SSDB request that goes to the normal
dispatcher, plus the :class:`Desc` that renders its reply.

The connection keeps the :class:`Desc` of the last RESP request and renders
every later reply on that connection with it, even replies to SSDB-framed
requests (§3.6); so :meth:`Desc.render` accepts any blocks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ssdbpy.protocol import reply
from ssdbpy.protocol.resp import c_strtol_int

__all__ = [
    "Desc",
    "Mapping",
    "MAPPING",
    "GENERIC",
    "translate",
    "c_atof",
    "score_to_int64",
]

Render = Callable[[Sequence[bytes]], bytes]
Rewrite = Callable[[bytes, list[bytes]], list[bytes]]

#: ``count`` used by SSDB for hkeys/hvals and zrangebyscore without LIMIT
_BIG_LIMIT = b"2000000000"
_INT64_MIN = -(1 << 63)
_TWO63 = 9223372036854775808.0


@dataclass(frozen=True, slots=True)
class Desc:
    """Reply descriptor of one RESP request.

    ``render(blocks)`` returns the RESP bytes for SSDB reply ``blocks`` (status
    first; any blocks are accepted).  ``redis`` is the lowercased Redis name the
    descriptor was made for (``b""`` for unmapped commands), ``kind`` the reply
    type: ``generic``, ``ping``, ``status``, ``bulk``, ``int``, ``multi``,
    ``members`` (multi-bulk without scores), ``mget``, ``hmget``.
    """

    redis: bytes
    kind: str
    render: Render


#: descriptor for commands not in the mapping table (rule 5: generic array)
GENERIC = Desc(b"", "generic", reply.render_generic)

_RENDER: dict[str, Render] = {
    "ping": reply.render_ping,
    "status": reply.render_status,
    "bulk": reply.render_bulk,
    "int": reply.render_integer,
    "multi": reply.render_multibulk,
    "members": reply.render_members,
}


@dataclass(frozen=True, slots=True)
class Mapping:
    """One row of the table.

    ``rewrite(ssdb, args)`` builds the SSDB request from the Redis request
    ``args`` (``args[0]`` is the Redis name as received; the list may be
    reused).  ``desc`` is the shared descriptor when the rendering does not
    depend on the request, else ``describe(ssdb_args)`` makes it.
    """

    redis: bytes
    ssdb: bytes
    reply: str
    rewrite: Rewrite
    desc: Desc | None
    describe: Callable[[list[bytes]], Desc] | None


# --- number parsing as C does it -----------------------------------------------

_ATOF = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|([iI][nN][fF])"
    rb"|([nN][aA][nN])"
    rb")"
)


def c_atof(s: bytes) -> float:
    """C ``atof``/``strtod``: white space, sign, decimal or hex float, ``inf``/``nan``; longest valid prefix, else 0."""
    m = _ATOF.match(s)
    if m is None:
        return 0.0
    sign, hexa, dec, inf, _nan = m.groups()
    if dec is not None:
        v = float(dec)
    elif hexa is not None:
        try:
            v = float.fromhex(hexa.decode())
        except OverflowError:
            v = math.inf
    elif inf is not None:
        v = math.inf
    else:
        v = math.nan
    return -v if sign == b"-" else v


def score_to_int64(s: bytes) -> int:
    """``(int64_t)atof(s)``: truncation toward zero; NaN and out-of-range give INT64_MIN (x86-64)."""
    v = c_atof(s)
    if v != v or v >= _TWO63 or v < -_TWO63:
        return _INT64_MIN
    return int(v)


def _c_int_add(v: int, d: int) -> int:
    """32-bit ``int`` addition with wrap-around."""
    return ((v + d + 0x80000000) & 0xFFFFFFFF) - 0x80000000


# --- argument rewrites ------------------------------------------------------------


def _auto(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """Only the command name changes."""
    args[0] = ssdb
    return args


def _hkeys(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """``hkeys name`` → ``hkeys name "" "" 2000000000``; any other count → bare name."""
    if len(args) == 2:
        return [ssdb, args[1], b"", b"", _BIG_LIMIT]
    return [ssdb]


def _swap_last_two(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """setex/zincrby: ``X a b c`` → ``ssdb a c b``; any other count → bare name."""
    if len(args) == 4:
        return [ssdb, args[1], args[3], args[2]]
    return [ssdb]


def _zadd(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """``zadd key s1 m1 s2 m2 …`` → ``multi_zset key m1 S1 m2 S2 …`` (``S = (int64)atof(s)``).

    A trailing score without member is dropped; ``zadd`` alone → bare name.
    """
    n = len(args)
    if n < 2:
        return [ssdb]
    out = [ssdb, args[1]]
    for i in range(2, n - 1, 2):
        out.append(args[i + 1])
        out.append(b"%d" % score_to_int64(args[i]))
    return out


def _first_three(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """zremrangebyrank/zremrangebyscore: first three arguments kept when there are at least 3."""
    if len(args) >= 4:
        return [ssdb, args[1], args[2], args[3]]
    return [ssdb]


def _zrange(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """``zrange key start stop [x]`` → ``redis_zrange key start stop [lower(x)]``.

    As SSDB: the key is always kept, start/stop only when both are present,
    the 5th argument lowercased, anything after it dropped.
    """
    n = len(args)
    out = [ssdb]
    if n >= 2:
        out.append(args[1])
    if n >= 4:
        out.append(args[2])
        out.append(args[3])
    if n >= 5:
        out.append(args[4].lower())
    return out


def _score_bound(s: bytes, delta: int) -> bytes:
    """``-inf``/``+inf`` → ``""``; ``(x`` → ``(int)strtol(x) + delta`` in 32-bit arithmetic; else as is."""
    if s == b"-inf" or s == b"+inf":
        return b""
    if s[0] == 40:  # '('
        v = c_strtol_int(s, 1)
        assert v is not None
        return b"%d" % _c_int_add(v, delta)
    return s


def _make_zrangebyscore(reverse: bool) -> Rewrite:
    lo_delta, hi_delta = (-1, 1) if reverse else (1, -1)

    def rewrite(ssdb: bytes, args: list[bytes]) -> list[bytes]:
        """``Z key min max [WITHSCORES] [LIMIT off cnt]`` → ``zscan key "" MIN MAX off cnt withscores`` (§3.5.1)."""
        if len(args) < 4:
            return [ssdb]
        name, smin, smax = args[1], args[2], args[3]
        withscores = offset = count = b""
        after_limit = False
        for i in range(4, len(args)):
            s = args[i]
            if after_limit:
                if not offset:
                    offset = s
                else:
                    count = s
                    after_limit = False
            s = s.lower()
            if s == b"withscores":
                withscores = s
            elif s == b"limit":
                after_limit = True
        if not smin or not smax:
            return [ssdb]
        return [
            ssdb,
            name,
            b"",
            _score_bound(smin, lo_delta),
            _score_bound(smax, hi_delta),
            offset or b"0",
            count or _BIG_LIMIT,
            withscores,
        ]

    return rewrite


# --- descriptors that depend on the request -----------------------------------------


def _desc_for(redis: bytes, kind: str) -> Desc:
    return Desc(redis, kind, _RENDER[kind])


_ZRANGE_DESCS = {
    name: (_desc_for(name, "multi"), _desc_for(name, "members"))
    for name in (b"zrange", b"zrevrange", b"zrangebyscore", b"zrevrangebyscore")
}


def _describe_zrange(redis: bytes) -> Callable[[list[bytes]], Desc]:
    with_scores, members = _ZRANGE_DESCS[redis]

    def describe(ssdb_args: list[bytes]) -> Desc:
        if len(ssdb_args) >= 5 and ssdb_args[4] == b"withscores":
            return with_scores
        return members

    return describe


def _describe_zrangebyscore(redis: bytes) -> Callable[[list[bytes]], Desc]:
    with_scores, members = _ZRANGE_DESCS[redis]

    def describe(ssdb_args: list[bytes]) -> Desc:
        return with_scores if ssdb_args[-1] == b"withscores" else members

    return describe


def _describe_mget(first_key: int, redis: bytes, kind: str) -> Callable[[list[bytes]], Desc]:
    render_mget = reply.render_mget

    def describe(ssdb_args: list[bytes]) -> Desc:
        keys = ssdb_args[first_key:]
        count = len(ssdb_args) - first_key

        def render(blocks: Sequence[bytes]) -> bytes:
            return render_mget(blocks, keys, count)

        return Desc(redis, kind, render)

    return describe


# --- the table ---------------------------------------------------------------------

_Row = tuple[str, str, str, Rewrite, Callable[[list[bytes]], Desc] | None]

#: (redis name, ssdb name, reply type, rewrite, describe-or-None), in SSDB's order
_ROWS: list[_Row] = [
    ("auth", "auth", "status", _auto, None),
    ("ping", "ping", "ping", _auto, None),
    ("get", "get", "bulk", _auto, None),
    ("getset", "getset", "bulk", _auto, None),
    ("set", "set", "status", _auto, None),
    ("setnx", "setnx", "int", _auto, None),
    ("exists", "exists", "int", _auto, None),
    ("incr", "incr", "int", _auto, None),
    ("decr", "decr", "int", _auto, None),
    ("ttl", "ttl", "int", _auto, None),
    ("expire", "expire", "int", _auto, None),
    ("getbit", "getbit", "int", _auto, None),
    ("setbit", "setbit", "int", _auto, None),
    ("strlen", "strlen", "int", _auto, None),
    ("bitcount", "bitcount", "int", _auto, None),
    ("substr", "getrange", "bulk", _auto, None),
    ("getrange", "getrange", "bulk", _auto, None),
    ("keys", "keys", "multi", _auto, None),
    ("hset", "hset", "int", _auto, None),
    ("hget", "hget", "bulk", _auto, None),
    ("hexists", "hexists", "int", _auto, None),
    ("del", "multi_del", "int", _auto, None),
    ("mset", "multi_set", "status", _auto, None),
    ("incrby", "incr", "int", _auto, None),
    ("decrby", "decr", "int", _auto, None),
    ("hmset", "multi_hset", "status", _auto, None),
    ("hdel", "multi_hdel", "int", _auto, None),
    ("hmdel", "multi_hdel", "int", _auto, None),
    ("hlen", "hsize", "int", _auto, None),
    ("hincrby", "hincr", "int", _auto, None),
    ("zcard", "zsize", "int", _auto, None),
    ("zscore", "zget", "bulk", _auto, None),
    ("zrem", "multi_zdel", "int", _auto, None),
    ("zrank", "zrank", "int", _auto, None),
    ("zrevrank", "zrrank", "int", _auto, None),
    ("zcount", "zcount", "int", _auto, None),
    ("zremrangebyrank", "zremrangebyrank", "int", _first_three, None),
    ("zremrangebyscore", "zremrangebyscore", "int", _first_three, None),
    ("mget", "multi_get", "mget", _auto, _describe_mget(1, b"mget", "mget")),
    ("hmget", "multi_hget", "hmget", _auto, _describe_mget(2, b"hmget", "hmget")),
    ("hgetall", "hgetall", "multi", _auto, None),
    ("hkeys", "hkeys", "multi", _hkeys, None),
    ("hvals", "hvals", "multi", _hkeys, None),
    ("setex", "setx", "status", _swap_last_two, None),
    ("zrange", "redis_zrange", "multi", _zrange, _describe_zrange(b"zrange")),
    ("zrevrange", "redis_zrrange", "multi", _zrange, _describe_zrange(b"zrevrange")),
    ("zadd", "multi_zset", "int", _zadd, None),
    ("zincrby", "zincr", "bulk", _swap_last_two, None),
    ("zrangebyscore", "zscan", "multi", _make_zrangebyscore(False), _describe_zrangebyscore(b"zrangebyscore")),
    ("zrevrangebyscore", "zrscan", "multi", _make_zrangebyscore(True), _describe_zrangebyscore(b"zrevrangebyscore")),
    ("lpush", "qpush_front", "int", _auto, None),
    ("rpush", "qpush_back", "int", _auto, None),
    ("lpop", "qpop_front", "bulk", _auto, None),
    ("rpop", "qpop_back", "bulk", _auto, None),
    ("llen", "qsize", "int", _auto, None),
    ("lsize", "qsize", "int", _auto, None),
    ("lindex", "qget", "bulk", _auto, None),
    ("lset", "qset", "status", _auto, None),
    ("lrange", "qslice", "multi", _auto, None),
]


def _build() -> dict[bytes, Mapping]:
    table: dict[bytes, Mapping] = {}
    for redis, ssdb, kind, rewrite, describe in _ROWS:
        name = redis.encode()
        desc = None if describe is not None else _desc_for(name, kind)
        table[name] = Mapping(name, ssdb.encode(), kind, rewrite, desc, describe)
    return table


#: lowercased Redis name → :class:`Mapping`
MAPPING: dict[bytes, Mapping] = _build()
# the same rows under the upper-case names clients usually send (saves a lower())
_LOOKUP: dict[bytes, Mapping] = {**MAPPING, **{k.upper(): v for k, v in MAPPING.items()}}


def translate(args: list[bytes]) -> tuple[list[bytes], Desc]:
    """Translate a RESP request into an SSDB request and its reply descriptor.

    ``args[0]`` is the Redis command name in any case.  Mapped names are
    rewritten per :data:`MAPPING`; other names are lowercased and passed with
    their arguments unchanged, with the :data:`GENERIC` descriptor.  ``args`` is
    consumed: the returned list may be ``args`` itself, modified.
    """
    name = args[0]
    m = _LOOKUP.get(name)
    if m is None:
        name = name.lower()
        m = MAPPING.get(name)
        if m is None:
            args[0] = name
            return args, GENERIC
    ssdb_args = m.rewrite(m.ssdb, args)
    desc = m.desc
    if desc is None:
        assert m.describe is not None
        desc = m.describe(ssdb_args)
    return ssdb_args, desc
