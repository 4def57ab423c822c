"""SSDB framing: the request parser (with SSDB 1.9.8's exact leniencies) and the encoder.

A packet is a sequence of blocks ``<decimal length>\\n<data>\\n`` followed by an
empty line.  What the parser accepts, exactly as SSDB 1.9.8's ``Link::recv``
(protocol.md §2.3):

* leading ``\\r``/``\\n`` bytes before a packet are skipped (done by the caller,
  see :mod:`ssdbpy.protocol.sniff`; they count towards the packet size limit);
* a header line (up to and including the next ``\\n``) that is exactly ``\\n``
  or ``\\r\\n`` ends the packet;
* otherwise the header must start with an ASCII digit and be at most 19 bytes
  long including its ``\\n``; the length is C ``atoi`` of it (leading digits,
  anything after them ignored, the value truncated to a 32-bit ``int``; a
  negative result is an error);
* the data is followed by ``\\n`` or ``\\r\\n``; anything else is an error (one
  byte other than ``\\n`` alone is not yet an error: more input is awaited);
* after each block, more than :data:`MAX_PACKET_SIZE` bytes consumed for the
  packet is an error;
* an incomplete packet waits for more bytes.

Errors raise :class:`ssdbpy.errors.ProtocolError`.  Timing differs from SSDB in two
ways only, both bounding the memory of a connection: once more than
``MAX_PACKET_SIZE + 2`` bytes of an incomplete packet are buffered, failure is
certain and is reported at once instead of when the offending block completes;
and a header line that has reached ``MAX_HEADER_LINE`` bytes without its ``\n``
fails at once instead of when the ``\n`` arrives.
"""

from __future__ import annotations

import re

from ssdbpy.errors import ProtocolError

from .buffer import ReceiveBuffer, cut

__all__ = ["MAX_PACKET_SIZE", "MAX_HEADER_LINE", "SSDBParser", "encode_ssdb", "PacketReader"]

#: maximum bytes consumed for one request packet (SSDB's MAX_PACKET_SIZE)
MAX_PACKET_SIZE = 128 * 1024 * 1024
#: maximum length of a block header line, including its ``\n``
MAX_HEADER_LINE = 19

_DIGITS = re.compile(rb"[0-9]+")


class SSDBParser:
    """Resumable parser for one SSDB packet at a time.

    Call :meth:`parse` at a packet boundary (after the caller skipped blank
    lines and saw a first byte that is not ``*``), and again after every feed
    until it returns the blocks; it then starts afresh.  Completed blocks are
    consumed from the buffer as they are parsed, so a partial packet is never
    parsed twice.
    """

    __slots__ = ("_partial", "_args", "_parsed", "_need", "_need_lf")

    def __init__(self) -> None:
        self._partial = False  # in the middle of a packet: the fields below hold its state
        self._args: list[bytes] = []
        self._parsed = 0  # bytes counted towards MAX_PACKET_SIZE so far
        self._need = 0  # bytes that must be available from buf.pos before progress is possible
        self._need_lf = False  # waiting for the "\n" of the header at buf.pos

    @property
    def in_request(self) -> bool:
        """True between the first byte of a packet and its completion."""
        return self._partial

    def parse(self, buf: ReceiveBuffer, skipped: int = 0) -> list[bytes] | None:
        """Return the blocks of the packet once complete, else ``None`` (more bytes needed).

        ``skipped``: blank bytes the caller skipped before this packet; they
        count towards the size limit (used when a packet starts, ignored when
        resuming one).  Raises :class:`ProtocolError` on a framing error; the
        parser is then unusable.
        """
        raw = buf.raw
        p = buf.pos
        n = len(raw)
        if self._partial:
            if n - p < self._need:
                return None
            args = self._args
            parsed = self._parsed
            if self._need_lf:
                if buf.find_lf(p) < 0:
                    return self._save(buf, p, n, n - p + 1, True, args, parsed)
                self._need_lf = False
        else:
            if p >= n:
                return None
            args = []
            parsed = skipped
        src = raw  # bytes, or a bytearray holding a partial packet (blocks cut as bytes)
        whole = type(raw) is bytes
        while True:
            lf = src.find(b"\n", p, p + MAX_HEADER_LINE)
            if lf < 0:
                if n - p >= MAX_HEADER_LINE:  # no header is that long: certain failure
                    raise ProtocolError("bad SSDB block header: line too long")
                return self._save(buf, p, n, n - p + 1, False, args, parsed)
            start = lf + 1
            hl = start - p
            c = src[p]
            if hl <= 2 and (hl == 1 or c == 13):
                # "\n" or "\r\n": end of packet
                buf.pos = start
                if self._partial:
                    self._partial = False
                    self._args = []
                return args
            if c < 48 or c > 57:
                raise ProtocolError("bad SSDB block header: not a digit")
            if hl > MAX_HEADER_LINE:
                raise ProtocolError("bad SSDB block header: line too long")
            head = src[p:lf]
            if head.isdigit():
                size = int(head)
            else:
                m = _DIGITS.match(src, p)
                assert m is not None
                size = int(m.group())
            if size > 0x7FFFFFFF:  # atoi() truncates to a 32-bit int
                size &= 0xFFFFFFFF
                if size > 0x7FFFFFFF:
                    raise ProtocolError("bad SSDB block header: negative length")
            end = start + size
            if end >= n:
                return self._save(buf, p, n, end + 1 - p, False, args, parsed)
            t = src[end]
            if t == 10:
                nxt = end + 1
            elif end + 1 < n:
                if t != 13 or src[end + 1] != 10:
                    raise ProtocolError("bad SSDB block: data not followed by LF or CRLF")
                nxt = end + 2
            else:
                return self._save(buf, p, n, end + 2 - p, False, args, parsed)
            args.append(src[start:end] if whole else cut(src, start, end))
            parsed += nxt - p
            if parsed > MAX_PACKET_SIZE:
                raise ProtocolError("SSDB request exceeds the maximum packet size")
            p = nxt

    def _save(
        self, buf: ReceiveBuffer, p: int, n: int, need: int, need_lf: bool, args: list[bytes], parsed: int
    ) -> None:
        """Remember a partial packet (``buf.pos`` = ``p``) and enforce the size limit early.

        A valid packet is at most MAX_PACKET_SIZE + 2 bytes (the limit is checked
        after each block, the end line adds at most 2): if more bytes than that
        are buffered and the packet is still incomplete, it can only fail.
        """
        buf.pos = p
        limit = MAX_PACKET_SIZE + 2 - parsed
        if n - p > limit:
            raise ProtocolError("SSDB request exceeds the maximum packet size")
        self._partial = True
        self._args = args
        self._parsed = parsed
        self._need = min(need, limit + 1)
        self._need_lf = need_lf
        return None


_LEN_CACHE = 4096
_LEN = [b"%d" % i for i in range(_LEN_CACHE)]


def encode_ssdb(blocks: list[bytes]) -> bytes:
    """Encode one SSDB packet: ``<len>\\n<data>\\n`` per block, then ``\\n`` (LF only, ``%d`` lengths).

    An empty list encodes as ``b""``: SSDB writes nothing for an empty reply.
    """
    if not blocks:
        return b""
    parts: list[bytes] = []
    for b in blocks:
        n = len(b)
        parts += (_LEN[n] if n < _LEN_CACHE else b"%d" % n, b)
    parts.append(b"\n")
    return b"\n".join(parts)


class PacketReader:
    """SSDB framing only (no RESP sniffing): for clients reading replies and for streams.

    ``feed(data)``, then ``next()`` until ``None``.  Leading blank lines before a
    packet are skipped, as the server does.  Raises :class:`ProtocolError`.
    """

    __slots__ = ("_buf", "_parser", "_active", "_skipped", "failed")

    def __init__(self) -> None:
        #: next_batch() returned the packets before a framing error: call again to get the error
        self.failed = False
        self._buf = ReceiveBuffer()
        self._parser = SSDBParser()
        self._active = False
        self._skipped = 0

    def feed(self, data: bytes) -> None:
        self._buf.feed(data)

    def next(self) -> list[bytes] | None:
        buf = self._buf
        if not self._active:
            self._skipped += buf.skip_blank_lines()
            if buf.pos >= len(buf.raw):
                return None
            self._active = True
            blocks = self._parser.parse(buf, self._skipped)
            self._skipped = 0
        else:
            blocks = self._parser.parse(buf)
        if blocks is not None:
            self._active = False
        return blocks

    def next_batch(self, limit: int) -> list[list[bytes]]:
        """Up to ``limit`` complete packets (possibly none): the same packets ``next()`` would return.

        Packets written as SSDB and ssdbpy write them (LF line ends, blocks of
        at most FAST_BLOCK bytes, no blank lines between packets) are split in
        one tight loop; at the first other byte the generic parser takes over.
        """
        out: list[list[bytes]] = []
        buf = self._buf
        while len(out) < limit:
            if not self._active:
                raw = buf.raw
                src = raw if type(raw) is bytes else buf.view()
                p = _split_packets(src, buf.pos, limit - len(out), out)
                buf.pos = p
                if len(out) >= limit:
                    break
            try:
                pkt = self.next()
            except ProtocolError:
                if out:
                    self.failed = True  # the next call meets the same bytes and raises
                    return out
                raise
            if pkt is None:
                break
            out.append(pkt)
        return out

    def __len__(self) -> int:
        """Bytes buffered and not yet returned as part of a packet."""
        return len(self._buf)


#: blocks longer than this are left to the generic parser (which enforces the size limits)
FAST_BLOCK = 1 << 20


def _split_packets(src: bytes, p: int, limit: int, out: list[list[bytes]]) -> int:
    """Append up to ``limit`` complete LF-framed packets found at ``src[p:]``; return the new position.

    Stops, without consuming it, at a packet that is incomplete or written any
    other way (CRLF, a blank line first, a header that is not plain digits, a
    long block): exactly what the generic parser would read from the bytes it
    consumes.
    """
    n = len(src)
    find = src.find
    while limit > 0:
        q = p
        blocks: list[bytes] = []
        while True:
            if q >= n:
                return p
            if src[q] == 10:  # "\n": end of packet
                if not blocks:
                    return p  # a blank line before a packet: the generic parser skips it
                q += 1
                break
            lf = find(b"\n", q, q + MAX_HEADER_LINE + 1)
            if lf < 0:
                return p
            head = src[q:lf]
            if not head.isdigit():
                return p
            size = int(head)
            start = lf + 1
            end = start + size
            if size > FAST_BLOCK or end >= n or src[end] != 10:
                return p
            blocks.append(src[start:end])
            q = end + 1
        out.append(blocks)
        p = q
        limit -= 1
    return p
