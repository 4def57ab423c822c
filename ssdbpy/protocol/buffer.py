"""Receive buffer shared by the sans-IO request parsers.

The unconsumed bytes are ``raw[pos:]``.  ``raw`` is the last received chunk itself
(a ``bytes`` object, no copy) while every read ends on a request boundary, which is
the common case; it becomes a ``bytearray`` only when a partial request has to be
kept and more bytes appended.  :meth:`ReceiveBuffer.view` gives the contents as
``bytes`` (copied at most once per :meth:`feed`), so that parsers can slice
arguments as ``bytes`` directly.

Offsets handed out by the buffer (``pos``, indexes into ``raw`` / ``view()``) are
valid until the next :meth:`feed`, which drops the consumed prefix; parsers
therefore keep their resume state relative to ``pos``.

The buffer also remembers how far a search for a line feed got
(:meth:`find_lf`), so a long line arriving in many pieces is scanned once in
total rather than once per piece.
"""

from __future__ import annotations

__all__ = ["ReceiveBuffer", "cut"]


def cut(raw: bytes | bytearray, start: int, end: int) -> bytes:
    """``bytes(raw[start:end])`` with one copy (slicing a bytearray first would copy twice)."""
    if type(raw) is bytes:
        return raw[start:end]
    with memoryview(raw) as m:
        return m[start:end].tobytes()


class ReceiveBuffer:
    """Bytes received on one connection and not yet consumed by a parser.

    Attributes (read by the parsers in this package, which are its only writers
    of ``pos``):

    * ``raw`` -- ``bytes`` or ``bytearray``; ``raw[pos:]`` is unconsumed.
    * ``pos`` -- read offset into ``raw``; a parser advances it when it has
      consumed bytes (a complete block, argument or request).
    """

    __slots__ = ("raw", "pos", "_view", "_lf_start", "_lf_scanned")

    def __init__(self) -> None:
        self.raw: bytes | bytearray = b""
        self.pos = 0
        self._view: bytes | None = b""
        # find_lf memo: no b"\n" in raw[_lf_start:_lf_scanned]
        self._lf_start = -1
        self._lf_scanned = 0

    def __len__(self) -> int:
        """Number of unconsumed bytes."""
        return len(self.raw) - self.pos

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append received bytes.  Drops the consumed prefix; offsets are rebased."""
        if not chunk:
            return
        raw = self.raw
        pos = self.pos
        if pos >= len(raw):
            # everything consumed: adopt the chunk itself (zero copy)
            if type(chunk) is not bytes:
                chunk = bytes(chunk)
            self.raw = self._view = chunk
            self.pos = 0
            self._lf_start = -1
            return
        if type(raw) is bytes:
            ba = bytearray(raw[pos:]) if pos else bytearray(raw)
            ba += chunk
            self.raw = ba
        else:
            if pos:
                del raw[:pos]  # O(1) in CPython: advances the logical start
            raw += chunk
        self.pos = 0
        self._view = None
        if pos and self._lf_start >= 0:
            self._lf_start -= pos
            self._lf_scanned -= pos

    def drop_if_consumed(self) -> None:
        """Let go of ``raw`` now if every byte of it was consumed (instead of at the next feed)."""
        if self.pos >= len(self.raw):
            self.raw = self._view = b""
            self.pos = 0
            self._lf_start = -1

    def view(self) -> bytes:
        """The whole of ``raw`` as ``bytes`` (same offsets), cached until the next feed."""
        v = self._view
        if v is None:
            v = self._view = bytes(self.raw)
        return v

    def find_lf(self, start: int) -> int:
        """Offset of the first ``\\n`` at or after ``start`` in ``raw``, or -1.

        A failed search is remembered: searching again from the same ``start``
        after more bytes arrived only scans the new bytes.
        """
        raw = self.raw
        if start == self._lf_start:
            i = raw.find(b"\n", self._lf_scanned)
        else:
            i = raw.find(b"\n", start)
        if i < 0:
            self._lf_start = start
            self._lf_scanned = len(raw)
        return i

    def mark_no_lf(self, start: int) -> None:
        """Record that ``raw[start:]`` holds no ``\\n`` (a caller searched it itself)."""
        self._lf_start = start
        self._lf_scanned = len(self.raw)

    def skip_blank_lines(self) -> int:
        """Consume leading ``\\r`` and ``\\n`` bytes; return how many were skipped."""
        raw = self.raw
        p = q = self.pos
        n = len(raw)
        while q < n and raw[q] in (10, 13):
            q += 1
            if q - p > 64:
                # many blank bytes: finish with C-speed stripping
                rest = raw[q:].lstrip(b"\r\n")
                q = n - len(rest)
                break
        self.pos = q
        return q - p
