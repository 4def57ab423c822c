"""Group commit: writes staged by every connection that ran in the same turn of
the event loop reach LevelDB in one atomic batch.

A connection that executed requests while writes were staged calls
``wait()``; the first caller schedules one commit at the next turn of the
loop, after every connection that became readable in this turn has run, and
all callers resume when that batch is in LevelDB.  Replies are sent only then,
so no client ever sees a reply for (or data from) a write not yet written.
"""

from __future__ import annotations

import logging

from gevent import get_hub
from gevent.event import Event

from ssdbpy.db.database import Database

log = logging.getLogger("ssdbpy.commit")


class CommitFailed(Exception):
    pass


class _Batch:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = Event()
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._batch: _Batch | None = None
        self.batches = 0

    def wait(self) -> None:
        """Block this greenlet until every write staged so far is in LevelDB."""
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            get_hub().loop.run_callback(self._commit, batch)
        batch.done.wait()
        if batch.error is not None:
            raise CommitFailed(str(batch.error))

    def _commit(self, batch: _Batch) -> None:
        self._batch = None
        try:
            if self.db.engine.dirty:
                self.db.commit()
                self.batches += 1
        except Exception as exc:  # noqa: BLE001 - reported to every waiter
            log.exception("LevelDB write failed")
            batch.error = exc
        batch.done.set()
