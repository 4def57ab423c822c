"""Per-request protocol detection: SSDB framing or RESP on the same connection.

As SSDB 1.9.8 does (protocol.md §2.3, §3.1): before every request, leading
``\\r``/``\\n`` bytes are skipped; if the next byte is ``*`` the request is a RESP
multi-bulk, otherwise an SSDB packet.  Inline Redis commands (``PING\\r\\n``)
therefore go to the SSDB parser and fail (``P`` is not a digit).

Usage by a connection::

    parser.feed(data)
    while (req := parser.next()) is not None:
        is_resp, args = req
        ...

Results do not depend on how the input is split into chunks.
"""

from __future__ import annotations

from ssdbpy.errors import ProtocolError

from .buffer import ReceiveBuffer
from .resp import RESPParser, parse_canonical
from .ssdb import SSDBParser

__all__ = ["RequestParser"]


class RequestParser:
    """Turns received bytes into requests ``(is_resp, args)``; sans-IO.

    ``args`` are the raw request blocks (for RESP, the command name is *not*
    lowercased or translated here; see :mod:`ssdbpy.commands.redis_compat`).
    After a :class:`ProtocolError` the parser stays broken: every later
    :meth:`next` raises again (the connection must be dropped without a reply),
    and it keeps none of the bytes received.  Only the error's message is kept,
    not the exception: a traceback would reference the parser's frames and
    through them its buffer, a cycle that only a full GC pass frees.
    """

    __slots__ = ("_buf", "_ssdb", "_resp", "_active", "_skipped", "_error", "_ready", "_fast")

    def __init__(self, fast: bool = True) -> None:
        self._buf = ReceiveBuffer()
        self._ssdb = SSDBParser()
        self._resp = RESPParser()
        self._active: SSDBParser | RESPParser | None = None
        self._skipped = 0
        self._error: str | None = None  # message of the framing error, once one happened
        #: canonical RESP requests already taken from the buffer, last first
        self._ready: list[tuple[bool, list[bytes]]] = []
        #: parse canonical RESP with hiredis (False: the lenient parser alone, as the tests' reference)
        self._fast = fast

    def feed(self, data: bytes) -> None:
        """Append bytes received from the peer (any chunking)."""
        self._buf.feed(data)

    def next(self) -> tuple[bool, list[bytes]] | None:
        """The next complete request as ``(is_resp, args)``, or ``None`` if more bytes are needed.

        Raises :class:`ProtocolError` on a framing error.
        """
        if self._ready:
            return self._ready.pop()
        if self._error is not None:
            raise ProtocolError(self._error)
        buf = self._buf
        active = self._active
        try:
            if active is None:
                raw = buf.raw
                p = buf.pos
                if p >= len(raw):
                    return None
                c = raw[p]
                if c == 10 or c == 13:
                    self._skipped += buf.skip_blank_lines()
                    p = buf.pos
                    if p >= len(raw):
                        return None
                    c = raw[p]
                if c == 42:  # '*'
                    # fast path: every canonical request of the buffer at once (hiredis)
                    reqs, end = parse_canonical(raw, p) if self._fast else ((), p)
                    if reqs:
                        buf.pos = end
                        self._skipped = 0
                        if len(reqs) == 1:
                            return (True, reqs[0])
                        ready = [(True, r) for r in reversed(reqs)]
                        first = ready.pop()
                        self._ready = ready
                        return first
                    args = self._resp.parse(buf)
                    if args is None:
                        self._active = self._resp
                        self._skipped = 0
                        return None
                    if self._skipped:
                        self._skipped = 0
                    return (True, args)
                args = self._ssdb.parse(buf, self._skipped)
                self._skipped = 0
                if args is None:
                    self._active = self._ssdb
                    return None
                return (False, args)
            args = active.parse(buf)
        except ProtocolError as e:
            self._error = str(e)
            self.close()
            raise
        if args is None:
            return None
        self._active = None
        buf.drop_if_consumed()  # a request that spanned reads: its buffer may be big
        return (active is self._resp, args)

    def close(self) -> None:
        """Release every byte held (the connection ended); later feeds are ignored by callers."""
        self._buf = ReceiveBuffer()
        self._ssdb = SSDBParser()
        self._resp = RESPParser()
        self._active = None
        self._ready = []

    def __len__(self) -> int:
        """Bytes received and not yet parsed (includes parts of an incomplete request)."""
        return len(self._buf)
