"""Key expirations, kept in SSDB's internal zset (score = expiry time in ms).

The zset is an ordinary zset, so it is replicated, dumped and listed like any
other.  Scores below 2,000,000,000 are seconds written by older versions.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ssdbpy.storage.keys import EXPIRE_ZSET

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

_SECONDS_LIMIT = 2000000000


def now_ms() -> int:
    return int(time.time() * 1000)


def _as_ms(score: int) -> int:
    return score * 1000 if score < _SECONDS_LIMIT else score


class TTL:
    def __init__(self, db: "Database") -> None:
        self.db = db
        #: called with the expiry time (ms) whenever a TTL is set (wakes the expiry task)
        self.listeners: list = []

    def set(self, key: bytes, ttl_seconds: int) -> None:
        """Expire ``key`` ``ttl_seconds`` from now (<= 0: at the next expiry pass)."""
        when = now_ms() + ttl_seconds * 1000
        self.db.zset.set(EXPIRE_ZSET, key, when)
        for cb in self.listeners:
            cb(when)

    def delete(self, key: bytes) -> None:
        self.db.zset.delete(EXPIRE_ZSET, key)

    def get(self, key: bytes) -> int:
        """Remaining seconds (truncated toward zero), or -1 when ``key`` has no TTL."""
        score = self.db.zset.score(EXPIRE_ZSET, key)
        if score is None:
            return -1
        left = _as_ms(score) - now_ms()
        return int(left / 1000)

    def next_due(self) -> int | None:
        """Expiry time (ms) of the earliest TTL, or None."""
        for _member, score in self.db.zset.iter_index(EXPIRE_ZSET):
            return _as_ms(score)
        return None

    def expire_due(self, now: int, limit: int = 1000) -> int:
        """Delete up to ``limit`` keys whose expiry time is <= ``now``; returns how many.

        Each expiry is an ordinary delete (KDEL) plus removal from the TTL zset
        (ZDEL), both logged so that slaves expire the key too.
        """
        due = []
        for member, score in self.db.zset.iter_index(EXPIRE_ZSET):
            if _as_ms(score) > now or len(due) >= limit:
                break
            due.append(member)
        for member in due:
            self.db.kv.delete(member)
            self.db.zset.delete(EXPIRE_ZSET, member)
        if due:
            self.db.commit()
        return len(due)
