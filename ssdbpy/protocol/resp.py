"""RESP (Redis protocol): SSDB 1.9.8's lenient multi-bulk request parser, and encoders.

What the parser accepts, exactly as SSDB 1.9.8's ``RedisLink::parse_req``
(protocol.md §3.2):

* the first line is ``*<n>``; ``n`` is ``(int)strtol()`` of the bytes after the
  ``*``.  ``n <= 0`` (also garbage, which reads as 0) is an error;
* each argument line's first byte is skipped without being checked (normally
  ``$``), the length is ``(int)strtol()`` of what follows, a negative length is
  an error;
* then ``length`` data bytes, then exactly one byte is skipped whatever it is
  (the ``\\r`` of CRLF, or the ``\\n`` with bare-LF line ends), then one more byte
  if it is ``\\n``;
* only the line feed ends a line: anything between the number and the ``\\n`` is
  ignored; ``strtol`` skips leading white space, so a line holding no digits
  reads its number from the following line(s), as C does when the bytes are
  already there (the parser waits until they are);
* no 128 MiB limit; a request that needs more than :data:`MAX_REQUEST_BUFFER`
  bytes buffered fails, like SSDB's input buffer that cannot grow past 1 GiB.

Limits of this parser that SSDB does not have (each input they reject is one
SSDB rejects too, or one it reads differently depending on how the bytes were
split into reads):

* a number line (``*<n>`` or ``$<len>`` up to its ``\n``) longer than
  :data:`MAX_LINE` bytes is an error: no client writes one, and SSDB reads such
  a line's number from whatever part of it has arrived;
* when a number line holds no digit, ``strtol`` goes on reading white space on
  the following lines; more than :data:`MAX_LINE` bytes of it is an error (SSDB
  reads 0 from the blanks it has, which is an error as well).

Work is linear in the bytes received: a partial request is never re-parsed
from its start, and no memory is allocated for a number the client declared
before the bytes it announces arrived.

``(int)strtol()``: white space, sign, digits; saturated to 64 bits, then
truncated to a 32-bit ``int`` (``$4294967299`` reads as 3).

Not reproduced: SSDB also rejects the request when ``errno == EINVAL`` after
``strtol``, but ``errno`` is never cleared first, so that test sees whatever an
earlier call on the network thread left there (a bug that depends on history).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from hiredis import Reader as _HiredisReader

from ssdbpy.errors import ProtocolError

from .buffer import ReceiveBuffer, cut

__all__ = [
    "MAX_REQUEST_BUFFER",
    "RESPParser",
    "parse_canonical",
    "c_strtol_int",
    "NIL",
    "OK",
    "PONG",
    "CRLF",
    "encode_bulk",
    "encode_multibulk",
    "encode_request",
    "encode_error",
    "encode_status",
    "encode_integer",
]

#: bytes of one request that may be buffered (SSDB's input buffer stops growing at 1 GiB)
MAX_REQUEST_BUFFER = 1 << 30
#: longest number line (``*<n>``/``$<len>`` and what follows up to ``\n``), and longest
#: run of blank lines strtol may read through looking for a number
MAX_LINE = 64 * 1024

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_STRTOL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]*)")
#: an aggregate header (array, set, push, attribute) declaring 10,000 elements or more
#: (hiredis allocates a map without a size: '%' is harmless)
_BIG_AGGREGATE = re.compile(rb"[*~>|]([0-9]{5,})")
_BIG_ARRAY = re.compile(rb"\*([0-9]{5,})")  # the same for arrays alone (a literal prefix: fast)
#: input this short is first checked for any header of 5 digits or more in one pass (the
#: aggregate type bytes become ``*`` and every digit ``9``, then one ``find``); only input
#: that has one goes through the patterns above (a regex search costs ~0.5 µs per call)
_GUARD_PRECHECK_MAX = 1024
_GUARD_TABLE = bytes.maketrans(b"~>|0123456789", b"***9999999999")
#: a hiredis Reader left with nothing buffered and nothing half-read, for the next call
_spare_readers: list = []


def _to_c_int(v: int) -> int:
    """``(int)(long)v`` for a value already parsed by strtol: saturate to 64 bits, keep the low 32."""
    if v > _INT64_MAX:
        v = _INT64_MAX
    elif v < _INT64_MIN:
        v = _INT64_MIN
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v > 0x7FFFFFFF else v


def c_strtol_int(src: bytes | bytearray, start: int, complete: bool = True) -> int | None:
    """``(int)strtol(src + start, NULL, 10)``.

    When ``complete`` is false, ``src`` may continue beyond its end and ``None``
    is returned if the result could depend on bytes not yet available.
    """
    m = _STRTOL.match(src, start)
    assert m is not None
    if not complete and m.end() >= len(src):
        return None
    sign, digits = m.groups()
    if not digits:
        return 0
    v = _digits_value(digits)
    return _to_c_int(-v if sign == b"-" else v)


def _digits_value(digits: bytes) -> int:
    """``int(digits)``, saturated just past int64 for long strings (int() of a huge string is slow)."""
    if len(digits) > 19:
        digits = digits.lstrip(b"0")
        if len(digits) > 19:
            return _INT64_MAX + 1
    return int(digits) if digits else 0


def parse_canonical(src: bytes | bytearray, start: int) -> tuple[list[list[bytes]], int]:
    """The complete RESP requests at ``src[start:]`` written exactly as clients write them.

    Returns ``(requests, end)``: every request up to ``end`` is in the canonical
    form ``*<n>\\r\\n`` + ``$<len>\\r\\n<data>\\r\\n`` per argument, which the
    lenient :class:`RESPParser` reads the same way.  hiredis' reader parses;
    the result is then checked by re-encoding it and comparing with the bytes
    received, so anything non-canonical (other element types, missing CRLFs,
    RESP3 aggregates, an SSDB packet after the RESP requests) is left, from the
    first request that is not canonical, to the lenient parser.  A request
    that is not complete yet is left as well.
    """
    # hiredis allocates an aggregate of the declared size as soon as it reads the
    # header, and freeing a list of 2e9 slots takes seconds: hand it only the bytes
    # before a header that declares more elements than the bytes after it could hold
    end = len(src)
    if end - start > _GUARD_PRECHECK_MAX or (src[start:] if start else src).translate(_GUARD_TABLE).find(
            b"*99999") >= 0:
        # requests hold '*' headers only; '~', '>' and '|' (RESP3 aggregates) are rare enough
        # that a long buffer holding one anywhere is checked with the slower pattern (which
        # is the cheaper check for a short buffer)
        if end - start <= 128 or (src.find(b">", start) >= 0 or src.find(b"~", start) >= 0
                                  or src.find(b"|", start) >= 0):
            big = _BIG_AGGREGATE
        else:
            big = _BIG_ARRAY
        m = big.search(src, start)
        while m is not None:
            if _digits_value(m.group(1)) * 4 > end - m.end():
                end = m.start()
                break
            m = big.search(src, m.end())
        if end <= start:
            return [], start
    try:
        reader = _spare_readers.pop()
    except IndexError:  # (threads may share the spare)
        reader = _HiredisReader()
    reader.feed(src, start, end - start)
    reqs: list[list[bytes]] = []
    drained = False  # hiredis returned every reply and then found no more bytes
    try:
        while True:
            r = reader.gets()
            if r.__class__ is not list or not r:
                drained = r is False
                break
            reqs.append(r)
    except Exception:  # noqa: BLE001 - hiredis.ProtocolError: the lenient parser decides
        pass
    if not reqs:
        return reqs, start
    try:  # the canonical encoding of what hiredis read (cheaper than hiredis.pack_command)
        packed = b"".join([encode_multibulk(r) for r in reqs])
    except TypeError:  # an integer, a nested array, a null...: not a request
        return [], start
    if src.startswith(packed, start):
        taken = start + len(packed)
        if drained and taken == end and not _spare_readers:
            # every byte fed was a complete canonical request: the reader holds nothing
            _spare_readers.append(reader)
        return reqs, taken
    return [], start


class RESPParser:
    """Resumable parser for one RESP multi-bulk request at a time.

    Call :meth:`parse` when the next unconsumed byte of the buffer is ``*`` (a
    request boundary), and again after every feed until it returns the
    arguments; it then starts afresh.  Complete arguments are consumed from the
    buffer as they are parsed, so a partial request is never parsed twice.
    """

    __slots__ = ("_partial", "_args", "_nargs", "_consumed", "_need", "_need_lf")

    def __init__(self) -> None:
        self._partial = False  # in the middle of a request: the fields below hold its state
        self._args: list[bytes] = []
        self._nargs = 0  # 0: the "*<n>" line is not parsed yet
        self._consumed = 0  # bytes of this request consumed so far
        self._need = 0  # bytes that must be available from buf.pos before progress is possible
        self._need_lf = False  # waiting for the "\n" of the line at buf.pos

    @property
    def in_request(self) -> bool:
        """True between the first byte of a request and its completion."""
        return self._partial

    def parse(self, buf: ReceiveBuffer) -> list[bytes] | None:
        """Return the arguments once the request is complete, else ``None``.

        Raises :class:`ProtocolError` on a framing error; the parser is then unusable.
        """
        raw = buf.raw
        p = buf.pos
        n = len(raw)
        if self._partial:
            if n - p < self._need:
                return None
            args = self._args
            nargs = self._nargs
            base = p - self._consumed  # (virtual) offset of the request's first byte
            if self._need_lf:
                if buf.find_lf(p) < 0:
                    return self._save(buf, p, n, n - p + 1, True, args, nargs, p - base)
                self._need_lf = False
        else:
            if p >= n:
                return None
            args = []
            nargs = 0
            base = p
        src = raw  # bytes, or a bytearray holding a partial request (arguments cut as bytes)
        whole = type(raw) is bytes
        if nargs == 0:
            if src[p] != 42:
                raise ProtocolError("RESP request does not start with '*'")
            lf = src.find(b"\n", p)
            if lf < 0:
                buf.mark_no_lf(p)
                return self._save(buf, p, n, n - p + 1, True, args, 0, p - base)
            if lf - p > MAX_LINE:
                raise ProtocolError("RESP line too long")
            head = src[p + 1 : lf - 1 if src[lf - 1] == 13 else lf]
            if head.isdigit():
                nargs = int(head) if len(head) < 19 else _digits_value(head)
                if nargs > 0x7FFFFFFF:
                    nargs = _to_c_int(nargs)
            else:
                v = c_strtol_int(src, p + 1, False)
                if v is None:
                    if n - p > MAX_LINE:
                        raise ProtocolError("RESP line too long")
                    return self._save(buf, p, n, n - p + 1, False, args, 0, p - base)
                nargs = v
            if nargs <= 0:
                raise ProtocolError("RESP multi-bulk count <= 0")
            p = lf + 1
        left = nargs - len(args)
        while True:
            lf = src.find(b"\n", p)
            if lf < 0:
                buf.mark_no_lf(p)
                return self._save(buf, p, n, n - p + 1, True, args, nargs, p - base)
            # (If lf == p the slice is empty, or, when p == 0, src[1:-1]: still exactly what
            # strtol reads from p + 1 when it is all digits followed by the final "\r".)
            if lf - p > MAX_LINE:
                raise ProtocolError("RESP line too long")
            head = src[p + 1 : lf - 1 if src[lf - 1] == 13 else lf]
            if head.isdigit():
                size = int(head) if len(head) < 19 else _digits_value(head)
                if size > 0x7FFFFFFF:
                    size = _to_c_int(size)
                    if size < 0:
                        raise ProtocolError("RESP bulk length < 0")
            else:
                v = c_strtol_int(src, p + 1, False)
                if v is None:
                    if n - p > MAX_LINE:
                        raise ProtocolError("RESP line too long")
                    return self._save(buf, p, n, n - p + 1, False, args, nargs, p - base)
                if v < 0:
                    raise ProtocolError("RESP bulk length < 0")
                size = v
            start = lf + 1
            end = start + size
            if end >= n:
                return self._save(buf, p, n, end + 1 - p, False, args, nargs, p - base)
            q = end + 1  # one byte skipped, whatever it is
            if left == 1:
                if q < n and src[q] == 10:
                    q += 1
                args.append(src[start:end] if whole else cut(src, start, end))
                buf.pos = q
                if self._partial:
                    self._partial = False
                    self._args = []
                return args
            if q >= n:
                return self._save(buf, p, n, q + 1 - p, False, args, nargs, p - base)
            if src[q] == 10:
                q += 1
            args.append(src[start:end] if whole else cut(src, start, end))
            left -= 1
            p = q

    def _save(
        self,
        buf: ReceiveBuffer,
        p: int,
        n: int,
        need: int,
        need_lf: bool,
        args: list[bytes],
        nargs: int,
        consumed: int,
    ) -> None:
        """Remember a partial request (``buf.pos`` = ``p``) and check the buffer limit."""
        buf.pos = p
        if need_lf and n - p > MAX_LINE:  # waiting for the end of a number line
            raise ProtocolError("RESP line too long")
        limit = MAX_REQUEST_BUFFER - consumed
        if n - p > limit:
            raise ProtocolError("RESP request too large")
        self._partial = True
        self._args = args
        self._nargs = nargs
        self._consumed = consumed
        self._need = min(need, limit + 1)
        self._need_lf = need_lf
        return None


# --- encoding -------------------------------------------------------------------

NIL = b"$-1\r\n"
OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
CRLF = b"\r\n"

_HDR_CACHE = 4096
_BULK_HDR = [b"$%d\r\n" % i for i in range(_HDR_CACHE)]
_ARRAY_HDR = [b"*%d\r\n" % i for i in range(_HDR_CACHE)]


def encode_bulk(value: bytes) -> bytes:
    """``$<len>\\r\\n<value>\\r\\n``."""
    n = len(value)
    return b"".join((_BULK_HDR[n] if n < _HDR_CACHE else b"$%d\r\n" % n, value, CRLF))  # one copy of value


def encode_multibulk(items: Iterable[bytes], count: int | None = None) -> bytes:
    """``*<count>\\r\\n`` then every item as a bulk string.

    ``count`` defaults to the number of items; it is given explicitly only to
    reproduce SSDB's mismatched headers.
    """
    hdr = _BULK_HDR
    parts: list[bytes] = [b""]
    k = 0
    for v in items:
        n = len(v)
        parts += (hdr[n] if n < _HDR_CACHE else b"$%d\r\n" % n, v, CRLF)
        k += 1
    if count is None:
        count = k
    parts[0] = _ARRAY_HDR[count] if 0 <= count < _HDR_CACHE else b"*%d\r\n" % count
    return b"".join(parts)


def encode_request(args: Sequence[bytes]) -> bytes:
    """A RESP request as clients send it: ``*<n>\\r\\n`` and one bulk string per argument."""
    return encode_multibulk(args)


def encode_error(message: bytes) -> bytes:
    """``-<message>\\r\\n`` (``message`` includes the ``ERR `` prefix if wanted)."""
    return b"-" + message + CRLF


def encode_status(status: bytes) -> bytes:
    """``+<status>\\r\\n``."""
    return b"+" + status + CRLF


def encode_integer(value: int | bytes) -> bytes:
    """``:<value>\\r\\n``; a ``bytes`` value is copied verbatim (as SSDB copies the reply block)."""
    if isinstance(value, int):
        value = b"%d" % value
    return b":" + value + CRLF
