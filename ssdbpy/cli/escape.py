"""Python 2's ``string-escape`` codec on bytes, as SSDB's ssdb-cli uses it.

ssdb-cli decodes every typed word with it (so ``"\\x00"`` types a NUL byte)
and, after ``:escape yes``, encodes printed data with it; export/import files
hold fields encoded with it.  Exactly Python 2's rules:

* encode: ``\\\\`` ``\\'`` ``\\t`` ``\\n`` ``\\r`` are escaped by name, other
  bytes below 0x20 and from 0x7f up as ``\\xNN`` (lowercase hex), all else
  as is;
* decode: ``\\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v``, ``\\x`` + two hex
  digits, ``\\`` + one to three octal digits, backslash-newline (dropped);
  any other backslash stays as it is.  A trailing lone backslash or a bad
  ``\\x`` escape raises :class:`ValueError`.
"""

from __future__ import annotations

_ENC = {0x5C: b"\\\\", 0x27: b"\\'", 0x09: b"\\t", 0x0A: b"\\n", 0x0D: b"\\r"}
_TABLE = [_ENC.get(b) or (bytes((b,)) if 0x20 <= b < 0x7F else b"\\x%02x" % b) for b in range(256)]

_SIMPLE = {
    ord("\\"): b"\\", ord("'"): b"'", ord('"'): b'"', ord("a"): b"\x07", ord("b"): b"\x08",
    ord("f"): b"\x0c", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("v"): b"\x0b",
    ord("\n"): b"",
}
_HEX = b"0123456789abcdefABCDEF"
_OCT = b"01234567"


def encode(data: bytes) -> bytes:
    """``data.encode('string-escape')`` of Python 2."""
    if data.isascii() and data.isalnum():
        return data
    table = _TABLE
    return b"".join([table[b] for b in data])


def decode(data: bytes) -> bytes:
    """``data.decode('string-escape')`` of Python 2."""
    if b"\\" not in data:
        return data
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        j = data.find(b"\\", i)
        if j < 0:
            out += data[i:]
            break
        out += data[i:j]
        if j + 1 >= n:
            raise ValueError("Trailing \\ in string")
        c = data[j + 1]
        simple = _SIMPLE.get(c)
        if simple is not None:
            out += simple
            i = j + 2
        elif c == ord("x"):
            h = data[j + 2 : j + 4]
            if len(h) < 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise ValueError(f"invalid \\x escape at position {j}")
            out.append(int(h, 16))
            i = j + 4
        elif c in _OCT:
            k = j + 1
            while k < n and k < j + 4 and data[k] in _OCT:
                k += 1
            out.append(int(data[j + 1 : k], 8) & 0xFF)
            i = k
        else:
            out += b"\\"
            i = j + 1
    return bytes(out)


def is_text(data: bytes) -> bool:
    """True for printable UTF-8 text (no control bytes): safe to show raw on a terminal."""
    if data.isascii():
        return all(0x20 <= b < 0x7F for b in data)
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return s.isprintable()
