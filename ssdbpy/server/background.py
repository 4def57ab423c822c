"""Background tasks: TTL expiry and binlog trimming, as greenlets that sleep while there is nothing to do.

Neither polls.  The expiry task sleeps until the next TTL is due, or until
it is told of a new one: a TTL set on this server (``db.ttl.listeners``) at
once, and any committed batch (``engine.on_commit``: a TTL that arrived by
replication writes the TTL index without going through ``db.ttl``) at most
every :data:`EXPIRE_REREAD` seconds.  The trim task runs when a commit has
taken the binlog past its capacity, and retries every :data:`TRIM_RETRY`
seconds only while a trim is due but held back (a replication session still
reads the records).  An idle server therefore wakes once a second at most
(the ops/s sampler).
"""

from __future__ import annotations

import logging
from time import monotonic

import gevent
from gevent.event import Event

from ssdbpy.db.database import Database
from ssdbpy.db.ttl import now_ms
from ssdbpy.errors import WriteFailed

log = logging.getLogger("ssdbpy.background")

#: s: after a commit, the TTL index is re-read within this (TTLs written by replication)
EXPIRE_REREAD = 0.1
#: s: while a binlog trim is due but held back (a slave still reads the records), retried this often
TRIM_RETRY = 1.0
#: s: a trim that found a connection's writes in progress waits this long for their commit
TRIM_BUSY = 0.05


class Background:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._wake = Event()  # the expiry task: something may be due earlier than it thought
        self._trim_wake = Event()  # the trim task: the binlog may be past its capacity
        self._greenlets: list[gevent.Greenlet] = []
        self._next_due: int | None = None
        self._last_pass = 0.0  # monotonic time of the expiry task's last read of the TTL index
        self._reread = None  # a pending one-shot timer that wakes the expiry task (after a commit)
        db.ttl.listeners.append(self._ttl_set)
        db.engine.on_commit.append(self._committed)

    def _ttl_set(self, when_ms: int) -> None:
        if self._next_due is None or when_ms < self._next_due:
            self._wake.set()

    def _committed(self) -> None:
        """After every committed batch (on the hub): wake the tasks that may have work now."""
        if self.db.binlog.needs_trim():
            self._trim_wake.set()
        if self._wake.is_set() or self._reread is not None:
            return
        delay = self._last_pass + EXPIRE_REREAD - monotonic()
        if delay <= 0:
            self._wake.set()
        else:
            self._reread = gevent.get_hub().loop.timer(delay)
            self._reread.start(self._reread_due)

    def _reread_due(self) -> None:
        self._reread = None
        self._wake.set()

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._expire_loop), gevent.spawn(self._trim_loop)]

    def stop(self) -> None:
        gevent.killall(self._greenlets, timeout=2)
        self._greenlets = []
        if self._reread is not None:
            self._reread.close()
            self._reread = None

    def _expire_loop(self) -> None:
        ttl = self.db.ttl
        while True:
            try:
                if self.db.engine.dirty:
                    # a connection is between parsing and committing; let it finish
                    gevent.sleep(0.001)
                    continue
                self._last_pass = monotonic()
                n = ttl.expire_due(now_ms())
                if n:
                    gevent.sleep(0)
                    continue
                due = ttl.next_due()
                self._next_due = due
                wait = None if due is None else max((due - now_ms()) / 1000.0, 0.001)
            except WriteFailed:
                wait = 1.0  # LevelDB takes no writes now (the engine logs the episode once)
            except Exception:
                log.exception("expiry pass failed")
                wait = 1.0
            self._wake.clear()
            self._wake.wait(wait)

    def _trim_loop(self) -> None:
        binlog = self.db.binlog
        while True:
            self._trim_wake.wait(TRIM_RETRY if binlog.needs_trim() else None)
            self._trim_wake.clear()
            try:
                if not binlog.needs_trim():
                    continue
                if self.db.engine.dirty:
                    gevent.sleep(TRIM_BUSY)
                    self._trim_wake.set()  # try again then
                    continue
                while binlog.trim_step():
                    gevent.sleep(0)
            except WriteFailed:
                gevent.sleep(1.0)  # LevelDB takes no writes now (the engine logs the episode once)
            except Exception:
                log.exception("binlog trim failed")
