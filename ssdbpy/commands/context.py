"""State a handler can see: the server-wide state and the connection's own."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ssdbpy import errors
from ssdbpy.config.settings import OutputLimit
from ssdbpy.slowlog import SlowLog

if TYPE_CHECKING:
    from ssdbpy.db.database import Database


_NO_SECTION = nullcontext()


class KeyRange:
    """The optional kv key range ``(start, end]`` persisted in the meta db."""

    FIELD_S = b"kv_s"
    FIELD_E = b"kv_e"

    __slots__ = ("_start", "_end", "active")

    def __init__(self, start: bytes = b"", end: bytes = b"") -> None:
        self._start = start
        self._end = end
        #: True when a bound is set (a plain attribute: every kv command reads it)
        self.active = bool(start or end)

    @property
    def start(self) -> bytes:
        return self._start

    @start.setter
    def start(self, value: bytes) -> None:
        self._start = value
        self.active = bool(value or self._end)

    @property
    def end(self) -> bytes:
        return self._end

    @end.setter
    def end(self, value: bytes) -> None:
        self._end = value
        self.active = bool(self._start or value)

    def contains(self, key: bytes) -> bool:
        return (not self._start or key > self._start) and (not self._end or key <= self._end)


class WriteGate:
    """Holds write requests back while a command that must not interleave with them runs (flushdb).

    This one is for inline use (tests, tools): nothing runs concurrently, so
    ``wait`` has nothing to wait for.  The server installs one whose ``wait``
    blocks the calling greenlet until ``release``.
    """

    held = False
    #: the Context holding the gate
    owner: Any = None

    def hold(self, owner: Any) -> None:
        self.held = True
        self.owner = owner

    def release(self) -> None:
        self.held = False
        self.owner = None

    def wait(self) -> None:
        pass


class ServerState:
    """Everything commands share: the database, security settings, counters.

    Replication and the network layer attach themselves through the hook
    attributes (``repl``) so that commands never import them.
    """

    def __init__(self, db: "Database", *, passwords: list[bytes] | None = None, readonly: bool = False) -> None:
        from ssdbpy.ipfilter import IpFilter

        self.db = db
        self.passwords: set[bytes] = set(passwords or ())
        self.readonly = readonly
        self.ipfilter = IpFilter()
        self.kv_range = KeyRange()
        self.links = 0
        self.start_time = time.time()
        #: requests per second over the last sample (set by the server's sampler; 0 inline)
        self.ops_per_sec = 0.0
        #: replication hooks (set by apps wiring): object with .info_blocks() -> list[bytes],
        #: .in_use() -> bool, .slaveof(id, host, port, auth, last_seq, last_key)
        self.repl: Any = None
        #: disconnect clients whose unsent replies exceed it (server.client_output_buffer_limit)
        self.output_limit = OutputLimit()
        #: run a blocking function off the hub (set by the server; default: inline)
        self.run_blocking = lambda fn, *a: fn(*a)
        #: called between slices of a long command: lets the other connections run once the
        #: current slice has run long enough (staged writes committed first); returns True if
        #: it did.  None (the default, and inline): never yields.
        self.pause: Callable[[], bool] | None = None
        #: write requests wait while it is held (see WriteGate; the server installs its own)
        self.write_gate = WriteGate()
        #: requests slower than server.slowlog_timeout (off by default; the server installs its own)
        self.slowlog = SlowLog()
        #: Redis's INFO ``run_id`` (new per process) and ``master_replid``: 40 hex characters
        self.run_id = os.urandom(20).hex()
        self.replid = os.urandom(20).hex()
        #: the port the server listens on (set by the server once it listens) and its config file
        self.tcp_port = 0
        self.conf_path = ""
        #: the settings the server runs with (CONFIG GET/SET/REWRITE; set by the server)
        self.settings: Any = None
        #: ssdb.conf key → value text, for what CONFIG SET changed (CONFIG REWRITE writes them)
        self.config_changes: dict[str, str] = {}
        #: connections accepted since start (INFO's total_connections_received)
        self.connections_received = 0
        #: client id → live connection (CLIENT LIST/KILL, INFO); the server layer fills it
        self.clients: dict[int, Any] = {}
        #: channel and pattern subscriptions (PUBLISH/SUBSCRIBE; the server layer installs one)
        self.pubsub: Any = None
        #: server.replica_read_only: writes are refused while a ``type: sync`` slaveof link exists
        self.replica_read_only = False
        #: True when writes are refused for that reason (kept current by whoever changes links)
        self.replica_refuses = False
        #: INFO's slave_priority (Sentinel promotes the lowest non-zero one)
        self.replica_priority = 100

    def total_calls(self) -> int:
        from ssdbpy.commands.registry import COMMANDS

        return sum(c.calls for c in COMMANDS.values())


class Context:
    """One client connection's view: server state plus per-link flags."""

    __slots__ = ("server", "db", "authed", "ignore_key_range", "peer_ip", "peer_port", "link", "savepoint",
                 "write_seq")

    def __init__(self, server: ServerState, peer_ip: str = "127.0.0.1", peer_port: int = 0) -> None:
        self.server = server
        self.db = server.db
        self.authed = not server.passwords
        self.ignore_key_range = False
        self.peer_ip = peer_ip
        self.peer_port = peer_port
        self.link: Any = None
        #: where a failing write command's staged writes are rolled back to (dispatch.run);
        #: None while a read runs
        self.savepoint: Any = None
        #: the binlog's last sequence after this connection's last write that logged a record
        #: (0: none yet); WAIT waits for the slaves to acknowledge it
        self.write_seq = 0

    def cooperate(self) -> None:
        """Between two slices of a long command: let the other connections run.

        A no-op inline and in event-loop callbacks (only a command registered
        ``long`` runs where it may yield).  Before yielding, every write staged
        so far is committed, so that nothing this command staged can be undone
        by a rollback of another connection, and nothing they stage can be
        undone by ours: a write command's rollback point moves to the resume.
        """
        pause = self.server.pause
        if pause is not None and pause() and self.savepoint is not None:
            gate = self.server.write_gate
            if gate.held and gate.owner is not self:
                gate.wait()  # a long write started before flushdb goes on after it
            self.savepoint = self.db.savepoint()

    def atomic(self, long: bool = True):
        """:meth:`atomic_section` for a long request; a shared no-op block for a short one."""
        return self.atomic_section() if long else _NO_SECTION

    @contextmanager
    def atomic_section(self) -> Iterator[None]:
        """A write over many keys that yields between slices (``cooperate``), all or nothing.

        As SSDB's one batch per ``multi_set``: its writes reach LevelDB together,
        and no other client sees any of them before the command ends (readers see
        the data as it was; Engine's atomic section).  Other writes wait meanwhile
        (the write gate), so the section's binlog records are numbered in a row.
        If the handler fails (an exception other than an error reply), nothing of
        it is staged.  Inline and in event-loop callbacks, where nothing else runs
        until the handler returns, it is a plain block.
        """
        server = self.server
        pause = server.pause
        if pause is None or not pause.on_greenlet():
            yield
            return
        gate = server.write_gate
        gate.wait()
        gate.hold(self)
        db = self.db
        engine = db.engine
        try:
            pause.drain()  # start from an empty overlay: the section holds its writes only
            seq = db.binlog.last_seq
            engine.begin_atomic()
            db.binlog.hidden_after = seq  # replication streams stop before the section's records
            self.savepoint = db.savepoint()
            keep = False
            try:
                yield
                keep = True
            except errors.SSDBError:
                keep = True  # an error reply: what was written before it stays (as SSDB)
                raise
            finally:
                engine.end_atomic(keep)
                db.binlog.hidden_after = None
                if not keep:
                    db.binlog.last_seq = seq
                self.savepoint = db.savepoint()
        finally:
            gate.release()

    def check_kv_range(self, key: bytes) -> None:
        kr = self.server.kv_range
        if kr.active and not self.ignore_key_range and not kr.contains(key):
            raise errors.OutOfRangeError()
