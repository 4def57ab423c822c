"""Sorted-set semantics (SSDB 1.9.8 t_zset): int64 scores, ordered by (score, member).

Every member has two records: ``s<len><name><len><member>`` -> decimal score and
the score index ``z<len><name><sign><BE64 score>=<member>`` -> b"".  The size
record ``Z<name>`` (int64 LE) is deleted when the set becomes empty.

Names and members longer than 255 bytes cannot be encoded: reads treat them as
absent (empty results), writers must refuse them before calling ``set``/``delete``.

One deliberate difference from SSDB 1.9.8: reverse walks (``zrscan``,
``zrrange``, ``zrrank``, ``zpop_back``, ``redis_zrrange``) include members
whose score is exactly INT64_MAX, which SSDB skips.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import TYPE_CHECKING, Iterator

from ssdbpy.cnum import INT64_MAX, INT64_MIN, UINT64_MAX, int64, wrap_int64
from ssdbpy.db.slices import STEP, Cooperate, collect, noop, skip
from ssdbpy.db.slices import count as count_items
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.versions import incrementing

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

MAX_NAME = keys.MAX_NAME
#: members removed between two ``cooperate()`` calls by clear()
_CLEAR_BATCH = 256

Pair = tuple[bytes, int]


def _cap(n: int) -> int:
    """An unsigned count usable by islice (no zset has more than sys.maxsize members)."""
    return n if n < sys.maxsize else sys.maxsize


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    p = prefix.rstrip(b"\xff")
    return p[:-1] + bytes((p[-1] + 1,))


def _decode_index(plen: int, it) -> Iterator[Pair]:
    """``(member, score)`` from score index keys whose name prefix is ``plen`` bytes long."""
    from_bytes = int.from_bytes
    for key in it:
        yield key[plen + 10 :], from_bytes(key[plen + 1 : plen + 9], "big", signed=True)


def range_window(offset: int, limit: int) -> tuple[int, int]:
    """SSDB's ``zrange`` window ``[offset, end)`` for uint64 ``offset``/``limit``.

    SSDB computes ``end = offset + limit`` unless that overflows uint64, in
    which case ``end = limit`` (so ``limit = -1`` means "to the end").
    """
    end = offset + limit
    if end > UINT64_MAX:
        end = limit
    return offset, end


def redis_window(start: int, stop: int, size_of) -> tuple[int, int] | None:
    """Redis ZRANGE index arithmetic (commands.md §4.2) -> ``(offset, limit)`` or None (empty).

    ``size_of()`` is only called when an index is negative.
    """
    if start < 0 or stop < 0:
        size = size_of()
        if start < 0:
            start = max(size + start, 0)
        if stop < 0:
            stop = size + stop
    if stop < 0 or start > stop:
        return None
    return start, stop - start + 1


class ZSet:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog

    # --- point operations ------------------------------------------------------
    def get(self, name: bytes, member: bytes) -> bytes | None:
        """The stored score string of ``member`` (what ``zget`` returns), or None."""
        if len(name) > MAX_NAME or len(member) > MAX_NAME:
            return None
        return self.engine.get(keys.encode_zset(name, member))

    def score(self, name: bytes, member: bytes) -> int | None:
        """``member``'s score as int64 (a non-integer stored string reads as its int parse)."""
        raw = self.get(name, member)
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
        """Set ``member``'s score; 1 if it is new, 0 if it existed (logs ZSET only on change).

        The caller validates ``name``/``member`` (non-empty, at most 255 bytes).
        """
        mk = keys.encode_zset(name, member)
        engine = self.engine
        old = engine.get(mk)
        new_raw = str(score).encode()
        if old is not None:
            if old == new_raw:
                if self.binlog.versions is not None:
                    self.binlog.add(bl.ZSET, mk)  # versioned: the write is newer even with the same score
                return 0
            engine.delete(keys.encode_zscore(name, member, int64(old)))
            new = 0
        else:
            new = 1
        engine.put(mk, new_raw)
        engine.put(keys.encode_zscore(name, member, score), b"")
        self.binlog.add(bl.ZSET, mk)
        if new:
            self._add_size(name, 1)
        return new

    def delete(self, name: bytes, member: bytes) -> int:
        """Remove ``member``; 1 if it existed (logs ZDEL), else 0.

        The caller refuses names/members longer than 255 bytes.
        """
        mk = keys.encode_zset(name, member)
        old = self.engine.get(mk)
        if old is None:
            if self.binlog.versions is not None:
                self.binlog.add(bl.ZDEL, mk)  # versioned: a tombstone beats older writes elsewhere
            return 0
        self.engine.delete(mk)
        self.engine.delete(keys.encode_zscore(name, member, int64(old)))
        self.binlog.add(bl.ZDEL, mk)
        self._add_size(name, -1)
        return 1

    def incr(self, name: bytes, member: bytes, by: int) -> int:
        """Add ``by`` to the score (missing = 0, int64 wrap-around) and store it; the new score."""
        cur = self.score(name, member)
        new = by if cur is None else wrap_int64(cur + by)
        versions = self.binlog.versions
        if versions is None:
            self.set(name, member, new)
        else:
            with incrementing(versions, by, self.get(name, member)):
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
    ) -> Iterator[Pair]:
        """``(member, score)`` pairs in index order (score, then member bytes).

        Forward: scores from ``score_start`` (None = INT64_MIN) up to
        ``score_end`` inclusive (None = unbounded).  Reverse: scores from
        ``score_start`` (None = INT64_MAX) down to ``score_end`` inclusive.
        With ``member_start`` and ``after`` the walk starts strictly after the
        position ``(score_start, member_start)`` in its direction; without
        ``after`` every member of ``score_start`` is included.  Unlike SSDB
        1.9.8, reverse walks include members scored exactly INT64_MAX.
        """
        if len(name) > MAX_NAME:
            return iter(())
        plen, it = self._index_keys(name, score_start, member_start, after, score_end, reverse)
        return _decode_index(plen, it)

    def _window(self, name: bytes, start: int, end: int, score_start: int | None = None,
                member_start: bytes = b"", after: bool = False, score_end: int | None = None,
                reverse: bool = False, cooperate: Cooperate = noop) -> list[Pair]:
        """Items ``[start, end)`` of an ``iter_index`` walk; skipped items are never decoded.

        ``cooperate()`` runs between slices of the walk (db.slices).
        """
        if len(name) > MAX_NAME or end <= start:
            return []
        plen, it = self._index_keys(name, score_start, member_start, after, score_end, reverse)
        start = _cap(start)
        skip(it, start, cooperate)
        return collect(_decode_index(plen, islice(it, _cap(end) - start)), cooperate)

    def _index_keys(self, name, score_start, member_start, after, score_end, reverse) -> tuple[int, Iterator[bytes]]:
        """``(prefix length, score index keys)`` of an ``iter_index`` walk."""
        prefix = keys.zscore_prefix(name)
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
            # ``lo`` is never an existing key (no ``=member`` part), which keeps plyvel's
            # reverse iterator clear of its inclusive-start bug (see _list_names)
            it = self.engine.iterate(lo, hi, include_start=True, include_stop=False, reverse=True, keys_only=True)
        return len(prefix), it

    def iter_members(self, name: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(member, raw score)`` from the member records, in member order."""
        if len(name) > MAX_NAME:
            return
        prefix = keys.zset_prefix(name)
        plen = len(prefix) + 1
        for k, v in self.engine.iterate(prefix, _prefix_end(prefix)):
            if len(k) > plen:
                yield k[plen:], v

    # --- rank and range ------------------------------------------------------------
    def rank(self, name: bytes, member: bytes, reverse: bool = False, cooperate: Cooperate = noop) -> int | None:
        """0-based position of ``member`` ascending (descending with ``reverse``), or None.

        None also when the member record has no index entry (as SSDB, which walks the index).
        """
        score = self.score(name, member)
        if score is None:
            return None
        key = keys.encode_zscore(name, member, score)
        engine = self.engine
        if engine.get(key) is None:
            return None
        prefix = keys.zscore_prefix(name)
        if not reverse:
            it = engine.iterate(prefix, key, keys_only=True)  # [first, key)
        else:
            it = engine.iterate(key, prefix + b">", include_start=False, keys_only=True)  # (key, last]
        return count_items(it, cooperate)

    def range(self, name: bytes, offset: int, limit: int, reverse: bool = False,
              cooperate: Cooperate = noop) -> list[Pair]:
        """``zrange``/``zrrange``: skip ``offset`` members, return up to ``limit`` (uint64 semantics)."""
        start, end = range_window(offset, limit)
        return self._window(name, start, end, reverse=reverse, cooperate=cooperate)

    def redis_range(self, name: bytes, start: int, stop: int, reverse: bool = False,
                    cooperate: Cooperate = noop) -> list[Pair]:
        """Redis ZRANGE/ZREVRANGE: inclusive indexes, negatives count from the end."""
        win = redis_window(start, stop, lambda: self.size(name))
        if win is None:
            return []
        return self.range(name, win[0], win[1], reverse, cooperate)

    def scan(
        self,
        name: bytes,
        key_start: bytes,
        score_start: int | None,
        score_end: int | None,
        limit: int,
        offset: int = 0,
        reverse: bool = False,
        cooperate: Cooperate = noop,
    ) -> list[Pair]:
        """``zscan``/``zrscan`` (commands.md §4.1): the walk's items ``[offset, limit)``.

        Scores bound the walk inclusively (None = unbounded).  With a non-empty
        ``key_start`` the walk starts strictly after ``(score_start, key_start)``,
        ``score_start`` defaulting to ``key_start``'s current score.
        """
        if key_start and score_start is None:
            score_start = self.score(name, key_start)
        return self._window(name, offset, limit, score_start, key_start, bool(key_start), score_end, reverse,
                            cooperate)

    def count(self, name: bytes, score_start: int | None, score_end: int | None,
              cooperate: Cooperate = noop) -> int:
        """Members with ``score_start <= score <= score_end`` (None = unbounded)."""
        if len(name) > MAX_NAME:
            return 0
        _plen, it = self._index_keys(name, score_start, b"", False, score_end, False)
        return count_items(it, cooperate)

    def sum_count(self, name: bytes, score_start: int | None, score_end: int | None,
                  cooperate: Cooperate = noop) -> tuple[int, int]:
        """``(sum, count)`` of the scores in the inclusive range; the sum wraps as int64."""
        total = n = 0
        for _m, s in self.iter_index(name, score_start=score_start, score_end=score_end):
            total += s
            n += 1
            if not n % STEP:
                cooperate()
        return wrap_int64(total), n

    # --- bulk removal ----------------------------------------------------------------
    def _delete_all(self, name: bytes, pairs: list[Pair], cooperate: Cooperate = noop) -> int:
        """Delete each member (one ZDEL each, as SSDB's loop of zdel); ``cooperate()`` between slices."""
        n = 0
        delete = self.delete
        for lo in range(0, len(pairs), _CLEAR_BATCH):
            for member, _s in pairs[lo : lo + _CLEAR_BATCH]:
                n += delete(name, member)
            cooperate()
        return n

    def remove_range_by_score(self, name: bytes, score_start: int | None, score_end: int | None,
                              cooperate: Cooperate = noop) -> int:
        """Delete members with scores in the inclusive range; how many were in it."""
        pairs = collect(self.iter_index(name, score_start=score_start, score_end=score_end), cooperate)
        self._delete_all(name, pairs, cooperate)
        return len(pairs)

    def remove_range_by_rank(self, name: bytes, start: int, stop: int, cooperate: Cooperate = noop) -> int:
        """Delete ranks ``start..stop`` (inclusive, ascending, negatives from the end)."""
        pairs = self.redis_range(name, start, stop, cooperate=cooperate)
        self._delete_all(name, pairs, cooperate)
        return len(pairs)

    def pop(self, name: bytes, limit: int, back: bool = False, cooperate: Cooperate = noop) -> list[Pair]:
        """Remove and return up to ``limit`` lowest (``back``: highest) members."""
        pairs = self._window(name, 0, limit, reverse=back, cooperate=cooperate)
        out = []
        delete = self.delete
        for lo in range(0, len(pairs), _CLEAR_BATCH):
            for member, score in pairs[lo : lo + _CLEAR_BATCH]:
                if delete(name, member):
                    out.append((member, score))
            cooperate()
        return out

    def clear(self, name: bytes, cooperate: Cooperate = noop) -> int:
        """Delete every member (one ZDEL record each); how many were deleted.

        One walk over the score index as it was when the walk started (its
        iterator's snapshot), ``cooperate()`` after every slice of _CLEAR_BATCH
        members.  ``delete`` reads each member record afresh, so members that
        other clients delete or re-score while ``cooperate`` lets them run are
        neither counted twice nor left half-deleted; members they add survive.
        Index entries without a member record are left alone (as before).
        """
        if len(name) > MAX_NAME:
            return 0
        plen, it = self._index_keys(name, None, b"", False, None, False)
        pairs = _decode_index(plen, it)
        count = 0
        while True:
            batch = list(islice(pairs, _CLEAR_BATCH))
            count += self._delete_all(name, batch)
            if len(batch) < _CLEAR_BATCH:
                return count
            cooperate()

    def fix(self, name: bytes) -> int:
        """Rebuild member records from the index, index entries from member records, and the size.

        Returns the number of members.  Like SSDB, the repairs write no binlog records.
        """
        if len(name) > MAX_NAME:
            return 0
        engine = self.engine
        sk = keys.ZSIZE + name

        def store_size(n: int) -> None:
            if n != self.size(name):
                if n == 0:
                    engine.delete(sk)
                else:
                    engine.put(sk, keys.pack_i64le(n))

        n = 0
        for member, score in self.iter_index(name):
            n += 1
            mk = keys.encode_zset(name, member)
            raw = str(score).encode()
            if engine.get(mk) != raw:
                engine.put(mk, raw)
        store_size(n)
        n = 0
        for member, raw in self.iter_members(name):
            n += 1
            zk = keys.encode_zscore(name, member, int64(raw))
            if engine.get(zk) is None:
                engine.put(zk, b"")
        store_size(n)
        return n

    # --- names -------------------------------------------------------------------------
    def list_names(self, start: bytes, end: bytes, limit: int, reverse: bool = False,
                   cooperate: Cooperate = noop) -> list[bytes]:
        """Zset names in ``(start, end]`` ascending, or descending from ``start`` (exclusive) to ``end``."""
        return _list_names(self.engine, keys.ZSIZE, start, end, limit, reverse, cooperate)


def _list_names(engine, prefix: bytes, start: bytes, end: bytes, limit: int, reverse: bool,
                cooperate: Cooperate = noop) -> list[bytes]:
    """Names from size records ``prefix+name`` (shared by hlist/zlist/qlist); ``cooperate()`` between slices."""
    out: list[bytes] = []
    if limit <= 0:
        return out
    upper = bytes((prefix[0] + 1,))
    if not reverse:
        it = engine.iterate(prefix + start, (prefix + end) if end else upper,
                            include_start=False, include_stop=bool(end), keys_only=True)
        for k in it:
            out.append(k[1:])
            if len(out) >= limit:
                break
            if not len(out) % STEP:
                cooperate()
        return out
    # Reverse walks get no lower bound from plyvel (1.5.1 yields nothing when the
    # highest key in range equals an inclusive ``start``); stop by hand instead.
    lo = prefix + end
    for k in engine.iterate(None, (prefix + start) if start else upper, reverse=True, keys_only=True):
        if k < lo:
            break
        out.append(k[1:])
        if len(out) >= limit:
            break
        if not len(out) % STEP:
            cooperate()
    return out


list_names = _list_names
