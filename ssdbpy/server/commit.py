"""Group commit: the writes staged by every connection served in one turn of the
event loop reach LevelDB together, in one atomic batch.

A connection that executed requests while writes were staged (or in flight)
sends its replies only once a batch containing all of them is in LevelDB, so
no client ever sees a reply for, or data from, a write that is not in
LevelDB: from an event-loop callback it registers ``after_commit(callback)``,
from a greenlet it may call ``wait()``.

The staged writes become a batch at the end of the loop turn, or earlier when
a connection finds that many are staged (``kick``).  Big batches are written by
one worker thread (LevelDB runs without the GIL) while the hub goes on
executing the next requests, so several batches can be in flight; they are
written one at a time, in order, and their callbacks run in that order.
Small batches with nothing in flight are written at once on the hub: handing
them to a thread costs more (thread wake-ups) than the write.  A batch is small
when it has few writes and few bytes: one 100 MB value takes LevelDB most of a
second to write.

When a batch fails (storage.engine: disk full, read-only filesystem), the
engine discards every write after it; every batch after it then fails too,
including the one being staged, and the callbacks get a WriteFailed (a
connection turns it into ``error`` replies for its writes only).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable

import gevent
from gevent.event import Event

from ssdbpy.db.database import Database
from ssdbpy.errors import WriteFailed

if TYPE_CHECKING:
    from ssdbpy.storage.engine import Detached

log = logging.getLogger("ssdbpy.commit")

Callback = Callable[[BaseException | None], None]


class CommitFailed(Exception):
    pass


class _Batch:
    __slots__ = ("done", "error", "callbacks")

    def __init__(self) -> None:
        self.done = Event()
        self.error: BaseException | None = None
        self.callbacks: list[Callback] = []

    def finish(self) -> None:
        self.done.set()
        for cb in self.callbacks:
            try:
                cb(self.error)
            except Exception:  # noqa: BLE001 - one connection's failure is not the batch's
                log.exception("after-commit callback failed")


#: batches with fewer staged writes (and fewer bytes) are written inline when nothing is in flight
THREAD_MIN_WRITES = 256
THREAD_MIN_BYTES = 1 << 20
#: staged writes at which a connection starts a batch before the loop turn ends
KICK_WRITES = 1024


class GroupCommit:
    def __init__(self, db: Database, *, threaded: bool = True) -> None:
        self.db = db
        self.engine = db.engine
        self.threaded = threaded
        self._staged: _Batch | None = None  # callbacks waiting for the writes being staged
        #: batches detached and not yet retired, oldest first: (writes or None, batch)
        self._queue: deque[tuple[Detached | None, _Batch]] = deque()
        self._jobs: queue.SimpleQueue | None = None  # batches for the writer thread
        self._writer_thread: threading.Thread | None = None
        self._wakeup = None  # the loop's async watcher the writer thread pokes after each write
        self._turn: list[Callback] = []
        self._scheduled = False  # an end-of-turn commit is scheduled
        self._stopped = False
        self.batches = 0
        self.engine.on_abort.append(self._aborted)

    def start(self) -> None:
        if self.threaded and self._writer_thread is None:
            self._jobs = queue.SimpleQueue()
            self._wakeup = gevent.get_hub().loop.async_()
            self._wakeup.start(self._retire)
            # one writer: batches reach LevelDB in order
            self._writer_thread = threading.Thread(target=self._write_loop, name="ssdbpy-commit", daemon=True)
            self._writer_thread.start()

    def _write_loop(self) -> None:
        """The writer thread: LevelDB writes (without the GIL), then a poke to the loop."""
        jobs = self._jobs
        assert jobs is not None and self._wakeup is not None
        while True:
            d = jobs.get()
            if d is None:
                return
            self.engine.write_detached(d)  # records its own error
            # not kept by this frame while it waits for the next batch (a 100 MB value and its
            # write batch would stay in memory until then)
            d = None
            self._wakeup.send()

    def stop(self) -> None:
        self._stopped = True
        failed = CommitFailed("server stopping")
        staged, self._staged = self._staged, None
        if staged is not None:
            staged.error = failed
            staged.finish()
        for d, _batch in self._queue:
            if d is not None:
                d.done.wait()  # the writer finishes what it started
        self._retire()
        if self._writer_thread is not None:
            assert self._jobs is not None and self._wakeup is not None
            self._jobs.put(None)
            self._writer_thread.join(10)
            self._writer_thread = None
            self._wakeup.stop()
            self._wakeup.close()

    # --- registering ----------------------------------------------------------------
    def after_turn(self, callback: Callback) -> None:
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

    def _upcoming(self) -> _Batch:
        batch = self._staged
        if batch is None:
            batch = self._staged = _Batch()
            if not self._scheduled:
                self._scheduled = True
                gevent.get_hub().loop.run_callback(self._end_of_turn_commit)
        return batch

    def after_commit(self, callback: Callback) -> None:
        """Call ``callback(error)`` once every write staged so far is in LevelDB (``error`` None) or failed."""
        if self._stopped:
            callback(CommitFailed("server stopping"))
            return
        self._upcoming().callbacks.append(callback)

    def wait(self) -> None:
        """Block this greenlet until every write staged so far is in LevelDB."""
        if self._stopped:
            raise CommitFailed("server stopping")
        batch = self._upcoming()
        batch.done.wait()
        if batch.error is not None:
            raise CommitFailed(str(batch.error))

    def kick(self) -> None:
        """Start writing the staged writes now if there are many (called between connections)."""
        if self.engine.staged_writes >= KICK_WRITES and self._staged is not None:
            self._commit()

    def commit_now(self, callback: Callback) -> None:
        """Start writing every staged write now (a batch of many on the writer thread, so the
        caller may go on staging the next one meanwhile) and call ``callback(error)`` once it is
        in LevelDB or failed."""
        if self._stopped:
            callback(CommitFailed("server stopping"))
            return
        self._upcoming().callbacks.append(callback)
        self._commit()

    def drain(self) -> None:
        """Block this thread (the event loop with it: no other greenlet runs meanwhile) until
        every batch started is written, and retire them (their callbacks run, in order)."""
        for d, _batch in list(self._queue):
            if d is not None:
                d.done.wait()
        self._retire()

    # --- committing ---------------------------------------------------------------------
    def _end_of_turn_commit(self) -> None:
        self._scheduled = False
        if self._staged is not None:
            self._commit()

    def _commit(self) -> None:
        batch, self._staged = self._staged, None
        if batch is None:
            return
        engine = self.engine
        try:
            d = engine.detach()
        except Exception as exc:  # noqa: BLE001 - reported to every waiter
            log.exception("LevelDB batch failed")
            batch.error = exc
            d = None
        if d is None:
            # nothing to write: done once every batch before it is
            if self._queue:
                self._queue.append((None, batch))
            else:
                batch.finish()
            return
        self.batches += 1
        inline = self._jobs is None or (not self._queue and len(d.writes) < THREAD_MIN_WRITES
                                        and _size(d.writes) < THREAD_MIN_BYTES)
        self._queue.append((d, batch))
        if inline:
            engine.write_detached(d)
            self._retire()
        else:
            self._jobs.put(d)

    def _retire(self) -> None:
        """Finish, in order, every batch at the head of the queue whose write is done."""
        queue = self._queue
        while queue:
            d, batch = queue[0]
            if d is not None:
                if not d.done.is_set():
                    return
                try:
                    self.engine.finish(d)
                except WriteFailed as exc:  # the engine logs the episode once
                    batch.error = exc
                except Exception as exc:  # noqa: BLE001 - reported to every waiter
                    log.exception("LevelDB write failed")
                    batch.error = exc
            queue.popleft()
            batch.finish()

    def _aborted(self, failed: Detached, exc: BaseException) -> None:
        """Engine callback: ``failed`` failed and every write after it was discarded.

        The batches queued after it with writes fail in ``engine.finish``; the
        ones without (their callbacks waited on the discarded writes) and the
        batch being staged fail here.
        """
        error = WriteFailed()
        error.__cause__ = exc
        after = False
        for d, batch in self._queue:
            if d is failed:
                after = True
            elif after and d is None:
                batch.error = error
        staged, self._staged = self._staged, None
        if staged is not None:
            staged.error = error
            self._queue.append((None, staged))
            gevent.get_hub().loop.run_callback(self._retire)


def _size(writes: dict[bytes, bytes | None]) -> int:
    """Bytes of the values in ``writes`` (called for small batches only)."""
    n = 0
    for v in writes.values():
        if v is not None:
            n += len(v)
    return n
