"""The slave side: one greenlet per ``slaveof``, speaking SSDB 1.9.8's ``sync140``.

Applies every received record with binlog type SYNC (sync links) or MIRROR
(mirror links) so that chains work and mirror pairs do not echo, and stores
its position in the meta db hash ``slave.status.<id>`` (fields ``last_seq``,
``last_key``) exactly where SSDB keeps it.

Differences from SSDB 1.9.8 (docs/compat.md): an OUT_OF_SYNC answer makes the
slave forget its position and re-copy by itself; a sync-type slave that
receives ``copy_begin`` first deletes its old data (logged, so its own slaves
follow); reconnects back off from 1 s to 5 s.
"""

from __future__ import annotations

import logging
import socket as _pysocket

import gevent
from gevent import socket

from ssdbpy.client import ReplyReader
from ssdbpy.cnum import int64, uint64
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.replication import wire
from ssdbpy.replication.manager import SlaveConfig
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

log = logging.getLogger("ssdbpy.repl.slave")

CONNECT_TIMEOUT = 5.0
MAX_BACKOFF = 5.0


class Reconnect(Exception):
    pass


class Slave:
    def __init__(self, repl, cfg: SlaveConfig, last_seq: int | None = None, last_key: bytes | None = None) -> None:
        self.repl = repl
        self.db = repl.db
        self.cfg = cfg
        self.status = "DISCONNECTED"
        self.copy_count = 0
        self.sync_count = 0
        self._status_key = b"slave.status." + cfg.id.encode()
        self.last_seq, self.last_key = self._load()
        if last_seq is not None or last_key is not None:
            self.last_seq = last_seq or 0
            self.last_key = last_key or b""
            self._persist()
        self._greenlet: gevent.Greenlet | None = None
        self._sock = None
        self.btype = bl.MIRROR if cfg.mirror else bl.SYNC

    # --- position ---------------------------------------------------------------
    def _load(self) -> tuple[int, bytes]:
        meta = self.db.meta
        seq = meta.get(keys.encode_hash(self._status_key, b"last_seq"))
        key = meta.get(keys.encode_hash(self._status_key, b"last_key"))
        return (uint64(seq) if seq else 0), (key or b"")

    def _persist(self) -> None:
        meta = self.db.meta
        meta.put(keys.encode_hash(self._status_key, b"last_key"), self.last_key)
        meta.put(keys.encode_hash(self._status_key, b"last_seq"), str(self.last_seq).encode())
        meta.put(keys.encode_hsize(self._status_key), keys.pack_i64le(2))
        meta.commit()

    def info_block(self) -> bytes:
        return (
            f"slaveof {self.cfg.host}:{self.cfg.port}\n"
            f"    id         : {self.cfg.id}\n"
            f"    type       : {self.cfg.type}\n"
            f"    status     : {self.status}\n"
            f"    last_seq   : {self.last_seq}\n"
            f"    copy_count : {self.copy_count}\n"
            f"    sync_count : {self.sync_count}"
        ).encode()

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(timeout=2)
            self._greenlet = None
        self._close()
        self.status = "DISCONNECTED"

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def _loop(self) -> None:
        backoff = 1.0
        while True:
            try:
                self._session()
                backoff = 1.0
            except Reconnect as exc:
                log.info("[%s] %s, reconnect...", self.cfg.id, exc)
                backoff = 1.0
            except (OSError, ConnectionError, _pysocket.timeout) as exc:
                log.info("[%s] link to %s:%d failed: %s", self.cfg.id, self.cfg.host, self.cfg.port, exc)
            except Exception:
                log.exception("[%s] replication error", self.cfg.id)
            self._close()
            self.status = "DISCONNECTED"
            gevent.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _session(self) -> None:
        cfg = self.cfg
        log.info("[%s] connecting to master at %s:%d...", cfg.id, cfg.host, cfg.port)
        sock = socket.create_connection((cfg.host, cfg.port), timeout=CONNECT_TIMEOUT)
        self._sock = sock
        sock.setsockopt(_pysocket.IPPROTO_TCP, _pysocket.TCP_NODELAY, 1)
        sock.setsockopt(_pysocket.SOL_SOCKET, _pysocket.SO_KEEPALIVE, 1)
        self.status = "INIT"
        reader = ReplyReader()
        sock.settimeout(cfg.recv_timeout)
        if cfg.auth:
            sock.sendall(encode_ssdb([b"auth", cfg.auth.encode()]))
            reply = self._read_one(sock, reader)
            if not reply or reply[0] != b"ok":
                gevent.sleep(1)
                raise Reconnect(f"auth failed: {reply!r}")
        sock.sendall(encode_ssdb([b"sync140", str(self.last_seq).encode(), self.last_key,
                                  b"mirror" if cfg.mirror else b"sync"]))
        log.info("[%s] sync140 from seq %d key %r", cfg.id, self.last_seq, self.last_key)
        while True:
            try:
                data = sock.recv(1 << 20)
            except _pysocket.timeout:
                raise Reconnect("the master hasn't responded for a while") from None
            if not data:
                raise Reconnect("master closed the link")
            reader.feed(data)
            applied = False
            while True:
                pkt = reader.next()
                if pkt is None:
                    break
                applied = self._process(pkt) or applied
            if applied:
                self.db.commit()
                self._persist()

    @staticmethod
    def _read_one(sock, reader: ReplyReader) -> list[bytes] | None:
        while True:
            pkt = reader.next()
            if pkt is not None:
                return pkt
            data = sock.recv(65536)
            if not data:
                return None
            reader.feed(data)

    # --- records ------------------------------------------------------------------
    def _process(self, pkt: list[bytes]) -> bool:
        """Handle one packet; True if the position changed (commit + persist needed)."""
        if pkt[0] == b"noauth":
            raise Reconnect("master requires auth")
        rec = wire.decode(pkt)
        if rec is None:
            log.warning("[%s] invalid binlog!", self.cfg.id)
            return False
        t = rec.type
        if t == bl.NOOP:
            if rec.seq != self.last_seq:
                self.last_seq = rec.seq
                return True
            return False
        if t == bl.CTRL:
            if rec.key == wire.OUT_OF_SYNC_KEY:
                # heal: forget the position and ask for a fresh full copy
                log.warning("[%s] OUT_OF_SYNC at seq %d: starting over with a full copy", self.cfg.id, rec.seq)
                self.status = "OUT_OF_SYNC"
                self.last_seq = 0
                self.last_key = b""
                self._persist()
                raise Reconnect("out of sync")
            return False
        if t == bl.COPY:
            if rec.cmd == bl.BEGIN:
                self.status = "COPY"
                log.info("[%s] copy begin", self.cfg.id)
                if not self.cfg.mirror:
                    self._wipe()
                return False
            if rec.cmd == bl.END:
                log.info("[%s] copy end at seq %d (%d records)", self.cfg.id, rec.seq, self.copy_count)
                self.status = "SYNC"
                self.last_key = b""
                return True
            self.status = "COPY"
            self.copy_count += 1
            self._apply(rec, pkt)
            self.last_seq = rec.seq
            self.last_key = rec.key
            return True
        if t in (bl.SYNC, bl.MIRROR):
            self.status = "SYNC"
            self.sync_count += 1
            self._apply(rec, pkt)
            self.last_seq = rec.seq
            return True
        return False

    def _apply(self, rec: bl.Record, pkt: list[bytes]) -> None:
        db = self.db
        cmd = rec.cmd
        key = rec.key
        value = pkt[1] if len(pkt) > 1 else None
        if cmd in wire.SET_LIKE and value is None:
            return
        with db.origin(self.btype):
            if cmd == bl.KSET:
                if key[:1] == b"k":
                    db.kv.set(key[1:], value)
            elif cmd == bl.KDEL:
                if key[:1] == b"k":
                    db.kv.delete(key[1:])
            elif cmd in (bl.HSET, bl.HDEL):
                hk = keys.decode_hash(key)
                if hk is None:
                    return
                if cmd == bl.HSET:
                    db.hash.set(hk[0], hk[1], value)
                else:
                    db.hash.delete(hk[0], hk[1])
            elif cmd in (bl.ZSET, bl.ZDEL):
                zk = keys.decode_zset(key)
                if zk is None:
                    return
                if cmd == bl.ZSET:
                    db.zset.set(zk[0], zk[1], int64(value))
                else:
                    db.zset.delete(zk[0], zk[1])
            elif cmd in (bl.QPUSH_BACK, bl.QPUSH_FRONT, bl.QSET):
                qk = keys.decode_qitem(key)
                if qk is None or not (keys.QITEM_MIN_SEQ <= qk[1] < keys.QITEM_MAX_SEQ):
                    return  # e.g. the copied front/back pointer records
                if cmd == bl.QPUSH_BACK:
                    db.queue.push_back(qk[0], value)
                elif cmd == bl.QPUSH_FRONT:
                    db.queue.push_front(qk[0], value)
                else:
                    db.queue.set_by_seq(qk[0], qk[1], value)
            elif cmd == bl.QPOP_FRONT:
                db.queue.pop_front(key)
            elif cmd == bl.QPOP_BACK:
                db.queue.pop_back(key)
            else:
                log.warning("[%s] unknown binlog cmd %d", self.cfg.id, cmd)

    def _wipe(self) -> None:
        """Delete every local data record before a full copy (logged, so chained slaves follow)."""
        db = self.db
        n = 0
        with db.origin(self.btype):
            for k in list(db.engine.iterate(b"k", b"l", keys_only=True)):
                db.kv.delete(k[1:])
                n += 1
            for name in db.hash.list_names(b"", b"", 1 << 62):
                n += db.hash.clear(name)
            for name in db.zset.list_names(b"", b"", 1 << 62):
                n += db.zset.clear(name)
            for name in db.queue.list_names(b"", b"", 1 << 62):
                n += db.queue.clear(name)
        db.commit()
        if n:
            log.info("[%s] deleted %d old records before the full copy", self.cfg.id, n)
