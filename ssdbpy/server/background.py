"""Background tasks: TTL expiry and binlog trimming, as greenlets."""

from __future__ import annotations

import logging

import gevent
from gevent.event import Event

from ssdbpy.db.database import Database
from ssdbpy.db.ttl import now_ms
from ssdbpy.errors import WriteFailed

log = logging.getLogger("ssdbpy.background")

EXPIRE_IDLE = 0.1  # s: longest sleep, so TTLs written by replication are seen quickly
TRIM_INTERVAL = 0.05


class Background:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._wake = Event()
        self._greenlets: list[gevent.Greenlet] = []
        self._next_due: int | None = None
        db.ttl.listeners.append(self._ttl_set)

    def _ttl_set(self, when_ms: int) -> None:
        if self._next_due is None or when_ms < self._next_due:
            self._wake.set()

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._expire_loop), gevent.spawn(self._trim_loop)]

    def stop(self) -> None:
        gevent.killall(self._greenlets, timeout=2)
        self._greenlets = []

    def _expire_loop(self) -> None:
        ttl = self.db.ttl
        while True:
            try:
                if self.db.engine.dirty:
                    # a connection is between parsing and committing; let it finish
                    gevent.sleep(0.001)
                    continue
                n = ttl.expire_due(now_ms())
                if n:
                    gevent.sleep(0)
                    continue
                due = ttl.next_due()
                self._next_due = due
                wait = EXPIRE_IDLE if due is None else min(max((due - now_ms()) / 1000.0, 0.001), EXPIRE_IDLE)
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
            gevent.sleep(TRIM_INTERVAL)
            try:
                if binlog.needs_trim() and not self.db.engine.dirty:
                    while binlog.trim_step():
                        gevent.sleep(0)
            except WriteFailed:
                gevent.sleep(1.0)  # LevelDB takes no writes now (the engine logs the episode once)
            except Exception:
                log.exception("binlog trim failed")
