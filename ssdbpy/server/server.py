"""The network server: a gevent StreamServer serving both protocols on one port."""

from __future__ import annotations

import logging
import os

import gevent
from gevent.event import Event
from gevent.server import StreamServer

import ssdbpy.commands.all  # noqa: F401  (registers every command)
from ssdbpy.commands.context import ServerState
from ssdbpy.commands.sys import load_kv_range
from ssdbpy.db.database import Database
from ssdbpy.errors import StorageError
from ssdbpy.server.background import Background
from ssdbpy.server.commit import GroupCommit
from ssdbpy.server.connection import serve_connection
from ssdbpy.server.pace import GeventWriteGate, Pace
from ssdbpy.server.stats import OpsSampler
from ssdbpy.slowlog import SlowLog

log = logging.getLogger("ssdbpy.server")

BACKLOG = 1024


class Server:
    """Owns the database, the listening socket, the connections and background tasks."""

    def __init__(self, settings) -> None:
        self.settings = settings
        ldb = settings.leveldb
        try:
            self.db = Database.open(
                settings.work_dir,
                binlog=settings.replication.binlog,
                binlog_capacity=settings.replication.binlog_capacity,
                cache_size_mb=ldb.cache_size,
                block_size_kb=ldb.block_size,
                write_buffer_size_mb=ldb.write_buffer_size,
                max_open_files=ldb.max_open_files,
                compression=ldb.compression,
            )
        except StorageError as exc:
            raise StorageError(f"could not open data db: {os.path.join(settings.work_dir, 'data')} ({exc})") from exc
        srv = settings.server
        self.state = ServerState(
            self.db,
            passwords=[p.encode() for p in srv.auth],
            readonly=srv.readonly,
        )
        self.state.output_limit = srv.output_limit
        self.state.settings = settings
        self.state.replica_read_only = srv.replica_read_only
        self.state.replica_priority = srv.replica_priority
        # the links of the config start later (apps.server); the slaveof command refreshes this
        self.state.replica_refuses = srv.replica_read_only and any(
            so.type == "sync" for so in settings.replication.slaveof)
        self.state.conf_path = settings.conf_path
        self.state.slowlog = SlowLog(srv.slowlog_timeout, srv.slowlog_max_len)
        for entry in srv.allow:
            self.state.ipfilter.add_allow(entry)
        for entry in srv.deny:
            self.state.ipfilter.add_deny(entry)
        load_kv_range(self.state)
        self.state.run_blocking = self._run_blocking
        self.db.engine.read_off_loop = self._read_off_loop
        self.background = Background(self.db)
        self.group = GroupCommit(self.db)
        self.state.pause = Pace(self.group)
        self.state.write_gate = GeventWriteGate()
        self.sampler = OpsSampler(self.state)
        self._server: StreamServer | None = None
        self._stopped = Event()
        self._closed = False
        #: called first by stop() (e.g. to stop replication links)
        self.on_stop: list = []
        self.address: tuple[str, int] = (srv.ip, srv.port)

    @staticmethod
    def _read_off_loop(fn, key):
        """A read of a big value: on a worker thread from a greenlet (LevelDB copies it without the GIL)."""
        if gevent.getcurrent() is gevent.get_hub():
            return fn(key)
        return Server._run_blocking(fn, key)

    @staticmethod
    def _run_blocking(fn, *args):
        return gevent.get_hub().threadpool.apply(fn, args)

    def _handle(self, sock, address) -> None:
        serve_connection(self.state, self.group, sock, address)

    def start(self) -> None:
        srv = self.settings.server
        self._server = StreamServer((srv.ip, srv.port), self._handle, backlog=BACKLOG)
        self._server.init_socket()
        self.address = self._server.address[:2]
        self.state.tcp_port = self.address[1]
        self._server.start()
        self.group.start()
        self.background.start()
        self.sampler.start()

    def serve_forever(self) -> None:
        if self._server is None:
            self.start()
        self._stopped.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end the connections, flush and close LevelDB."""
        if self._closed:
            return
        self._closed = True
        for hook in self.on_stop:
            try:
                hook()
            except Exception:
                log.exception("stop hook failed")
        if self._server is not None:
            self._server.close()  # stop accepting
            # connections are idle between requests, except long ones (scans, clears, flushdb)
            # that yield between slices: killed there, they stop after their last committed slice
            self._server.stop(timeout=min(timeout, 0.5))
        self.sampler.stop()
        self.background.stop()
        self.group.stop()
        self.db.close()
        self._stopped.set()
