"""Number parsing and arithmetic with C semantics, as SSDB 1.9.8 does it.

SSDB converts numbers with ``strtol``/``strtoll``/``strtoull`` and uses the
partial result: leading whitespace and a sign are accepted, parsing stops at the
first non-digit, an unparsable string is 0, and out-of-range values saturate.
"""

from __future__ import annotations

import re

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

_LEADING_INT = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]*)")
_STRICT_INT = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+")


def _leading(s: bytes) -> tuple[int, bool]:
    m = _LEADING_INT.match(s)
    assert m is not None
    sign, digits = m.group(1), m.group(2)
    if not digits:
        return 0, False
    v = int(digits)
    return (-v if sign == b"-" else v), True


def int64(s: bytes) -> int:
    """``strtoll(s, NULL, 10)``: lenient, saturating at the int64 limits."""
    if s.isdigit() and len(s) < 19:  # the common case: plain digits, no overflow possible
        return int(s)
    v, _ = _leading(s)
    if v > INT64_MAX:
        return INT64_MAX
    if v < INT64_MIN:
        return INT64_MIN
    return v


def int32(s: bytes) -> int:
    """``atoi``/``strtol`` into an int: lenient, saturating at the int32 limits... as glibc atoi (via strtol, then truncated to int)."""
    v = int64(s)
    # atoi = (int)strtol(): on LP64 strtol saturates at int64, then the cast wraps.
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def uint64(s: bytes) -> int:
    """``strtoull(s, NULL, 10)``: a leading ``-`` negates modulo 2**64 (``-1`` is UINT64_MAX)."""
    m = _LEADING_INT.match(s)
    assert m is not None
    sign, digits = m.group(1), m.group(2)
    if not digits:
        return 0
    v = int(digits)
    if v > UINT64_MAX:
        return UINT64_MAX
    if sign == b"-":
        return (-v) & UINT64_MAX
    return v


def strict_int64(s: bytes) -> int | None:
    """A value that must be *entirely* a signed decimal int64 (leading whitespace allowed), else None."""
    if s.isdigit() and len(s) < 19:  # the common case: no sign, no blanks, no overflow possible
        return int(s)
    if _STRICT_INT.fullmatch(s) is None:
        return None
    v = int(s)
    if v > INT64_MAX or v < INT64_MIN:
        return None
    return v


def stored_int64(s: bytes) -> int | None:
    """A stored value as ``incr``/``hincr`` read it (SSDB's ``str_to_int64`` with its errno test), else None.

    The value counts only if ``strtoll`` consumed all of it: blanks, a sign and
    digits, saturating at the int64 limits (SSDB clears the ERANGE of an
    overflow). The empty string is 0; a NUL byte, trailing blanks or any other
    byte make it "not an integer".
    """
    if not s:
        return 0
    if s.isdigit() and len(s) < 19:
        return int(s)
    if _STRICT_INT.fullmatch(s) is None:
        return None
    return max(INT64_MIN, min(INT64_MAX, int(s)))


def wrap_int32(v: int) -> int:
    """Two's-complement wrap into a 32-bit int, as unchecked C ``int`` arithmetic does."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v > INT32_MAX else v


def wrap_int64(v: int) -> int:
    """Two's-complement wrap into int64, as unchecked C arithmetic does."""
    v &= UINT64_MAX
    return v - (1 << 64) if v > INT64_MAX else v


def num(v: int) -> bytes:
    return str(v).encode()
