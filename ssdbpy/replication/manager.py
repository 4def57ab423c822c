"""Replication wiring: the master sessions and the slave links of one server.

Installed as ``ServerState.repl`` by apps.server; commands reach replication
only through this object (``info_blocks``, ``in_use``, ``slaveof``).
"""

from __future__ import annotations

import logging
import time

from gevent.event import Event

from ssdbpy.commands.context import WriteGate
from ssdbpy.config.settings import SlaveofSettings
from ssdbpy.db.database import Database
from ssdbpy.replication import group
from ssdbpy.replication.lag import CommitTimes
from ssdbpy.replication.master import SyncSession
from ssdbpy.replication.slave import Slave

log = logging.getLogger("ssdbpy.repl")


def SlaveConfig(id: str, host: str, port: int, type: str = "sync", auth: str | None = None,  # noqa: N802
                recv_timeout: int = 30) -> SlaveofSettings:
    """A slave link's settings by keyword (the type is the config's ``SlaveofSettings``)."""
    return SlaveofSettings(id, type, host, port, auth, recv_timeout)


class Replication:
    def __init__(self, db: Database, *, sync_speed: int = 0) -> None:
        self.db = db
        self.sync_speed = sync_speed if sync_speed > 0 else 0
        self.sessions: list[SyncSession] = []
        self.slaves: list[Slave] = []
        self.copies = 0
        #: the server's write gate: slaves apply nothing while a command holds it (flushdb, a
        #: long multi_* write); the server sets its own, this one never waits
        self.write_gate: WriteGate = WriteGate()
        db.binlog.hold = self._hold
        #: the node's replication history (docs/replication.md, "Replication groups")
        self.history = group.History(db.meta)
        #: the port this server listens on, told to masters on aligned links
        self.listen_port = 0
        #: the sync-link settings changed by SLAVEOF over RESP since start: CONFIG REWRITE writes them
        self.role_changed = False
        #: a slave of this node is being promoted: client writes are refused until SLAVEOF changes the role
        self.frozen = False
        #: called after the role changed (the server re-computes whether it refuses writes)
        self.on_role_change = lambda: None
        self._ack_waiters: list[Event] = []
        #: when the binlog reached each position (a slave's lag in ms)
        self.commit_times = CommitTimes(lambda: db.binlog.max_seq, self._lowest_lacking)
        db.binlog.listeners.append(self.commit_times.committed)

    def _lowest_lacking(self) -> int | None:
        if not self.sessions:
            return None
        return min(s.position() for s in self.sessions) + 1

    def _hold(self) -> int | None:
        if not self.sessions:
            return None
        return min(s.needed_seq() for s in self.sessions)

    # --- the interface commands use ------------------------------------------------
    def info_blocks(self) -> list[bytes]:
        return [s.info_block() for s in self.sessions] + [s.info_block() for s in self.slaves]

    def in_use(self) -> bool:
        return bool(self.sessions or self.slaves)

    def add_slave(self, cfg: SlaveofSettings, last_seq: int | None = None, last_key: bytes | None = None,
                  group_link: bool = False) -> Slave:
        slave = Slave(self, cfg, last_seq=last_seq, last_key=last_key)
        if group_link:
            slave.make_group_link()
        self.slaves.append(slave)
        slave.start()
        return slave

    def slaveof(self, id_: str, host: str, port: int, auth: str | None,
                last_seq: int | None, last_key: bytes | None) -> None:
        """The ``slaveof`` command: start a sync-type slave link now (not persisted to the config)."""
        cfg = SlaveConfig(id=id_ or f"{host}|{port}", host=host, port=port, type="sync", auth=auth)
        for s in list(self.slaves):
            if s.cfg.id == cfg.id:
                s.stop()
                self.slaves.remove(s)
        self.add_slave(cfg, last_seq, last_key)

    # --- Redis's SLAVEOF / REPLICAOF and WAIT -------------------------------------
    def sync_slaves(self) -> list[Slave]:
        return [s for s in self.slaves if not s.cfg.mirror]

    def replicaof(self, host: str, port: int) -> None:
        """``SLAVEOF host port``: follow this master instead of the current one; the data stays."""
        current = self.sync_slaves()
        self.frozen = False
        if len(current) == 1 and (current[0].cfg.host, current[0].cfg.port) == (host, port):
            return  # already its slave (Redis: "OK Already connected to specified master")
        auth = current[0].cfg.auth if current else None
        for s in current:
            s.stop()
            self.slaves.remove(s)
        log.info("SLAVEOF %s:%d", host, port)
        self.add_slave(SlaveConfig(id=f"{host}|{port}", host=host, port=port, type="sync", auth=auth),
                       group_link=True)
        self.role_changed = True

    def promote(self) -> None:
        """``SLAVEOF NO ONE``: stop the sync links, keep the data, start a new history."""
        current = self.sync_slaves()
        self.frozen = False
        live = [s for s in current if s.aligned and str(s.status) == "SYNC"]
        if live:
            # a live master first sends its last records and stops taking writes; the link applies
            # them only while nothing holds the write gate, which EXEC (Sentinel's) holds: let go
            gate = self.write_gate
            owner = gate.owner if gate.held else None
            if owner is not None:
                gate.release()
            try:
                for s in live:
                    s.handoff()
            finally:
                if owner is not None:
                    gate.wait()
                    gate.hold(owner)
        for s in current:
            s.stop()
            self.slaves.remove(s)
        if current:
            self.history.fork(self.db.binlog.max_seq)
            log.info("SLAVEOF NO ONE: master at seq %d", self.db.binlog.max_seq)
            self.role_changed = True
            self.drop_sessions(aligned_only=True)  # this node's own slaves take the new history

    def drop_sessions(self, aligned_only: bool = False) -> None:
        """End this node's master sessions (only the aligned ones, or all): their slaves reconnect and
        are judged by this node's history and binlog as they are now."""
        for s in list(self.sessions):
            if s.aligned or not aligned_only:
                s.drop()

    def freeze(self) -> None:
        """A slave of this node is being promoted: refuse client writes (they would be lost)."""
        self.frozen = True
        self.on_role_change()

    def acked(self) -> None:
        """A slave acknowledged a position: wake the WAITs."""
        for ev in self._ack_waiters:
            ev.set()

    def count_acked(self, seq: int) -> int:
        """Slaves that acknowledged ``seq`` or later (0: every slave that acknowledged anything)."""
        return sum(1 for s in self.sessions if s.acks and s.acked_seq >= max(seq, 0))

    def wait(self, numreplicas: int, seq: int, timeout: float | None) -> int:
        """Block the calling greenlet until ``numreplicas`` slaves acknowledged ``seq`` or ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ev = Event()
        self._ack_waiters.append(ev)
        try:
            while True:
                n = self.count_acked(seq)
                if n >= numreplicas:
                    return n
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return n
                ev.clear()
                ev.wait(left)
        finally:
            self._ack_waiters.remove(ev)

    def stop(self) -> None:
        for s in self.slaves:
            s.stop()
