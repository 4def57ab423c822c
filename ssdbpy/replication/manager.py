"""Replication wiring: the master sessions and the slave links of one server.

Installed as ``ServerState.repl`` by apps.server; commands reach replication
only through this object (``info_blocks``, ``in_use``, ``slaveof``).
"""

from __future__ import annotations

import logging
from ssdbpy.commands.context import WriteGate
from ssdbpy.config.settings import SlaveofSettings
from ssdbpy.db.database import Database
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

    def _hold(self) -> int | None:
        if not self.sessions:
            return None
        return min(s.needed_seq() for s in self.sessions)

    # --- the interface commands use ------------------------------------------------
    def info_blocks(self) -> list[bytes]:
        return [s.info_block() for s in self.sessions] + [s.info_block() for s in self.slaves]

    def in_use(self) -> bool:
        return bool(self.sessions or self.slaves)

    def add_slave(self, cfg: SlaveofSettings, last_seq: int | None = None, last_key: bytes | None = None) -> Slave:
        slave = Slave(self, cfg, last_seq=last_seq, last_key=last_key)
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

    def stop(self) -> None:
        for s in self.slaves:
            s.stop()
