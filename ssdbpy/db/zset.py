"""Sorted-set semantics (SSDB 1.9.8 t_zset): int64 scores, ordered by (score, member).

Every member has two records: ``s<len><name><len><member>`` -> decimal score and
the score index ``z<len><name><sign><BE64 score>=<member>`` -> b"".  The size
record ``Z<name>`` (int64 LE) is deleted when the set becomes empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ssdbpy.cnum import INT64_MAX, INT64_MIN, int64
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

if TYPE_CHECKING:
    from ssdbpy.db.database import Database


class ZSet:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog

    # --- point operations ------------------------------------------------------
    def score(self, name: bytes, member: bytes) -> int | None:
        raw = self.engine.get(keys.encode_zset(name, member))
        return None if raw is None else int64(raw)

    def size(self, name: bytes) -> int:
        return keys.unpack_size(self.engine.get(keys.ZSIZE + name))

    def _add_size(self, name: bytes, delta: int) -> None:
        sk = keys.ZSIZE + name
        n = keys.unpack_size(self.engine.get(sk)) + delta
        if n <= 0:
            self.engine.delete(sk)
        else:
            self.engine.put(sk, keys.pack_i64le(n))

    def set(self, name: bytes, member: bytes, score: int) -> int:
        """Set ``member``'s score; 1 if it is new, 0 if it existed (logs ZSET only on change)."""
        mk = keys.encode_zset(name, member)
        old = self.engine.get(mk)
        if old is not None:
            old_score = int64(old)
            if old_score == score and old == str(score).encode():
                return 0
            self.engine.delete(keys.encode_zscore(name, member, old_score))
            new = 0
        else:
            new = 1
        self.engine.put(mk, str(score).encode())
        self.engine.put(keys.encode_zscore(name, member, score), b"")
        self.binlog.add(bl.ZSET, mk)
        if new:
            self._add_size(name, 1)
        return new

    def delete(self, name: bytes, member: bytes) -> int:
        """Remove ``member``; 1 if it existed (logs ZDEL), else 0."""
        mk = keys.encode_zset(name, member)
        old = self.engine.get(mk)
        if old is None:
            return 0
        self.engine.delete(mk)
        self.engine.delete(keys.encode_zscore(name, member, int64(old)))
        self.binlog.add(bl.ZDEL, mk)
        self._add_size(name, -1)
        return 1

    def incr(self, name: bytes, member: bytes, by: int) -> int:
        from ssdbpy.cnum import wrap_int64

        cur = self.score(name, member)
        new = by if cur is None else wrap_int64(cur + by)
        self.set(name, member, new)
        return new

    # --- ordered iteration -------------------------------------------------------
    def iter_index(
        self,
        name: bytes,
        *,
        score_start: int | None = None,
        member_start: bytes = b"",
        after: bool = False,
        score_end: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, int]]:
        """``(member, score)`` pairs in index order (score, then member bytes).

        Forward: scores from ``score_start`` (None = INT64_MIN) up to
        ``score_end`` inclusive (None = unbounded).  Reverse: scores from
        ``score_start`` (None = INT64_MAX) down to ``score_end`` inclusive.
        With ``member_start`` and ``after`` the walk starts strictly after the
        position ``(score_start, member_start)`` in its direction; without
        ``after`` every member of ``score_start`` is included.  Unlike SSDB
        1.9.8, reverse walks include members scored exactly INT64_MAX.
        """
        prefix = keys.zscore_prefix(name)
        plen = len(prefix)
        enc = keys.encode_score
        top = prefix + b">"  # above every score key of this zset

        def below(score: int) -> bytes:  # exclusive upper bound for scores <= score
            return top if score >= INT64_MAX else prefix + enc(score + 1)

        if not reverse:
            if after:
                lo = prefix + enc(INT64_MIN if score_start is None else score_start) + b"=" + member_start
            else:
                lo = prefix + (b"" if score_start is None else enc(score_start))
            hi = top if score_end is None else below(score_end)
            it = self.engine.iterate(lo, hi, include_start=not after, include_stop=False, keys_only=True)
        else:
            if after:
                hi = prefix + enc(INT64_MAX if score_start is None else score_start) + b"=" + member_start
            else:
                hi = top if score_start is None else below(score_start)
            lo = prefix + (b"" if score_end is None else enc(score_end))
            it = self.engine.iterate(lo, hi, include_start=True, include_stop=False, reverse=True, keys_only=True)
        from_bytes = int.from_bytes
        for key in it:
            yield key[plen + 10 :], from_bytes(key[plen + 1 : plen + 9], "big", signed=True)

    def iter_members(self, name: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(member, raw score)`` from the member records, in member order."""
        prefix = keys.zset_prefix(name)
        plen = len(prefix) + 1
        for k, v in self.engine.iterate(prefix, prefix + b"\xff\xff", include_stop=False):
            if len(k) > len(prefix) and k.startswith(prefix):
                yield k[plen:], v

    def list_names(self, start: bytes, end: bytes, limit: int, reverse: bool = False) -> list[bytes]:
        """Zset names in ``(start, end]`` ascending, or descending from ``start`` (exclusive) to ``end``."""
        return _list_names(self.engine, keys.ZSIZE, start, end, limit, reverse)


def _list_names(engine, prefix: bytes, start: bytes, end: bytes, limit: int, reverse: bool) -> list[bytes]:
    """Names from size records ``prefix+name`` (shared by hlist/zlist/qlist)."""
    out: list[bytes] = []
    if limit <= 0:
        return out
    upper = bytes((prefix[0] + 1,))
    if not reverse:
        it = engine.iterate(prefix + start, (prefix + end) if end else upper,
                            include_start=False, include_stop=bool(end), keys_only=True)
    else:
        it = engine.iterate(prefix + end, (prefix + start) if start else upper,
                            include_start=True, include_stop=False, reverse=True, keys_only=True)
    for k in it:
        out.append(k[1:])
        if len(out) >= limit:
            break
    return out


list_names = _list_names
