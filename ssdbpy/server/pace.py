"""Pacing long commands: the hooks behind ``ctx.cooperate()`` and the write gate.

A command registered ``long`` (a big scan, hclear, flushdb, ...) runs on its
connection's greenlet and calls ``ctx.cooperate()`` between small slices of
work.  :class:`Pace` turns that into a yield once the slice has held the event
loop for SLICE seconds: first every staged write is committed through the group
commit (written by its writer thread, not on the hub), so the command never
leaves writes in the shared overlay where another connection's rollback could
undo them (or its own rollback could undo theirs); then the greenlet sleeps for
one turn of the loop, which serves every other connection meanwhile (see
``settle``).

Called from an event-loop callback (a short request of the same command) it
never yields.
"""

from __future__ import annotations

from time import perf_counter

import gevent
from gevent.event import Event

from ssdbpy.commands.context import WriteGate
from ssdbpy.server.commit import GroupCommit

#: longest run of a long command between two yields (s)
SLICE = 0.002
#: commits waited for at most per yield while other connections keep the overlay dirty
_SETTLE_ROUNDS = 3
#: the yield: a timer this short still makes the loop poll the sockets (s)
_POLL = 1e-5


class Pace:
    """``state.pause``: yield if the current slice ran SLICE seconds; True if it yielded."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self.engine = group.engine
        self.hub = gevent.get_hub()
        self._resumed = 0.0  # when a long command last got the loop back

    def __call__(self) -> bool:
        if perf_counter() - self._resumed < SLICE:
            return False
        if gevent.getcurrent() is self.hub:
            return False
        engine = self.engine
        if engine.atomic_active:
            # an atomic section (Context.atomic): nothing is committed, its writes are
            # hidden from the others while they run
            engine.pause_atomic()
            try:
                gevent.sleep(_POLL)
            finally:
                engine.resume_atomic()
        else:
            self.settle()
        self._resumed = perf_counter()
        return True

    def on_greenlet(self) -> bool:
        """True where a long command may yield (not in an event-loop callback)."""
        return gevent.getcurrent() is not self.hub

    def drain(self) -> None:
        """Block this greenlet until nothing is staged or in flight (the group commit writes it)."""
        while self.engine.dirty:
            self.group.wait()

    def settle(self) -> None:
        """Yield for a turn of the loop, with the writes staged so far committed first.

        The group commit writes big batches on its writer thread; waiting for
        them lets the loop run.  A commit with nothing to write finishes within
        the loop's callbacks, without polling the sockets, so the yield itself
        is a timer (a zero sleep is a callback too): every readable connection
        is served before this greenlet resumes.  Then, a few rounds at most,
        what the others staged meanwhile is committed the same way, so that an
        iteration started next rarely has to write a batch on the hub
        (Engine.iterate commits first).
        """
        engine = self.engine
        wait = self.group.wait
        if engine.dirty:
            wait()
        gevent.sleep(_POLL)
        for _ in range(_SETTLE_ROUNDS):
            if not engine.dirty:
                break
            wait()


class GeventWriteGate(WriteGate):
    """The server's write gate: ``wait`` blocks the calling greenlet while the gate is held.

    Write requests that arrive while it is held are moved to their
    connection's greenlet (server.connection) and wait in dispatch.run.
    In an event-loop callback ``wait`` cannot block and returns at once.
    """

    def __init__(self) -> None:
        self._open = Event()
        self._open.set()
        self.held = False
        self.owner = None
        self.hub = gevent.get_hub()

    def hold(self, owner) -> None:
        self.held = True
        self.owner = owner
        self._open.clear()

    def release(self) -> None:
        self.held = False
        self.owner = None
        self._open.set()

    def wait(self) -> None:
        while self.held and gevent.getcurrent() is not self.hub:
            self._open.wait()
