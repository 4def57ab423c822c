"""Redis → SSDB request translation and reply shapes (protocol.md §3.3–§3.6), as data.

:data:`MAPPING` is SSDB 1.9.8's table (src/net/link_redis.cpp): lowercased Redis
name → SSDB command, argument rewrite and RESP reply type.  :func:`translate`
turns a parsed RESP request into the SSDB request that goes to the normal
dispatcher, plus the :class:`Desc` that renders its reply.

The connection keeps the :class:`Desc` of the last RESP request and renders
every later reply on that connection with it, even replies to SSDB-framed
requests (§3.6); so :meth:`Desc.render` accepts any blocks.

ssdbpy extension: ``HELLO`` (Redis 6's handshake), answered by :func:`hello`
without the dispatcher.  After ``HELLO 3`` the connection translates with
:func:`translate3`, whose descriptors (:data:`MAPPING3`) render the RESP3 type
Redis 7.2 replies with: the null, maps, doubles, ``[member, score]`` pairs.
A connection that never says ``HELLO 3`` is served by :func:`translate` and
SSDB's RESP2 bytes.  Each row names its RESP2 and its RESP3 reply kind;
:data:`RENDERERS` maps a kind to its renderer per RESP version.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ssdbpy import errors, info
from ssdbpy.cnum import uint64
from ssdbpy.commands.context import Context
from ssdbpy.commands.dispatch import execute
from ssdbpy.protocol import reply
from ssdbpy.protocol.resp import c_strtol_int, encode_bulk

__all__ = [
    "Desc",
    "Mapping",
    "MAPPING",
    "MAPPING3",
    "GENERIC",
    "GENERIC3",
    "PROTOCOLS",
    "ConnRequest",
    "Hello",
    "REDIS_ONLY",
    "hello",
    "translate",
    "translate3",
    "direct_rows",
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
    kind: ``generic``, ``ping``, ``status``, ``bulk``, ``int``, ``multi``,
    ``members`` (multi-bulk without scores), ``mget``, ``hmget``, ``pop_none``
    and ``pop_count`` (lpop/rpop with a count); RESP3 adds ``map``,
    ``double`` and ``pairs`` (:data:`RENDERERS`).
    """

    redis: bytes
    kind: str
    render: Render


#: descriptor for commands not in the mapping table (rule 5: generic array)
GENERIC = Desc(b"", "generic", reply.render_generic)

#: RESP version → reply kind → renderer.  Each row of the table names its RESP2
#: kind (SSDB's reply type) and its RESP3 kind (the type Redis 7 replies with
#: after ``HELLO 3``); the connection picks the version's descriptors once, at
#: HELLO, so a RESP2 reply costs no RESP3 test.  RESP3 adds ``map`` (hgetall),
#: ``double`` (scores) and ``pairs`` (withscores); every RESP3 renderer writes
#: the null ``_`` for ``not_found``.
RENDERERS: dict[int, dict[str, Render]] = {
    2: {
        "ping": reply.render_ping,
        "status": reply.render_status,
        "bulk": reply.render_bulk,
        "int": reply.render_integer,
        "multi": reply.render_multibulk,
        "members": reply.render_members,
        "pop_none": reply.render_pop_none,
        "pop_count": reply.render_pop_count,
    },
}
RENDERERS[3] = {
    **{kind: reply.render3(render) for kind, render in RENDERERS[2].items()},
    "map": reply.render3_map,
    "double": reply.render3_double,
    "pairs": reply.render3_pairs,
    "pop_none": reply.render3_pop_none,
    "pop_count": reply.render3_pop_count,
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
    reply: str  # the reply kind in this table's RESP version (a key of RENDERERS[version])
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
    if s.isdigit() and len(s) < 16:  # plain digits below 2**53: atof is exact
        return int(s)
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

#: ``(redis name, row's reply kind, RESP version)`` → ``describe(ssdb_args)``: the factory of a
#: row whose descriptor depends on the request
Family = Callable[[bytes, str, int], Callable[[list[bytes]], Desc]]


def _desc_for(redis: bytes, kind: str, proto: int = 2) -> Desc:
    return Desc(redis, kind, RENDERERS[proto][kind])


def _zrange_family(by_score: bool) -> Family:
    """zrange/zrevrange (5th argument ``withscores``) and the by-score pair (last SSDB argument).

    ``withscores`` replies have the row's kind; the others are ``members``.
    """

    def family(redis: bytes, kind: str, proto: int) -> Callable[[list[bytes]], Desc]:
        with_scores = _desc_for(redis, kind, proto)
        members = _desc_for(redis, "members", proto)
        if by_score:

            def describe(ssdb_args: list[bytes]) -> Desc:
                return with_scores if ssdb_args[-1] == b"withscores" else members

        else:

            def describe(ssdb_args: list[bytes]) -> Desc:
                if len(ssdb_args) >= 5 and ssdb_args[4] == b"withscores":
                    return with_scores
                return members

        return describe

    return family


def _mget_family(first_key: int) -> Family:
    """mget/hmget: the descriptor keeps the requested keys (from ``first_key`` on) and their count."""

    def family(redis: bytes, kind: str, proto: int) -> Callable[[list[bytes]], Desc]:
        render_mget = reply.render3_mget if proto == 3 else reply.render_mget

        def describe(ssdb_args: list[bytes]) -> Desc:
            keys = ssdb_args[first_key:]
            count = len(ssdb_args) - first_key

            def render(blocks: Sequence[bytes]) -> bytes:
                return render_mget(blocks, keys, count)

            return Desc(redis, kind, render)

        return describe

    return family


def _pop(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """lpop/rpop: ``X key`` and ``X key count`` → ``ssdb key [count]``; a count of 0 → ``qsize key``.

    ssdbpy, not SSDB (docs/compat.md): SSDB pops nothing for a count that
    ``strtoull`` reads as 0 and writes the malformed ``$0\r\n``; ssdbpy asks the
    list's size instead, to answer as Redis 7 (``*0``, or the null array for a
    missing key).
    """
    if len(args) >= 3 and uint64(args[2]) == 0:
        return [b"qsize", args[1]]
    args[0] = ssdb
    return args


def _pop_family(redis: bytes, kind: str, proto: int) -> Callable[[list[bytes]], Desc]:
    """lpop/rpop: the row's kind; ``pop_none`` for a count of 0, ``pop_count`` for a count of 2 or more.

    A count of 1 pops one item as no count does (SSDB: ``ok item`` or ``not_found``).
    """
    one = _desc_for(redis, kind, proto)
    none = _desc_for(redis, "pop_none", proto)
    many = _desc_for(redis, "pop_count", proto)

    def describe(ssdb_args: list[bytes]) -> Desc:
        if len(ssdb_args) < 3:
            return none if ssdb_args[0] == b"qsize" else one
        return many if uint64(ssdb_args[2]) > 1 else one

    return describe


# --- the table ---------------------------------------------------------------------

_Row = tuple[str, str, str, str, Rewrite, Family | None]

#: (redis name, ssdb name, RESP2 reply kind, RESP3 reply kind, rewrite, family-or-None), in SSDB's order.
#: The RESP2 kind is SSDB's reply type; the RESP3 kind is the type Redis 7.2 replies with after
#: ``HELLO 3`` (checked live against redis-server: tests/integration/test_resp3.py).  For the
#: zrange family it is the ``withscores`` kind (``members`` otherwise).
_ROWS: list[_Row] = [
    ("auth", "auth", "status", "status", _auto, None),
    ("ping", "ping", "ping", "ping", _auto, None),
    ("get", "get", "bulk", "bulk", _auto, None),
    ("getset", "getset", "bulk", "bulk", _auto, None),
    ("set", "set", "status", "status", _auto, None),
    ("setnx", "setnx", "int", "int", _auto, None),
    ("exists", "exists", "int", "int", _auto, None),
    ("incr", "incr", "int", "int", _auto, None),
    ("decr", "decr", "int", "int", _auto, None),
    ("ttl", "ttl", "int", "int", _auto, None),
    ("expire", "expire", "int", "int", _auto, None),
    ("getbit", "getbit", "int", "int", _auto, None),
    ("setbit", "setbit", "int", "int", _auto, None),
    ("strlen", "strlen", "int", "int", _auto, None),
    ("bitcount", "bitcount", "int", "int", _auto, None),
    ("substr", "getrange", "bulk", "bulk", _auto, None),
    ("getrange", "getrange", "bulk", "bulk", _auto, None),
    ("keys", "keys", "multi", "multi", _auto, None),
    ("hset", "hset", "int", "int", _auto, None),
    ("hget", "hget", "bulk", "bulk", _auto, None),
    ("hexists", "hexists", "int", "int", _auto, None),
    ("del", "multi_del", "int", "int", _auto, None),
    ("mset", "multi_set", "status", "status", _auto, None),
    ("incrby", "incr", "int", "int", _auto, None),
    ("decrby", "decr", "int", "int", _auto, None),
    ("hmset", "multi_hset", "status", "status", _auto, None),
    ("hdel", "multi_hdel", "int", "int", _auto, None),
    ("hmdel", "multi_hdel", "int", "int", _auto, None),
    ("hlen", "hsize", "int", "int", _auto, None),
    ("hincrby", "hincr", "int", "int", _auto, None),
    ("zcard", "zsize", "int", "int", _auto, None),
    ("zscore", "zget", "bulk", "double", _auto, None),
    ("zrem", "multi_zdel", "int", "int", _auto, None),
    ("zrank", "zrank", "int", "int", _auto, None),
    ("zrevrank", "zrrank", "int", "int", _auto, None),
    ("zcount", "zcount", "int", "int", _auto, None),
    ("zremrangebyrank", "zremrangebyrank", "int", "int", _first_three, None),
    ("zremrangebyscore", "zremrangebyscore", "int", "int", _first_three, None),
    ("mget", "multi_get", "mget", "mget", _auto, _mget_family(1)),
    ("hmget", "multi_hget", "hmget", "hmget", _auto, _mget_family(2)),
    ("hgetall", "hgetall", "multi", "map", _auto, None),
    ("hkeys", "hkeys", "multi", "multi", _hkeys, None),
    ("hvals", "hvals", "multi", "multi", _hkeys, None),
    ("setex", "setx", "status", "status", _swap_last_two, None),
    ("zrange", "redis_zrange", "multi", "pairs", _zrange, _zrange_family(False)),
    ("zrevrange", "redis_zrrange", "multi", "pairs", _zrange, _zrange_family(False)),
    ("zadd", "multi_zset", "int", "int", _zadd, None),
    ("zincrby", "zincr", "bulk", "double", _swap_last_two, None),
    ("zrangebyscore", "zscan", "multi", "pairs", _make_zrangebyscore(False), _zrange_family(True)),
    ("zrevrangebyscore", "zrscan", "multi", "pairs", _make_zrangebyscore(True), _zrange_family(True)),
    ("lpush", "qpush_front", "int", "int", _auto, None),
    ("rpush", "qpush_back", "int", "int", _auto, None),
    ("lpop", "qpop_front", "bulk", "bulk", _pop, _pop_family),
    ("rpop", "qpop_back", "bulk", "bulk", _pop, _pop_family),
    ("llen", "qsize", "int", "int", _auto, None),
    ("lsize", "qsize", "int", "int", _auto, None),
    ("lindex", "qget", "bulk", "bulk", _auto, None),
    ("lset", "qset", "status", "status", _auto, None),
    ("lrange", "qslice", "multi", "multi", _auto, None),
]


def _build(proto: int) -> dict[bytes, Mapping]:
    table: dict[bytes, Mapping] = {}
    for redis, ssdb, kind2, kind3, rewrite, family in _ROWS:
        name = redis.encode()
        kind = kind3 if proto == 3 else kind2
        if family is None:
            table[name] = Mapping(name, ssdb.encode(), kind, rewrite, _desc_for(name, kind, proto), None)
        else:
            table[name] = Mapping(name, ssdb.encode(), kind, rewrite, None, family(name, kind, proto))
    return table


#: lowercased Redis name → :class:`Mapping` (SSDB 1.9.8's table, RESP2 replies)
MAPPING: dict[bytes, Mapping] = _build(2)
#: the same rows with RESP3 replies, for connections that said ``HELLO 3``
MAPPING3: dict[bytes, Mapping] = _build(3)


# --- HELLO: the RESP3 handshake (ssdbpy extension) -----------------------------------


class ConnRequest(Exception):
    """Raised by the translators for a Redis command SSDB does not have: the connection answers it.

    Costs nothing on the common path (raised only for these names).
    ``request`` is the RESP request as received.  See :data:`REDIS_ONLY`.
    """

    def __init__(self, request: list[bytes]) -> None:
        super().__init__()
        self.request = request


class Hello(ConnRequest):
    """``HELLO``: answered with :func:`hello` instead of the dispatcher."""


def _hello(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    raise Hello(args)


_HELLO = Mapping(b"hello", b"", "hello", _hello, GENERIC, None)

#: Redis commands SSDB 1.9.8 does not have (it answers ``-ERR Unknown Command``), answered by the
#: connection with Redis's replies (ssdbpy additions: docs/compat.md, "Redis commands for Sentinel")
REDIS_ONLY = frozenset((
    b"echo", b"command", b"client", b"config", b"script", b"quit",
    b"publish", b"subscribe", b"psubscribe", b"unsubscribe", b"punsubscribe", b"pubsub",
    b"multi", b"exec", b"discard", b"replicaof", b"role", b"wait",
))


def _conn_request(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    raise ConnRequest(args)


def _slaveof(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """``SLAVEOF host port`` / ``SLAVEOF NO ONE``: Redis's (the connection answers); other arities: SSDB's."""
    if len(args) == 3:
        raise ConnRequest(args)
    args[0] = ssdb
    return args


def _info(ssdb: bytes, args: list[bytes]) -> list[bytes]:
    """``INFO`` with no argument or Redis section words only: Redis's layout; other arguments: SSDB's info."""
    if info.redis_wanted(args[1:]) is not None:
        raise ConnRequest(args)
    args[0] = ssdb
    return args

MSG_NOPROTO = b"-NOPROTO " + errors.MSG_HELLO_NOPROTO + b"\r\n"
MSG_WRONGPASS = b"-WRONGPASS " + errors.MSG_HELLO_WRONGPASS + b"\r\n"
MSG_HELLO_NOAUTH = b"-NOAUTH " + errors.MSG_HELLO_NOAUTH + b"\r\n"
MSG_BAD_PROTOVER = b"-ERR " + errors.MSG_HELLO_PROTOVER + b"\r\n"
_PROTOVER = re.compile(rb"[+-]?[0-9]{1,18}")
#: the only user name HELLO AUTH accepts (SSDB has one password, no users)
DEFAULT_USER = b"default"
SERVER_NAME = b"ssdbpy"
SERVER_VERSION = b"1.9.8"

#: connection ids reported by HELLO (Redis's CLIENT ID: unique, increasing)
client_ids = itertools.count(1)


def _hello_reply(proto: int, client_id: int) -> bytes:
    fields = [
        (b"server", encode_bulk(SERVER_NAME)),
        (b"version", encode_bulk(SERVER_VERSION)),
        (b"proto", b":%d\r\n" % proto),
        (b"id", b":%d\r\n" % client_id),
        (b"mode", encode_bulk(b"standalone")),
        (b"role", encode_bulk(b"master")),
        (b"modules", b"*0\r\n"),
    ]
    head = b"%%%d\r\n" % len(fields) if proto == 3 else b"*%d\r\n" % (2 * len(fields))
    return head + b"".join(encode_bulk(k) + v for k, v in fields)


def hello(ctx: Context, args: list[bytes], proto: int, client_id: int) -> tuple[bytes, int]:
    """Answer ``HELLO [protover [AUTH username password] [SETNAME name]]`` as Redis 6+ does.

    ``proto`` is the connection's protocol (2 or 3) before the request.
    Returns the reply bytes and the protocol of the connection afterwards:
    ``protover`` when the request succeeds, else ``proto`` unchanged.

    * ``protover`` other than 2 or 3 → ``-NOPROTO``; not an integer → ``-ERR``;
      without ``protover`` the protocol stays as it is;
    * ``AUTH username password`` runs SSDB's ``auth`` command; a user other
      than ``default`` or a refused password → ``-WRONGPASS``;
    * without AUTH the connection must already be authenticated (``-NOAUTH``);
    * ``SETNAME`` is checked here and applied by the connection (CLIENT SETNAME's name);
    * the reply lists server, version, proto, id, mode, role and modules: a
      flat array for protocol 2, a map for 3.
    """
    n = len(args)
    new = proto
    i = 1
    if n > 1:
        if not _PROTOVER.fullmatch(args[1]):
            return MSG_BAD_PROTOVER, proto
        new = int(args[1])
        if new != 2 and new != 3:
            return MSG_NOPROTO, proto
        i = 2
    user = password = None
    while i < n:
        opt = args[i].lower()
        more = n - 1 - i
        if opt == b"auth" and more >= 2:
            user, password = args[i + 1], args[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            i += 2
        else:
            # the option is echoed as Redis does, with its line breaks as spaces (a
            # line break would end the error line and desynchronise the client)
            option = args[i].replace(b"\r", b" ").replace(b"\n", b" ")
            return b"-ERR " + errors.MSG_HELLO_SYNTAX % option + b"\r\n", proto
    if password is not None:
        if user != DEFAULT_USER or execute(ctx, [b"auth", password])[0] != b"ok":
            return MSG_WRONGPASS, proto
    elif not ctx.authed:
        return MSG_HELLO_NOAUTH, proto
    return _hello_reply(new, client_id), new


# --- SLOWLOG (ssdbpy addition): Redis's reply shapes for the ``slowlog`` command ---------


def _slowlog_mapping(proto: int) -> Mapping:
    """``SLOWLOG GET [n]`` (Redis's nested entries), ``LEN`` (integer), ``RESET`` (``+OK``).

    Not a row of :data:`MAPPING`, which is SSDB's table: SSDB has no slowlog
    command.  The request goes to ssdbpy's ``slowlog`` unchanged.
    """
    by_sub = {
        b"get": Desc(b"slowlog", "slowlog", reply.render_slowlog),
        b"len": _desc_for(b"slowlog", "int", proto),
        b"reset": _desc_for(b"slowlog", "status", proto),
    }
    generic = GENERIC3 if proto == 3 else GENERIC

    def describe(ssdb_args: list[bytes]) -> Desc:
        return by_sub.get(ssdb_args[1].lower(), generic) if len(ssdb_args) > 1 else generic

    return Mapping(b"slowlog", b"slowlog", "slowlog", _auto, None, describe)


# --- translation ---------------------------------------------------------------------


def _translator(table: dict[bytes, Mapping], generic: Desc) -> Callable[[list[bytes]], tuple[list[bytes], Desc]]:
    # the rows under their lowercase names, the upper-case names clients usually
    # send (saves a lower()) and HELLO
    slowlog = _slowlog_mapping(2 if generic is GENERIC else 3)
    extra = {b"hello": _HELLO, b"slowlog": slowlog, b"info": Mapping(b"info", b"info", "generic", _info, generic, None),
             b"slaveof": Mapping(b"slaveof", b"slaveof", "generic", _slaveof, generic, None)}
    for name in REDIS_ONLY:
        extra[name] = Mapping(name, b"", "conn", _conn_request, generic, None)
    extra.update({k.upper(): v for k, v in extra.items()})
    lookup = {**table, **{k.upper(): v for k, v in table.items()}, **extra}

    def translate(args: list[bytes]) -> tuple[list[bytes], Desc]:
        name = args[0]
        m = lookup.get(name)
        if m is None:
            name = name.lower()
            m = lookup.get(name)
            if m is None:
                args[0] = name
                return args, generic
        ssdb_args = m.rewrite(m.ssdb, args)
        desc = m.desc
        if desc is None:
            assert m.describe is not None
            desc = m.describe(ssdb_args)
        return ssdb_args, desc

    return translate


def direct_rows(resp3: bool = False) -> dict[bytes, tuple[bytes, Desc]]:
    """The rows :func:`translate` only renames: Redis name (lower and upper case) → (SSDB name, descriptor).

    For these, a connection may skip :func:`translate`: the SSDB request is the
    Redis request with ``args[0]`` replaced, the reply rendered by the descriptor.
    """
    out: dict[bytes, tuple[bytes, Desc]] = {}
    for name, m in (MAPPING3 if resp3 else MAPPING).items():
        if m.rewrite is _auto and m.desc is not None:
            out[name] = out[name.upper()] = (m.ssdb, m.desc)
    return out


#: descriptor for unmapped commands on a RESP3 connection (the null for ``not_found``)
GENERIC3 = Desc(b"", "generic", reply.render3(reply.render_generic))

translate = _translator(MAPPING, GENERIC)
translate.__doc__ = """Translate a RESP request into an SSDB request and its reply descriptor.

``args[0]`` is the Redis command name in any case.  Mapped names are
rewritten per :data:`MAPPING`; other names are lowercased and passed with
their arguments unchanged, with the :data:`GENERIC` descriptor.  ``args`` is
consumed: the returned list may be ``args`` itself, modified.  ``HELLO``
raises :class:`Hello`.
"""

translate3 = _translator(MAPPING3, GENERIC3)
translate3.__doc__ = """:func:`translate` for a RESP3 connection: the descriptors render RESP3 (:data:`MAPPING3`)."""

#: protocol → (translator, descriptor of an unmapped request): what a connection switches to after HELLO
PROTOCOLS: dict[int, tuple[Callable[[list[bytes]], tuple[list[bytes], Desc]], Desc]] = {
    2: (translate, GENERIC),
    3: (translate3, GENERIC3),
}
