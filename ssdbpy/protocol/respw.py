"""Small RESP writers for the Redis-only replies (pure): one function per type, RESP2 or RESP3.

RESP3 (``proto == 3``) has its own null (``_``), map (``%``) and push (``>``)
types; RESP2 writes the null bulk, a flat array of pairs and an array.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from .resp import encode_bulk


def bulk(v: bytes) -> bytes:
    return encode_bulk(v)


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


def status(s: bytes) -> bytes:
    return b"+" + s + b"\r\n"


def error(msg: bytes) -> bytes:
    """``-<msg>``: the message starts with the error code (``ERR``, ``EXECABORT``…); line breaks become spaces."""
    return b"-" + msg.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


def null(proto: int) -> bytes:
    return b"_\r\n" if proto == 3 else b"$-1\r\n"


def array(items: Sequence[bytes]) -> bytes:
    """An array of already encoded items."""
    return b"*%d\r\n" % len(items) + b"".join(items)


def bulks(values: Iterable[bytes]) -> bytes:
    items = [encode_bulk(v) for v in values]
    return array(items)


def map_(pairs: Sequence[tuple[bytes, bytes]], proto: int) -> bytes:
    """A map of already encoded keys and values (RESP2: the flat array of pairs)."""
    head = b"%%%d\r\n" % len(pairs) if proto == 3 else b"*%d\r\n" % (2 * len(pairs))
    return head + b"".join(k + v for k, v in pairs)


def push(items: Sequence[bytes], proto: int) -> bytes:
    """An out-of-band message (pub/sub): ``>`` in RESP3, an array in RESP2."""
    return (b">%d\r\n" if proto == 3 else b"*%d\r\n") % len(items) + b"".join(items)


def verbatim(text: bytes, proto: int, fmt: bytes = b"txt") -> bytes:
    """A verbatim string in RESP3 (``=``), a bulk string in RESP2."""
    if proto == 3:
        return b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)
    return encode_bulk(text)
