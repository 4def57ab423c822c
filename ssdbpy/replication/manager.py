"""Replication wiring: the master sessions and the slave links of one server.

Installed as ``ServerState.repl`` by apps.server; commands reach replication
only through this object (``info_blocks``, ``in_use``, ``slaveof``).
"""

from __future__ import annotations

import logging
import time

import gevent
from gevent.event import Event

from ssdbpy.commands.context import WriteGate
from ssdbpy.config.settings import SlaveofSettings
from ssdbpy.db.database import Database
from ssdbpy.errors import WriteFailed
from ssdbpy.replication import group
from ssdbpy.replication.lag import CommitTimes
from ssdbpy.replication.peers import PeerAcks
from ssdbpy.replication.master import SyncSession
from ssdbpy.replication.slave import Slave

log = logging.getLogger("ssdbpy.repl")

#: s between two tombstone collection passes (at least; see GC_BACKOFF)
GC_INTERVAL = 1.0
#: the next pass waits at least this many times as long as the last one took
GC_BACKOFF = 4.0
#: index entries looked at per slice of a pass (a commit, then the clients get a turn)
GC_SLICE = 500


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
        #: the server's GroupCommit (server/commit.py), set by the server; without it slave links
        #: write every batch themselves, on this thread
        self.group_commit = None
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
        #: per convergent peer (node id): its acks of this node's binlog (docs/replication.md,
        #: "Tombstone collection"); kept while the peer is away
        self.peer_acks: dict[int, PeerAcks] = {}
        #: when the binlog reached each position (a slave's or a peer's lag in ms)
        self.commit_times = CommitTimes(lambda: db.binlog.max_seq, self._lowest_lacking)
        db.binlog.listeners.append(self.commit_times.committed)
        self._gc: gevent.Greenlet | None = None
        self._gc_seen: tuple[int, int] | None = None  # (bound, max_seq) of the last pass
        if db.versioned:
            self._gc = gevent.spawn(self._collect_loop)

    def _lowest_lacking(self) -> int | None:
        """The lowest position a connected slave, or a convergent peer (also while away), lacks."""
        held = [s.position() for s in self.sessions] + [pa.acked_seq for pa in self.peer_acks.values()]
        return max(min(held), 0) + 1 if held else None

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
        if self._gc is not None:
            self._gc.kill(block=False)
            self._gc = None
        for s in self.slaves:
            s.stop()

    # --- acks on convergent links, tombstone collection ---------------------------
    def peer_acked(self, peer_id: int, seq: int, theirs: int) -> None:
        """A convergent peer applied this node's binlog up to ``seq`` when its own ended at ``theirs``."""
        pa = self.peer_acks.get(peer_id)
        if pa is None:
            pa = self.peer_acks[peer_id] = PeerAcks(peer_id)
        pa.ack(seq, theirs, time.monotonic())

    def forget_peer(self, peer_id: int) -> None:
        """A mirror link's peer was replaced by another node: stop waiting for the old one."""
        if self.peer_acks.pop(peer_id, None) is not None:
            log.info("peer node %d replaced at its address: its acks no longer count", peer_id)

    def peer_lag(self, peer_id: int | None) -> tuple[int, int, int]:
        """``(acked seq, records not acked, ms since the oldest of them was committed)`` of a
        convergent peer; ``(-1, max_seq, -1)`` before its first ack."""
        max_seq = self.db.binlog.max_seq
        pa = self.peer_acks.get(peer_id) if peer_id is not None else None
        if pa is None:
            return -1, max_seq, -1
        acked = pa.acked_seq
        return acked, max(max_seq - acked, 0), self.commit_times.age_ms(max(acked, 0))

    def tombstones_held(self) -> int:
        versions = self.db.binlog.versions
        return versions.tombstones.held if versions is not None else 0

    def gc_bound(self) -> int:
        """The highest sequence of this node's binlog whose tombstones may go: every peer (each
        mirror link's, and every convergent peer that acked here) acknowledged it, and this node
        has applied what each peer sent before it did (peers.py); -1 while some peer is unknown
        or has not acked."""
        ids = set(self.peer_acks)
        links = {}
        for s in self.slaves:
            if not s.cfg.mirror:
                continue
            if s.peer_id is None:
                return -1  # not negotiated (yet), or not an ssdbpy peer: it may hold anything
            links[s.peer_id] = s
            ids.add(s.peer_id)
        if not ids:
            return -1
        bound = None
        for pid in ids:
            pa = self.peer_acks.get(pid)
            if pa is None:
                return -1
            link = links.get(pid)
            # a peer this node does not pull from sends it nothing: its acks are stable at once
            applied = link.applied_seq() if link is not None else 1 << 64
            stable = pa.settle(applied)
            bound = stable if bound is None else min(bound, stable)
        return -1 if bound is None else bound

    def collect(self) -> int:
        """One collection pass over the tombstone index, in slices; the tombstones deleted."""
        versions = self.db.binlog.versions
        if versions is None:
            return 0
        ts = versions.tombstones
        upto = self.gc_bound()
        seen = (upto, self.db.binlog.max_seq)
        if seen == self._gc_seen:
            return 0  # nothing written and nothing newly acknowledged since the last pass
        before = ts.collected
        engine = self.db.engine
        while True:
            while engine.dirty:  # a connection is between staging and committing: let it finish
                gevent.sleep(0.001)
            if not ts.step(upto, GC_SLICE):
                break
            gevent.sleep(0)
        self._gc_seen = seen
        n = ts.collected - before
        if n:
            log.info("collected %d tombstones (every peer acknowledged seq %d); %d held", n, upto, ts.held)
        return n

    def _collect_loop(self) -> None:
        wait = GC_INTERVAL
        while True:
            gevent.sleep(wait)
            t0 = time.monotonic()
            try:
                self.collect()
            except WriteFailed:
                pass  # LevelDB takes no writes now (the engine logs the episode once)
            except Exception:
                log.exception("tombstone collection failed")
            wait = max(GC_INTERVAL, GC_BACKOFF * (time.monotonic() - t0))
