"""Key expirations, kept in SSDB's internal zset (score = expiry time in ms).

The zset is an ordinary zset, so it is replicated, dumped and listed like any
other.  Scores below 2,000,000,000 are read as seconds written by older
versions when deciding *when a key expires* (SSDB 1.9.8 converts them when it
loads expirations from the database); ``ttl`` reports the raw score, as SSDB
does.  See docs/compat.md, "TTL arithmetic", for what this means for huge and
negative TTLs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ssdbpy.cnum import int32, wrap_int64
from ssdbpy.storage import crdt
from ssdbpy.storage.hlc import COUNTER_BITS, MAX_STAMP
from ssdbpy.storage.keys import EXPIRE_ZSET, MAX_NAME, encode_kv, encode_zset
from ssdbpy.storage.versions import Version

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

_SECONDS_LIMIT = 2000000000


#: ms added to the wall clock that sets and expires TTLs (the node's clock offset, tests only;
#: the HLC of a versioned node takes the same offset, storage/hlc.py)
OFFSET_MS = 0


def now_ms() -> int:
    return int(time.time() * 1000) + OFFSET_MS


def _as_ms(score: int) -> int:
    return score * 1000 if score < _SECONDS_LIMIT else score


def parse_ttl(raw: bytes) -> int:
    """A TTL argument as SSDB 1.9.8 reads it: ``Bytes::Int()``, i.e. ``(int)strtol(s)``.

    Lenient (leading blanks and sign, stops at the first non-digit, garbage is
    0), saturating at the int64 limits and then truncated to 32 bits: so
    ``9223372036854775807`` is -1, ``4294967296`` is 0 and ``2147483648`` is
    -2147483648.  The result is always within int32, so the expiry time
    ``now_ms + ttl * 1000`` cannot overflow int64.
    """
    return int32(raw)


def expiry_version(deadline_ms: int, ttl_version: tuple[int, int]) -> tuple[int, int]:
    """The version of the expiry of a key whose TTL entry (version ``ttl_version``) says
    ``deadline_ms``: the deadline's HLC stamp ``(deadline_ms << 16, 0)``, or the TTL's own
    version when that is later (a TTL written at or after its deadline, e.g. ``setx k v 0``).
    Every node computes the same one, so the expiries of different nodes are one write."""
    stamp = min(max(deadline_ms, 0) << COUNTER_BITS, MAX_STAMP)
    return max((stamp, 0), ttl_version)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncation toward zero), exact for any int64."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class TTL:
    def __init__(self, db: "Database") -> None:
        self.db = db
        #: called with the expiry time (ms) whenever a TTL is set (wakes the expiry task)
        self.listeners: list = []

    def set(self, key: bytes, ttl_seconds: int) -> None:
        """Expire ``key`` ``ttl_seconds`` from now (<= 0: at the next expiry pass).

        ``ttl_seconds`` is an int32 (see :func:`parse_ttl`); the expiry time is
        ``now_ms() + ttl_seconds * 1000`` in int64 arithmetic, as SSDB's
        ``ExpirationHandler::set_ttl``.
        """
        when = wrap_int64(now_ms() + ttl_seconds * 1000)
        self.db.zset.set(EXPIRE_ZSET, key, when)
        for cb in self.listeners:
            cb(_as_ms(when))

    def delete(self, key: bytes) -> None:
        """Drop ``key``'s TTL; a key over 255 bytes cannot have one (SSDB's zdel refuses it, ignored).

        On a node that versions its writes this leaves a tombstone in the TTL index even
        when the key has no TTL here (``del``, ``multi_del``; ``set`` keeps a TTL, as in
        SSDB), so that a TTL set concurrently on another master is ordered against the
        ``del`` by stamp (docs/replication.md, "TTLs").
        """
        if len(key) <= MAX_NAME:
            self.db.zset.delete(EXPIRE_ZSET, key)

    def get(self, key: bytes) -> int:
        """``(score - now_ms) / 1000`` in C int64 arithmetic, or -1 when ``key`` has no TTL.

        As SSDB's ``get_ttl``: the raw score (no seconds conversion), the
        difference wrapped to int64 and truncated toward zero.
        """
        score = self.db.zset.score(EXPIRE_ZSET, key) if len(key) <= MAX_NAME else None
        if score is None:
            return -1
        return _c_div(wrap_int64(score - now_ms()), 1000)

    def _regions(self):
        """The TTL index as two walks each ordered by expiry time: seconds scores, then ms scores.

        Raw scores below 2,000,000,000 are seconds (their ms value is 1000 times
        the score); all others are ms.  Within each region the index order is
        the expiry order, but across regions it is not: a seconds score of
        1,900,000,000 (year 2030) sorts before a ms score due now.
        """
        zset = self.db.zset
        seconds = zset.iter_index(EXPIRE_ZSET, score_end=_SECONDS_LIMIT - 1)
        millis = zset.iter_index(EXPIRE_ZSET, score_start=_SECONDS_LIMIT)
        return seconds, millis

    def _expire_versioned(self, versions, member: bytes, when: int) -> None:
        """Expire ``member`` with the version its deadline gives: writes of the key or its
        TTL stamped before it are overwritten, later ones stay (docs/replication.md, "TTLs")."""
        db = self.db
        mk = encode_zset(EXPIRE_ZSET, member)
        at = expiry_version(when, versions.get(mk).order())
        versions.clock.observe(at[0])
        dk = encode_kv(member)
        local = versions.get(dk)
        if local.counter is not None:  # increments stamped after the deadline still count
            value = db.engine.get(dk)
            (s, o), c = crdt.join(local.order(), local.as_counter(value), at, crdt.Counter(None))
            new = crdt.value((s, o), c)
            merged = Version(s, o, c.base is None, c)
            if merged != local:
                versions.next_record = merged.encode()
                try:
                    if new is None:
                        db.kv.delete(member)
                    else:
                        db.kv.set(member, new)
                finally:
                    versions.next_record = None
        elif local.order() < at:
            with db.stamped(*at):
                db.kv.delete(member)
        with db.stamped(*at):
            db.zset.delete(EXPIRE_ZSET, member)

    def next_due(self) -> int | None:
        """Expiry time (ms) of the earliest TTL, or None."""
        firsts = [first[1] for first in (next(walk, None) for walk in self._regions()) if first is not None]
        return min(_as_ms(score) for score in firsts) if firsts else None

    def expire_due(self, now: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` keys whose expiry time is <= ``now``; returns how many.

        Each expiry is an ordinary delete (KDEL) plus removal from the TTL zset
        (ZDEL), both logged so that slaves expire the key too.  On a node that
        versions its writes both carry the expiry's version (``expiry_version``),
        the same on every node, instead of a new stamp.
        """
        due = []
        for walk in self._regions():
            for member, score in walk:
                if _as_ms(score) > now or len(due) >= limit:
                    break
                due.append((member, _as_ms(score)))
        versions = self.db.binlog.versions
        for member, when in due:
            if versions is not None:
                self._expire_versioned(versions, member, when)
            else:
                self.db.kv.delete(member)
                self.db.zset.delete(EXPIRE_ZSET, member)
        if due:
            self.db.commit()
        return len(due)

