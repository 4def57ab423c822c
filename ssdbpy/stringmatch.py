"""Redis's glob matcher (``stringmatchlen`` in src/util.c), for PSUBSCRIBE, PUBSUB CHANNELS and CONFIG GET.

Pure.  ``*`` any run of bytes, ``?`` one byte, ``[abc]``, ``[^abc]``, ``[a-z]``
(reversed ranges match too, as Redis), ``\\x`` the byte ``x``.  A ``[`` without
its ``]`` matches up to the end of the pattern, as Redis does.  Iterative
backtracking on the last ``*`` only, so a hostile pattern costs
O(len(pattern) × len(string)), never exponential time.
"""

from __future__ import annotations


def _class(p: bytes, i: int, c: int, nocase: bool) -> tuple[bool, int]:
    """Match byte ``c`` against the class starting after ``[`` at ``p[i]``; returns (match, index after ``]``)."""
    n = len(p)
    neg = i < n and p[i] == 0x5E  # '^'
    if neg:
        i += 1
    match = False
    while i < n and p[i] != 0x5D:  # ']'
        if p[i] == 0x5C and i + 1 < n:  # '\\'
            i += 1
            if p[i] == c:
                match = True
        elif i + 2 < n and p[i + 1] == 0x2D:  # 'a-z'
            lo, hi = p[i], p[i + 2]
            if lo > hi:
                lo, hi = hi, lo
            cc = c
            if nocase:
                lo, hi, cc = _lower(lo), _lower(hi), _lower(c)
            if lo <= cc <= hi:
                match = True
            i += 2
        elif p[i] == c or (nocase and _lower(p[i]) == _lower(c)):
            match = True
        i += 1
    if i < n:
        i += 1  # past ']'
    return (not match) if neg else match, i


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Whether ``string`` matches the glob ``pattern`` as Redis's stringmatchlen says."""
    p, s = pattern, string
    pi = si = 0
    star_p = star_s = -1  # where to resume after the last '*'
    np_, ns = len(p), len(s)
    while True:
        if pi < np_:
            ch = p[pi]
            if ch == 0x2A:  # '*'
                while pi + 1 < np_ and p[pi + 1] == 0x2A:
                    pi += 1
                if pi + 1 == np_:
                    return True
                star_p, star_s = pi + 1, si
                pi += 1
                continue
            if si < ns:
                c = s[si]
                if ch == 0x3F:  # '?'
                    pi += 1
                    si += 1
                    continue
                if ch == 0x5B:  # '['
                    ok, after = _class(p, pi + 1, c, nocase)
                    if ok:
                        pi = after
                        si += 1
                        continue
                else:
                    if ch == 0x5C and pi + 1 < np_:  # '\\'
                        pi += 1
                        ch = p[pi]
                    if ch == c or (nocase and _lower(ch) == _lower(c)):
                        pi += 1
                        si += 1
                        continue
        elif si == ns:
            return True
        # mismatch: let the last '*' take one more byte
        if star_p < 0 or star_s >= ns:
            return False
        star_s += 1
        pi, si = star_p, star_s
