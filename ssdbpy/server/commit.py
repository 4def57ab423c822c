"""Group commit: the writes staged by every connection served while the previous
batch was being written reach LevelDB together, in one atomic batch written on
a worker thread (LevelDB runs without the GIL), while the hub goes on parsing
and executing the next requests.

A connection that executed requests while writes were staged (or in flight)
sends its replies only once a batch containing all of them is in LevelDB, so
no client ever sees a reply for, or data from, a write that is not in
LevelDB: from an event-loop callback it registers ``after_commit(callback)``,
from a greenlet it may call ``wait()``.  Batches are written one at a time,
in order.
"""

from __future__ import annotations

import logging
from typing import Callable

import gevent
from gevent.event import Event

from ssdbpy.db.database import Database

log = logging.getLogger("ssdbpy.commit")


class CommitFailed(Exception):
    pass


class _Batch:
    __slots__ = ("done", "error", "callbacks")

    def __init__(self) -> None:
        self.done = Event()
        self.error: BaseException | None = None
        self.callbacks: list[Callable[[BaseException | None], None]] = []

    def finish(self) -> None:
        self.done.set()
        for cb in self.callbacks:
            try:
                cb(self.error)
            except Exception:  # noqa: BLE001 - one connection's failure is not the batch's
                log.exception("after-commit callback failed")


#: batches with fewer staged writes are written inline: handing a small batch
#: to a thread costs more latency (thread wake-ups) than the write itself
THREAD_MIN_WRITES = 256


class GroupCommit:
    def __init__(self, db: Database, *, threaded: bool = True) -> None:
        self.db = db
        self.threaded = threaded
        self._next: _Batch | None = None
        self._wake = Event()
        self._greenlet: gevent.Greenlet | None = None
        self._turn: list[Callable[[BaseException | None], None]] = []
        self.batches = 0

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        nxt, self._next = self._next, None
        if nxt is not None:
            nxt.error = CommitFailed("server stopping")
            nxt.finish()

    def _upcoming(self) -> _Batch:
        batch = self._next
        if batch is None:
            batch = self._next = _Batch()
            self._wake.set()
        return batch

    def after_turn(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(None)`` once the event loop has served every connection ready now.

        For replies that need no commit: sent together at the end of the loop
        turn (as Redis writes its replies before it sleeps), a burst of sends
        finds the client process awake, where a send after each connection's
        requests would wake it (a costly cross-CPU wake-up) once per connection.
        """
        self._turn.append(callback)
        if len(self._turn) == 1:
            gevent.get_hub().loop.run_callback(self._end_turn)

    def _end_turn(self) -> None:
        callbacks, self._turn = self._turn, []
        for cb in callbacks:
            try:
                cb(None)
            except Exception:  # noqa: BLE001 - one connection's failure is not the others'
                log.exception("end-of-turn callback failed")

    def after_commit(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(error)`` once every write staged so far is in LevelDB (``error`` None) or failed."""
        self._upcoming().callbacks.append(callback)

    def wait(self) -> None:
        """Block this greenlet until every write staged so far is in LevelDB."""
        batch = self._upcoming()
        batch.done.wait()
        if batch.error is not None:
            raise CommitFailed(str(batch.error))

    def _run(self) -> None:
        engine = self.db.engine
        pool = gevent.get_hub().threadpool
        while True:
            self._wake.wait()
            self._wake.clear()
            batch, self._next = self._next, None
            if batch is None:
                continue
            try:
                d = engine.detach()
                if d is not None:
                    if self.threaded and len(d.writes) >= THREAD_MIN_WRITES:
                        pool.apply(engine.write_detached, (d,))
                    else:
                        engine.write_detached(d)
                    engine.finish(d)
                    self.batches += 1
            except Exception as exc:  # noqa: BLE001 - reported to every waiter
                log.exception("LevelDB write failed")
                batch.error = exc
            batch.finish()
