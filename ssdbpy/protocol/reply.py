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
"""

from __future__ import annotations

from typing import Sequence

from .resp import CRLF, NIL, OK, PONG, encode_multibulk

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
    "EMPTY_BULK",
    "SERVER_ERROR",
]

_OK = b"ok"
#: what SSDB writes for a bulk/integer reply type when the ``ok`` reply has no payload
EMPTY_BULK = b"$0\r\n\r\n"  # SSDB writes the malformed b"$0\r\n" (docs/compat.md)
SERVER_ERROR = b"-ERR server error\r\n"

_HDR_CACHE = 4096
_BULK_HDR = [b"$%d\r\n" % i for i in range(_HDR_CACHE)]


def render_failure(blocks: Sequence[bytes]) -> bytes:
    """Rules 1–4 for a reply whose status is not ``ok``; ``b""`` for no blocks."""
    if not blocks:
        return b""
    status = blocks[0]
    if status == b"error" or status == b"fail" or status == b"client_error":
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
    blocks: Sequence[bytes], keys: Sequence[bytes], count: int | None = None
) -> bytes:
    """mget/hmget: one bulk per requested key, in request order.

    ``blocks`` are ``ok, k1, v1, k2, v2, …``.  For each requested key: if the
    next unconsumed pair has that key, its value is emitted and the pair
    consumed; otherwise ``$-1``.  An even number of blocks gives ``*0`` with no
    CRLF.  The header is ``count`` (default ``len(keys)``); a missing key is
    written as ``$-1``.
    """
    if not blocks or blocks[0] != _OK:
        return render_failure(blocks)
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
            parts.append(NIL)
    return b"".join(parts)

