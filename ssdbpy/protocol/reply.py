"""RESP rendering of SSDB reply blocks, byte for byte as SSDB 1.9.8 (protocol.md §3.4).

Every ``render_*`` function takes the SSDB reply blocks (status first) and
returns the RESP bytes to send.  A status other than ``ok`` is rendered the same
way by all of them:

1. ``error`` / ``fail`` / ``client_error`` → ``-ERR <blocks[1]>\\r\\n`` (``-ERR \\r\\n``
   without a message block);
2. ``not_found`` → ``$-1\\r\\n``, whatever the reply type;
3. ``noauth`` → ``-NOAUTH <blocks[1]>\\r\\n``;
4. anything else → ``-ERR server error\\r\\n``.

An empty block list renders as ``b""`` (SSDB writes nothing).  The ``ok``
renderers reproduce SSDB's malformed output where SSDB produces it (``$0\\r\\n``
with no data line; ``*0`` with no CRLF; headers that disagree with the items).

RESP3 (ssdbpy extension, only for connections that said ``HELLO 3``): the
``render3_*`` functions.  They differ from RESP2 only where RESP3 has a better
type: nil is ``_\\r\\n`` (also inside mget/hmget arrays), hgetall is a map,
scores are doubles (``,<score>\\r\\n``) and zrange-family ``withscores``
replies are arrays of ``[member, score]`` pairs.  Arrays, integers, bulk
strings, ``+OK`` and ``-ERR`` are the same bytes in both protocols.

``LPOP``/``RPOP`` with a count (ssdbpy, not SSDB: docs/compat.md): the
``render_pop_none``/``render_pop_count`` pairs reply as Redis 7 where SSDB
writes the malformed ``$0\r\n``: ``*0`` for a count of 0 on an existing list,
the null array (``*-1``; RESP3 ``_``) for a missing one.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from .resp import CRLF, NIL, OK, PONG, encode_bulk, encode_multibulk

__all__ = [
    "render_failure",
    "render_generic",
    "render_ping",
    "render_status",
    "render_bulk",
    "render_integer",
    "render_multibulk",
    "render_members",
    "render_mget",
    "render_slowlog",
    "render_pop_none",
    "render_pop_count",
    "render3_pop_none",
    "render3_pop_count",
    "render3_failure",
    "render3",
    "render3_mget",
    "render3_map",
    "render3_double",
    "render3_pairs",
    "NULL",
    "EMPTY_BULK",
    "SERVER_ERROR",
]

_OK = b"ok"
#: errors.MSG_READONLY_REPLICA (protocol imports nothing from ssdbpy's other layers)
_READONLY_REPLICA = b"READONLY You can't write against a read only replica."
#: what SSDB writes for a bulk/integer reply type when the ``ok`` reply has no payload
EMPTY_BULK = b"$0\r\n\r\n"  # SSDB writes the malformed b"$0\r\n" (docs/compat.md)
SERVER_ERROR = b"-ERR server error\r\n"
EMPTY_ARRAY = b"*0\r\n"
NULL_ARRAY = b"*-1\r\n"

_HDR_CACHE = 4096
_BULK_HDR = [b"$%d\r\n" % i for i in range(_HDR_CACHE)]


def render_failure(blocks: Sequence[bytes]) -> bytes:
    """Rules 1–4 for a reply whose status is not ``ok``; ``b""`` for no blocks."""
    if not blocks:
        return b""
    status = blocks[0]
    if status == b"error" or status == b"fail" or status == b"client_error":
        if len(blocks) > 1 and blocks[1] == _READONLY_REPLICA:  # Redis's own error code
            return b"-" + _READONLY_REPLICA + CRLF
        return b"-ERR " + (blocks[1] if len(blocks) > 1 else b"") + CRLF
    if status == b"not_found":
        return NIL
    if status == b"noauth":
        return b"-NOAUTH " + (blocks[1] if len(blocks) > 1 else b"") + CRLF
    if status == _OK:
        raise ValueError("render_failure() called with an ok reply")
    return SERVER_ERROR


def render_generic(blocks: Sequence[bytes]) -> bytes:
    """Rule 5 (command not in the mapping table): every block after ``ok`` as a bulk string."""
    if blocks and blocks[0] == _OK:
        if len(blocks) == 1:
            return b"*0\r\n"
        return encode_multibulk(blocks[1:])
    return render_failure(blocks)


def render_ping(blocks: Sequence[bytes]) -> bytes:
    """PING strategy: ``+PONG`` for any ``ok`` reply."""
    if blocks and blocks[0] == _OK:
        return PONG
    return render_failure(blocks)


def render_status(blocks: Sequence[bytes]) -> bytes:
    """Status reply type: ``+OK`` for any ``ok`` reply (payload discarded)."""
    if blocks and blocks[0] == _OK:
        return OK
    return render_failure(blocks)


def render_bulk(blocks: Sequence[bytes]) -> bytes:
    """Bulk reply type: ``$<len>\\r\\n<blocks[1]>\\r\\n``; an empty bulk without ``blocks[1]`` (SSDB: the malformed ``$0\\r\\n``)."""
    if blocks and blocks[0] == _OK:
        if len(blocks) < 2:
            return EMPTY_BULK
        v = blocks[1]
        n = len(v)
        return b"".join((_BULK_HDR[n] if n < _HDR_CACHE else b"$%d\r\n" % n, v, CRLF))  # one copy of v
    return render_failure(blocks)


def render_integer(blocks: Sequence[bytes]) -> bytes:
    """Integer reply type: ``:<blocks[1]>\\r\\n`` (text copied verbatim); an empty bulk without it."""
    if blocks and blocks[0] == _OK:
        if len(blocks) < 2:
            return EMPTY_BULK
        return b":" + blocks[1] + CRLF
    return render_failure(blocks)


def render_multibulk(blocks: Sequence[bytes]) -> bytes:
    """Multi-bulk reply type: every block after ``ok`` as a bulk string."""
    return render_generic(blocks)


def render_members(blocks: Sequence[bytes]) -> bytes:
    """Multi-bulk without scores (zrange/zrangebyscore family without ``withscores``).

    The header is ``(len(blocks) - 1) // 2`` and blocks 1, 3, 5, … are emitted
    (with an odd payload the header is one short of the items, as in SSDB).
    """
    if blocks and blocks[0] == _OK:
        return encode_multibulk(blocks[1::2], (len(blocks) - 1) // 2)
    return render_failure(blocks)


def render_mget(
    blocks: Sequence[bytes], keys: Sequence[bytes], count: int | None = None, nil: bytes = NIL
) -> bytes:
    """mget/hmget: one bulk per requested key, in request order.

    ``blocks`` are ``ok, k1, v1, k2, v2, …``.  For each requested key: if the
    next unconsumed pair has that key, its value is emitted and the pair
    consumed; otherwise ``$-1``.  An even number of blocks gives ``*0`` with no
    CRLF.  The header is ``count`` (default ``len(keys)``); a missing key is
    written as ``nil`` (RESP3: :data:`NULL`).
    """
    if not blocks or blocks[0] != _OK:
        return render_failure(blocks) if nil is NIL else render3_failure(blocks)
    nb = len(blocks)
    if nb % 2 != 1:
        return b"*0"
    parts: list[bytes] = [b"*%d\r\n" % (len(keys) if count is None else count)]
    hdr = _BULK_HDR
    i = 1
    for k in keys:
        if i < nb and blocks[i] == k:
            v = blocks[i + 1]
            n = len(v)
            parts += (hdr[n] if n < _HDR_CACHE else b"$%d\r\n" % n, v, CRLF)
            i += 2
        else:
            parts.append(nil)
    return b"".join(parts)


def render_pop_none(blocks: Sequence[bytes], null: bytes = NULL_ARRAY) -> bytes:
    """``LPOP``/``RPOP key 0`` from ``qsize key``'s reply: ``*0`` if the list has items, else ``null``.

    Redis 7 answers a count of 0 with the empty array for an existing list and
    the null array for a missing key (SSDB: the malformed ``$0\r\n``).
    """
    if blocks and blocks[0] == _OK:
        return EMPTY_ARRAY if len(blocks) > 1 and blocks[1] != b"0" else null
    return render_failure(blocks) if null is NULL_ARRAY else render3_failure(blocks)


def render_pop_count(blocks: Sequence[bytes], null: bytes = NULL_ARRAY) -> bytes:
    """``LPOP``/``RPOP key count`` (count of 2 or more): :func:`render_bulk`, the null array for no items.

    SSDB replies with the first popped item only (a bulk string); a queue that
    gave no item (a missing key) is ``null`` as in Redis 7, where SSDB writes
    the malformed ``$0\r\n``.
    """
    if blocks and blocks[0] == _OK and len(blocks) == 1:
        return null
    if null is not NULL_ARRAY and blocks and blocks[0] == _NOT_FOUND:
        return null
    return render_bulk(blocks)


# --- RESP3 ---------------------------------------------------------------------------

#: the RESP3 null
NULL = b"_\r\n"
_NOT_FOUND = b"not_found"
# what a RESP3 double may hold; anything else is sent as a bulk string instead
_DOUBLE = re.compile(rb"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|-?inf|nan")


def render3_failure(blocks: Sequence[bytes]) -> bytes:
    """Rules 1–4 in RESP3: ``not_found`` is the null ``_\\r\\n``, the errors are RESP2's."""
    if blocks and blocks[0] == _NOT_FOUND:
        return NULL
    return render_failure(blocks)


def render3(render: Callable[[Sequence[bytes]], bytes]) -> Callable[[Sequence[bytes]], bytes]:
    """The RESP3 form of a RESP2 renderer whose ``ok`` output is valid RESP3 as is."""

    def render_resp3(blocks: Sequence[bytes]) -> bytes:
        if blocks and blocks[0] == _NOT_FOUND:
            return NULL
        return render(blocks)

    render_resp3.__name__ = render_resp3.__qualname__ = "render3_" + render.__name__.removeprefix("render_")
    render_resp3.__doc__ = f"RESP3 {render.__name__}: the null for ``not_found``, else the RESP2 bytes."
    return render_resp3


def render3_mget(blocks: Sequence[bytes], keys: Sequence[bytes], count: int | None = None) -> bytes:
    """mget/hmget in RESP3: :func:`render_mget` with the null for a missing key."""
    return render_mget(blocks, keys, count, NULL)


def _score(v: bytes) -> bytes:
    """A score as a RESP3 double (text copied verbatim), or as a bulk string if it is not a number."""
    return b"," + v + CRLF if _DOUBLE.fullmatch(v) else encode_bulk(v)


def render3_map(blocks: Sequence[bytes]) -> bytes:
    """hgetall in RESP3: ``%<pairs>`` then field and value bulks; an odd last block is dropped."""
    if blocks and blocks[0] == _OK:
        n = (len(blocks) - 1) // 2
        return b"%%%d\r\n" % n + b"".join(map(encode_bulk, blocks[1 : 2 * n + 1]))
    return render3_failure(blocks)


def render3_double(blocks: Sequence[bytes]) -> bytes:
    """zscore/zincrby in RESP3: ``,<blocks[1]>\\r\\n``; an empty bulk without ``blocks[1]``."""
    if blocks and blocks[0] == _OK:
        if len(blocks) < 2:
            return EMPTY_BULK
        return _score(blocks[1])
    return render3_failure(blocks)


def render3_pairs(blocks: Sequence[bytes]) -> bytes:
    """zrange family ``withscores`` in RESP3: ``*<pairs>`` of ``*2`` [member bulk, score double].

    An odd last block is dropped.
    """
    if blocks and blocks[0] == _OK:
        n = (len(blocks) - 1) // 2
        parts = [b"*%d\r\n" % n]
        for i in range(1, 2 * n, 2):
            parts += (b"*2\r\n", encode_bulk(blocks[i]), _score(blocks[i + 1]))
        return b"".join(parts)
    return render3_failure(blocks)


def render3_pop_none(blocks: Sequence[bytes]) -> bytes:
    """:func:`render_pop_none` in RESP3: the null ``_`` for a missing key."""
    return render_pop_none(blocks, NULL)


def render3_pop_count(blocks: Sequence[bytes]) -> bytes:
    """:func:`render_pop_count` in RESP3: the null ``_`` for no items (and for ``not_found``)."""
    return render_pop_count(blocks, NULL)


# --- SLOWLOG (ssdbpy addition) ---------------------------------------------------------


def render_slowlog(blocks: Sequence[bytes]) -> bytes:
    """``SLOWLOG GET`` as Redis replies it, from the SSDB reply of ``slowlog get``.

    ``blocks`` are ``ok`` then, per entry, ``id time duration_us client argc
    arg1 … argN``.  Each entry becomes Redis's ``*6``: ``:id``, ``:time``,
    ``:duration``, an array of the arguments, the client's ``ip:port`` and an
    empty client name.  Blocks that are not such a list (a sticky descriptor
    rendering another reply) are rendered as :func:`render_generic` does.
    The same bytes in RESP3.
    """
    if not blocks or blocks[0] != _OK:
        return render_failure(blocks)
    parts: list[bytes] = []
    n = len(blocks)
    i = 1
    count = 0
    try:
        while i < n:
            argc = int(blocks[i + 4])
            if argc < 0 or i + 5 + argc > n:
                raise ValueError
            parts += (b"*6\r\n:%d\r\n:%d\r\n:%d\r\n" % (int(blocks[i]), int(blocks[i + 1]), int(blocks[i + 2])),
                      encode_multibulk(blocks[i + 5 : i + 5 + argc]), encode_bulk(blocks[i + 3]), b"$0\r\n\r\n")
            i += 5 + argc
            count += 1
    except (ValueError, IndexError):
        return render_generic(blocks)
    return b"*%d\r\n" % count + b"".join(parts)
