"""The slave side: one greenlet per ``slaveof``, speaking SSDB 1.9.8's ``sync140``.

Applies every received record with binlog type SYNC (sync links) or MIRROR
(mirror links) so that chains work and mirror pairs do not echo, and stores
its position in the meta db hash ``slave.status.<id>`` (fields ``last_seq``,
``last_key``) exactly where SSDB keeps it.

Differences from SSDB 1.9.8 (docs/compat.md): an OUT_OF_SYNC answer makes the
slave forget its position and re-copy by itself; a sync-type slave that
receives ``copy_begin`` first deletes its old data (logged, so its own slaves
follow); reconnects back off from 1 s to 5 s.

The slave applies records in slices of APPLY_SLICE packets, one batch each,
and lets the server's clients in after every BUSY_SLICE seconds of applying,
so a full-speed copy or stream does not stall the server.

Exactly-once after a crash: the meta db is a separate LevelDB, so a process
killed after the data batch was written but before the position reached the
meta db would re-apply that batch on restart -- harmless for sets and deletes,
but queue pushes and pops are not idempotent (SSDB has this flaw).  So every
data batch also carries a copy of the position (``POSITION_PREFIX + id`` in
the data db, outside every range that is scanned, copied or dumped): it holds
the position the batch ends at and the one the meta db held when the batch
began.  On start-up a meta position equal to that "before" value means the
crash came between the two writes, and the data db's position is used.
"""

from __future__ import annotations

import logging
from functools import partial
import socket as _pysocket
import struct
import time

import gevent
from gevent import socket
from gevent.event import Event

from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.cnum import uint64
from ssdbpy.config.settings import SlaveofSettings
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.replication import converge, group, wire
from ssdbpy.replication.apply import APPLY
from ssdbpy.replication.states import Host, LinkState
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.engine import BIG_VALUE

log = logging.getLogger("ssdbpy.repl.slave")

CONNECT_TIMEOUT = 5.0
PROBE_TIMEOUT = 3.0  # s to wait for the answer to a convergent offer
MAX_BACKOFF = 5.0
RECV_SIZE = 64 << 10  # larger reads cost an mmap each
#: packets applied per batch before the slave commits and lets the other greenlets run
APPLY_SLICE = 2000
BUSY_SLICE = 0.02  # s of applying before the clients get a turn
WIPE_SLICE = 10000  # records deleted per batch by the pre-copy wipe
ACK_INTERVAL = 1.0  # s between acks on an aligned link when nothing is applied

#: data-db key prefix of the position copy written with every applied batch (sorts
#: after the binlog ``0x01`` and before every data type, and before ``dump``'s "A")
POSITION_PREFIX = b"\x02ssdbpy.slave.position."
_POS_HDR = struct.Struct("<QQI")  # seq before, seq after, len(key before)

Position = tuple[int, bytes]

#: bytes 8..10 of the header of a COPY record of a kv key: type COPY, cmd KSET, the key's "k"
_COPY_KSET = bytes((bl.COPY, bl.KSET)) + b"k"
#: the same for the SYNC and MIRROR records of a kv key
_STREAM_KSET = (bytes((bl.SYNC, bl.KSET)) + b"k", bytes((bl.MIRROR, bl.KSET)) + b"k")
_LE64 = struct.Struct("<Q")
#: bytes 8..9 of the header of a BULK record (ssdbpy masters, replication/wire.py)
_COPY_BULK = bytes((bl.COPY, wire.BULK))


def encode_position(before: Position, after: Position) -> bytes:
    return _POS_HDR.pack(before[0], after[0], len(before[1])) + before[1] + after[1]


def decode_position(raw: bytes) -> tuple[Position, Position] | None:
    if len(raw) < _POS_HDR.size:
        return None
    seq0, seq1, n = _POS_HDR.unpack_from(raw)
    keys_ = raw[_POS_HDR.size :]
    if n > len(keys_):
        return None
    return (seq0, keys_[:n]), (seq1, keys_[n:])


class Reconnect(Exception):
    pass


class Slave:
    def __init__(self, repl: Host, cfg: SlaveofSettings, last_seq: int | None = None, last_key: bytes | None = None) -> None:
        self.repl = repl
        self.db = repl.db
        self.cfg = cfg
        self.status = LinkState.DISCONNECTED
        self.copy_count = 0
        self.sync_count = 0
        self._status_key = b"slave.status." + cfg.id.encode()
        #: a group link (made by Redis's SLAVEOF, remembered in the meta db): it offers an aligned
        #: link; other links (ssdb.conf, SSDB's slaveof) speak plain sync140 as before
        self._group_key = group.GROUP_LINK_PREFIX + cfg.id.encode()
        self.group = self.db.meta.get(self._group_key) is not None
        self._position_key = POSITION_PREFIX + cfg.id.encode()
        self._unsettled = False  # a batch started by _save(wait=False) is not yet written
        self._write_error: BaseException | None = None  # ... and it failed
        self.last_seq, self.last_key = self._load()
        #: the position the meta db holds
        self._persisted: Position = (self.last_seq, self.last_key)
        if last_seq is not None or last_key is not None:
            self.last_seq = last_seq or 0
            self.last_key = last_key or b""
            self._save()
        self._greenlet: gevent.Greenlet | None = None
        self._sock = None
        self.btype = bl.MIRROR if cfg.mirror else bl.SYNC
        self._wipe_needed = False
        self._busy_since = time.monotonic()
        #: the master's node id once it accepted a convergent offer (this process), else None
        self.peer_id: int | None = None
        #: the current session streams convergent records
        self.convergent = False
        #: the master said it reads acks on convergent links (converge.ACKS)
        self.peer_reads_acks = False
        #: why the link last went down (shown by info while it is not streaming)
        self.last_error = ""
        #: the current session is an aligned sync link (docs/replication.md, "Replication groups")
        self.aligned = False
        #: the current session acknowledges applied positions (an aligned or identified link)
        self.acks = False
        self._master_history: str | None = None
        self._copying = False  # between copy_begin and copy_end
        self._acked = -1  # the last position acknowledged on this session
        self._ack_greenlet: gevent.Greenlet | None = None
        self._handoff_seq: int | None = None  # the master's HANDOFF record, once applied
        self._handoff_done = Event()
        #: monotonic time of the last byte from the master, and since when the link is down
        self.last_io: float | None = None
        self.down_since = time.monotonic()

    # --- position ---------------------------------------------------------------
    def _load(self) -> Position:
        meta = self.db.meta
        seq = meta.get(keys.encode_hash(self._status_key, b"last_seq"))
        key = meta.get(keys.encode_hash(self._status_key, b"last_key"))
        stored: Position = ((uint64(seq) if seq else 0), (key or b""))
        raw = self.db.engine.get(self._position_key)
        copy = decode_position(raw) if raw is not None else None
        if copy is not None and stored != copy[1] and stored == copy[0]:
            # killed between the data batch and the meta write: the batch is applied
            log.info("[%s] position %d %r from the data db (the meta db missed the last batch)",
                     self.cfg.id, copy[1][0], copy[1][1])
            return copy[1]
        return stored

    def _stage_position(self) -> None:
        """Stage the current position in the data db, in the batch of the records it covers."""
        self.db.engine.put(self._position_key,
                           encode_position(self._persisted, (self.last_seq, self.last_key)))

    def _persist(self, pos: Position | None = None) -> None:
        """Write the position (default: the current one) to the meta db, after the data batch
        that reached it."""
        seq, key = pos if pos is not None else (self.last_seq, self.last_key)
        meta = self.db.meta
        meta.put(keys.encode_hash(self._status_key, b"last_key"), key)
        meta.put(keys.encode_hash(self._status_key, b"last_seq"), str(seq).encode())
        meta.put(keys.encode_hsize(self._status_key), keys.pack_i64le(2))
        meta.commit()
        self._persisted = (seq, key)

    def _save(self, wait: bool = True) -> None:
        """Commit the staged records with the position reached, in one batch, then persist the
        position to the meta db.

        With ``wait`` False (a plain link: nothing acknowledges positions to the master) the
        batch is written by the server's commit thread while this link goes on parsing and
        staging the next records, and the position reaches the meta db once the batch is in
        LevelDB.  At most one such batch is unsettled: the next commit first waits for it
        (``_settle``), so the position staged with a batch always names, as "before", the
        one the meta db holds (see the module docstring).
        """
        self._settle()
        self._stage_position()
        group = getattr(self.repl, "group_commit", None)
        if wait or group is None:
            self.db.commit()
            self._persist()
            return
        self._unsettled = True
        group.commit_now(partial(self._written, (self.last_seq, self.last_key)))

    def _written(self, pos: Position, error: BaseException | None) -> None:
        """The batch committed by ``_save(wait=False)`` is in LevelDB (``error`` None) or failed."""
        self._unsettled = False
        if error is None:
            self._persist(pos)
        else:
            self._write_error = error

    def _settle(self) -> None:
        """Wait for the batch ``_save(wait=False)`` started and its position in the meta db.

        Blocks the event loop (no other greenlet may commit the records this link has staged
        meanwhile without their position).  If the batch failed, the link goes back to the
        position in the meta db and reconnects (the engine discarded every later write).
        """
        if self._unsettled:
            self.repl.group_commit.drain()
        error, self._write_error = self._write_error, None
        if error is not None:
            self.last_seq, self.last_key = self._persisted
            raise Reconnect(f"writing the replicated records failed: {error}")

    def applied_seq(self) -> int | None:
        """The master position applied and committed, while a convergent link streams (not in a
        copy); else None."""
        if self.convergent and self.status == LinkState.SYNC and not self.last_key:
            return self.last_seq
        return None

    def _peer_lines(self) -> str:
        """A mirror link of a versioned node: what the peer acknowledged of this node's binlog
        (docs/replication.md, "Acks on convergent links") and the tombstones held here."""
        peer_lag = getattr(self.repl, "peer_lag", None)
        if not self.cfg.mirror or self.db.binlog.versions is None or peer_lag is None:
            return ""
        acked, lag_seq, lag_ms = peer_lag(self.peer_id)
        return (f"\n    peer_acked : {acked}\n    peer_lag   : {lag_seq}\n    peer_lag_ms: {lag_ms}"
                f"\n    tombstones : {self.repl.tombstones_held()}")

    def info_block(self) -> bytes:
        return (
            f"slaveof {self.cfg.host}:{self.cfg.port}\n"
            f"    id         : {self.cfg.id}\n"
            f"    type       : {self.cfg.type}\n"
            f"    status     : {self.status}\n"
            f"    last_seq   : {self.last_seq}\n"
            f"    copy_count : {self.copy_count}\n"
            f"    sync_count : {self.sync_count}"
            + ("\n    mode       : convergent" if self.convergent else "")
            + self._peer_lines()
            + (f"\n    last_error : {self.last_error}" if self.last_error and self.status != LinkState.SYNC else "")
        ).encode()

    def handoff(self) -> bool:
        """Before a promotion: ask the master for its last records (it refuses writes from then on)
        and wait until they are applied; False if the link is not up or the master did not answer."""
        sock = self._sock
        if not self.aligned or sock is None or self.status != LinkState.SYNC:
            return False
        self._handoff_seq = None
        self._handoff_done.clear()
        try:
            sock.sendall(encode_ssdb([group.HANDOFF]))
        except OSError:
            return False
        if not self._handoff_done.wait(group.HANDOFF_TIMEOUT):
            log.warning("[%s] the master did not hand off within %.0f s", self.cfg.id, group.HANDOFF_TIMEOUT)
            return False
        log.info("[%s] handoff: the master's records up to %d are applied", self.cfg.id, self._handoff_seq)
        return True

    def make_group_link(self) -> None:
        """Offer aligned links from now on, also after a restart (the link is in ssdb.conf then)."""
        self.group = True
        self.db.meta.put(self._group_key, b"1")
        self.db.meta.commit()

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)  # may run from an event-loop callback (EXEC)
            self._greenlet = None
        if self._unsettled:
            # its last position reaches the meta db before a new link with this id reads it
            self.repl.group_commit.drain()
        self._close()
        self.status = LinkState.DISCONNECTED

    def _close(self) -> None:
        if self._ack_greenlet is not None:
            self._ack_greenlet.kill(block=False)
            self._ack_greenlet = None
        if self.down_since is None:
            self.down_since = time.monotonic()
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def _loop(self) -> None:
        backoff = 1.0
        while True:
            started = time.monotonic()
            try:
                self._session()
                backoff = 1.0
            except Reconnect as exc:
                self.last_error = str(exc)
                log.info("[%s] %s, reconnect...", self.cfg.id, exc)
                backoff = 1.0
                if self.peer_id is not None and not self.convergent:
                    self._close()
                    continue  # switching to convergent mode: at once
            except (OSError, ConnectionError, _pysocket.timeout) as exc:
                self.last_error = f"link to {self.cfg.host}:{self.cfg.port} failed: {exc or type(exc).__name__}"
                log.info("[%s] %s", self.cfg.id, self.last_error)
            except Exception as exc:
                self.last_error = f"replication error: {exc!r}"
                log.exception("[%s] replication error", self.cfg.id)
            self._close()
            self.status = LinkState.DISCONNECTED
            if self.last_io is not None and self.last_io >= started:
                backoff = 1.0  # the link worked: the master restarted or dropped it, retry soon
            gevent.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _session(self) -> None:
        cfg = self.cfg
        self._settle()  # the position of the last session's last batch is the one to ask for
        log.info("[%s] connecting to master at %s:%d...", cfg.id, cfg.host, cfg.port)
        sock = socket.create_connection((cfg.host, cfg.port), timeout=CONNECT_TIMEOUT)
        self._sock = sock
        sock.setsockopt(_pysocket.IPPROTO_TCP, _pysocket.TCP_NODELAY, 1)
        sock.setsockopt(_pysocket.SOL_SOCKET, _pysocket.SO_KEEPALIVE, 1)
        self.status = LinkState.INIT
        reader = PacketReader()
        sock.settimeout(cfg.recv_timeout)
        if cfg.auth:
            sock.sendall(encode_ssdb([b"auth", cfg.auth.encode()]))
            reply = self._read_one(sock, reader)
            if not reply or reply[0] != b"ok":
                gevent.sleep(1)
                raise Reconnect("auth failed: " + (" ".join(b.decode("utf-8", "replace") for b in reply)
                                                    if reply else "the master closed the link"))
        self.convergent = False
        self.aligned = self.acks = False
        self._acked = -1
        history = getattr(self.repl, "history", None)
        offer = self._probe_group() if not cfg.mirror and history is not None else None
        if offer is not None and self.group:
            self.aligned = self.acks = True
            if not self.last_key:
                self.last_seq = self.db.binlog.max_seq  # aligned: the binlog is numbered as the group's
        elif offer is not None and group.IDENTIFIED in offer[4:]:
            self.acks = True
        bulk = self.acks and offer is not None and group.BULK in offer[4:]
        request = [b"sync140", str(self.last_seq).encode(), self.last_key, b"mirror" if cfg.mirror else b"sync"]
        listen = str(getattr(self.repl, "listen_port", 0)).encode()
        if self.aligned:
            request += [group.MARK, history.id.encode(), listen, cfg.id.encode(), history.id2.encode(),
                        str(history.end2).encode()]
        elif self.acks:
            request += [group.IDENTIFIED, listen, cfg.id.encode()]
        if bulk:
            request.append(group.BULK)
        versions = self.db.binlog.versions
        if cfg.mirror and versions is not None:
            if self.peer_id is not None:
                # known to be an ssdbpy peer: offer on this link, then the extended sync140
                sock.sendall(encode_ssdb(self._offer()))
                reply = self._read_one(sock, reader)
                if self._accepted(reply):
                    self.convergent = True
                    request.append(str(versions.node_id).encode())
                else:
                    self.peer_id = None
            sock.sendall(encode_ssdb(request))
            if not self.convergent and self._probe():
                # an ssdbpy master that versions its writes: start over in convergent mode
                raise Reconnect("the master offers convergent mirroring")
        else:
            sock.sendall(encode_ssdb(request))
        log.info("[%s] sync140 from seq %d key %r%s", cfg.id, self.last_seq, self.last_key,
                 " (convergent)" if self.convergent else " (aligned)" if self.aligned
                 else " (identified)" if self.acks else "")
        if self.acks or (self.convergent and self.peer_reads_acks):
            self._ack_greenlet = gevent.spawn(self._ack_loop, sock)
        while True:
            try:
                data = sock.recv(RECV_SIZE)
            except _pysocket.timeout:
                raise Reconnect("the master hasn't responded for a while") from None
            if not data:
                raise Reconnect("master closed the link")
            self.last_io = time.monotonic()
            reader.feed(data)
            while self._process_all(reader, APPLY_SLICE):
                self._let_clients_in()
            self._let_clients_in()

    def _ask_aside(self, request: list[bytes], what: str) -> list[bytes] | None:
        """Send ``request`` on a short side connection to the master (after ``auth`` if set) and
        return its reply; None if it could not be asked or did not answer within PROBE_TIMEOUT."""
        cfg = self.cfg
        try:
            with socket.create_connection((cfg.host, cfg.port), timeout=CONNECT_TIMEOUT) as probe:
                probe.settimeout(PROBE_TIMEOUT)
                reader = PacketReader()
                if cfg.auth:
                    probe.sendall(encode_ssdb([b"auth", cfg.auth.encode()]))
                    self._read_one(probe, reader)
                probe.sendall(encode_ssdb(request))
                return self._read_one(probe, reader)
        except (OSError, _pysocket.timeout) as exc:
            log.info("[%s] %s probe: %s", cfg.id, what, exc)
            return None

    def _probe_group(self) -> list[bytes] | None:
        """Ask the master, on a side connection, whether it takes aligned sync links (``ssdbpy_replica``);
        its answer if it does (an answer ending with ``ssdbpy1id`` takes identified links too).

        An SSDB master answers ``client_error``: the link stays plain sync140.
        """
        reply = self._ask_aside([group.OFFER, group.PROTO], "group")
        if reply and len(reply) >= 2 and reply[0] == b"ok" and len(reply[1]) == 40:
            self._master_history = reply[1].decode("latin-1")
            return reply
        return None

    def _ack(self, sock=None) -> None:
        """Tell the master the position applied and committed (aligned, identified and convergent
        links); a convergent ack also names this node's binlog end (replication/peers.py)."""
        sock = sock or self._sock
        if sock is None or self._copying or self.last_key:
            return
        seq = self.last_seq
        if self.acks:
            pkt = [group.ACK, str(seq).encode()]
        elif self.convergent and self.peer_reads_acks and self.status == LinkState.SYNC:
            pkt = [group.ACK, str(seq).encode(), str(self.db.binlog.max_seq).encode()]
        else:
            return
        try:
            sock.sendall(encode_ssdb(pkt))
            self._acked = seq
        except OSError:
            pass

    def _ack_loop(self, sock) -> None:
        while True:
            gevent.sleep(ACK_INTERVAL)
            self._ack(sock)

    def _offer(self) -> list[bytes]:
        return [converge.OFFER, str(self.db.binlog.versions.node_id).encode(), converge.PROTO]

    def _accepted(self, reply: list[bytes] | None) -> bool:
        """The master accepted the convergent offer (remembers its node id)."""
        if reply and len(reply) >= 3 and reply[0] == b"ok" and reply[1].isdigit() and reply[2] == converge.PROTO:
            peer_id = int(reply[1])
            if self.peer_id is not None and self.peer_id != peer_id:
                # another node now answers at this peer's address (its data directory was
                # replaced): the old node's acks no longer hold tombstones back
                forget = getattr(self.repl, "forget_peer", None)
                if forget is not None:
                    forget(self.peer_id)
            self.peer_id = peer_id
            self.peer_reads_acks = converge.ACKS in reply[3:]
            return True
        return False

    def _probe(self) -> bool:
        """Ask the master, on a second connection, whether it takes convergent links.

        The sync link's first request stays SSDB's plain ``sync140`` (an SSDB master,
        or anything that speaks only sync140, sees nothing new on it); its records
        wait in the socket until the answer.  A real SSDB master answers the offer
        with ``client_error``; no answer within PROBE_TIMEOUT counts as no.
        """
        return self._accepted(self._ask_aside(self._offer(), "convergent"))

    def _let_clients_in(self) -> None:
        """Give the server's clients a turn after BUSY_SLICE seconds of applying.

        A recv that finds data waiting does not yield, and gevent.sleep(0) runs the
        ready greenlets without polling sockets: a master streaming faster than
        we apply would make every client of this server wait for the whole copy.
        A short timer makes the hub poll for IO; it is taken only after a busy
        stretch, so a slow stream costs nothing.
        """
        now = time.monotonic()
        if now - self._busy_since >= BUSY_SLICE:
            gevent.sleep(0.0005)
            self._busy_since = time.monotonic()

    def _process_all(self, reader: PacketReader, limit: int | None = None) -> bool:
        """Apply the complete packets (at most ``limit``); commit them in one batch with the
        position reached.  True if it stopped at the limit with packets left."""
        db = self.db
        applied = False
        want = limit if limit is not None else 1 << 62
        self.repl.write_gate.wait()  # flushdb or a long atomic write runs: apply after it
        try:
            batch = reader.next_batch(want)
            # plain kv COPY records in a row go to the data layer in bulk (versioned state
            # takes the per-record path: every write of a versioned node needs its version)
            bulk = not self.convergent and db.binlog.versions is None
            i, n = 0, len(batch)
            while i < n:
                if bulk:
                    j = self._apply_kv_copies(batch, i)
                    if j > i:
                        applied = True
                        i = j
                        continue
                pkt = batch[i]
                i += 1
                if len(pkt) == 2 and pkt[0][8:10] == _COPY_BULK and len(pkt[0]) == 10:
                    self._apply_bulk(pkt, bulk)
                    applied = True
                    continue
                sp = db.savepoint()
                try:
                    changed = self._process(pkt)
                except BaseException:
                    db.rollback(sp)  # nothing of a half-applied record is committed
                    raise
                if changed:
                    applied = True
                if self._wipe_needed:
                    # commit up to copy_begin (the position is now 0, "") before the wipe,
                    # which commits and yields as it goes
                    self._wipe_needed = False
                    self._save()
                    applied = False
                    self._wipe()
            return len(batch) >= want or reader.failed
        finally:
            if applied:
                # the position reached, in the same batch as the records it covers; a link that
                # acknowledges positions (not during a copy: see _ack) or hands off waits for it
                copying = self._copying or bool(self.last_key)
                self._save(wait=self.convergent or self._handoff_seq is not None or (self.acks and not copying))
                if (self.acks or self.convergent) and self.last_seq != self._acked:
                    self._ack()
            if self.status == LinkState.SYNC:
                self.down_since = None
            if self._handoff_seq is not None:
                self._handoff_done.set()  # the records before it are committed

    def _apply_kv_copies(self, batch: list[list[bytes]], i: int) -> int:
        """Apply the run of plain kv records of one type (KSET of a ``k`` key, with a value; COPY
        records, or SYNC/MIRROR records on a link that is not aligned) starting at ``batch[i]`` as
        the per-record path would (``_process`` + ``_apply``), in bulk; the index after the run
        (``i`` when ``batch[i]`` is not one)."""
        first = batch[i]
        if len(first) != 2:
            return i
        prefix = first[0][8:11]
        if prefix != _COPY_KSET and (prefix not in _STREAM_KSET or self.aligned):
            return i
        ks: list[bytes] = []
        vs: list[bytes] = []
        n = len(batch)
        j = i
        while j < n:
            pkt = batch[j]
            if len(pkt) != 2:
                break
            h = pkt[0]
            if h[8:11] != prefix:
                break
            ks.append(h[10:])
            vs.append(pkt[1])
            j += 1
        last = _LE64.unpack_from(batch[j - 1][0])[0]
        if prefix == _COPY_KSET:
            self._stage_kv_copies(ks, vs, last)
        else:
            self._stage_kv(ks, vs)
            self.status = LinkState.SYNC
            self.sync_count += j - i
            self.last_seq = last
        return j

    def _apply_bulk(self, pkt: list[bytes], fast: bool) -> None:
        """Apply a BULK record: each of its records as the COPY record of that key (``_process``),
        runs of kv records in bulk when ``fast``."""
        pairs = wire.bulk_pairs(pkt[1])
        if pairs is None:
            log.warning("[%s] invalid binlog!", self.cfg.id)
            return
        seq = _LE64.unpack_from(pkt[0])[0]
        ks = pairs[0::2]
        if fast and ks and min(ks) >= b"k" and max(ks) < b"l":  # kv records only (every key "k...")
            self._stage_kv_copies(ks, pairs[1::2], seq)
            return
        db = self.db
        cmds = wire.COPY_CMDS
        kvk: list[bytes] = []
        kvv: list[bytes] = []
        it = iter(pairs)
        for k in it:
            v = next(it)
            if fast and k[:1] == b"k":
                kvk.append(k)
                kvv.append(v)
                continue
            if kvk:
                self._stage_kv_copies(kvk, kvv, seq)
                kvk, kvv = [], []
            cmd = cmds.get(k[0]) if k else None
            if cmd is None:
                log.warning("[%s] invalid binlog!", self.cfg.id)
                continue
            sp = db.savepoint()
            try:
                self._process([bl.encode_header(seq, bl.COPY, cmd, k), v])
            except BaseException:
                db.rollback(sp)
                raise
        if kvk:
            self._stage_kv_copies(kvk, kvv, seq)

    def _stage_kv_copies(self, ks: list[bytes], vs: list[bytes], seq: int) -> None:
        """Stage kv COPY records (encoded keys ``ks``, values ``vs``) at ``seq``, as ``_apply``
        stages each."""
        self._stage_kv(ks, vs)
        self.status = LinkState.COPY
        self.copy_count += len(ks)
        self.last_seq = seq
        self.last_key = ks[-1]

    def _stage_kv(self, ks: list[bytes], vs: list[bytes]) -> None:
        """Stage kv sets (encoded keys ``ks``, values ``vs``) and their binlog records, as
        ``_apply`` stages each record's."""
        db = self.db
        db.engine.put_many(ks, vs)
        if db.binlog.enabled and not self.aligned:  # an aligned copy is not logged (_apply_unlogged)
            binlog = db.binlog
            prev_type = binlog.type
            binlog.type = self.btype
            try:
                binlog.add_many(bl.KSET, ks)
            finally:
                binlog.type = prev_type
        if max(map(len, vs)) >= BIG_VALUE:
            for k, v in zip(ks, vs):
                if len(v) >= BIG_VALUE:
                    db.engine.note_big(k)

    @staticmethod
    def _read_one(sock, reader: PacketReader) -> list[bytes] | None:
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
                if self.aligned and not self._copying and not self.last_key:
                    while self.db.binlog.enabled and self.db.binlog.last_seq < rec.seq:
                        group.placeholder(self.db)
                self.last_seq = rec.seq
                return True
            return False
        if t == bl.CTRL:
            if rec.key == group.HANDOFF_KEY and self.aligned:
                self._handoff_seq = rec.seq
                return False
            if rec.key == wire.OUT_OF_SYNC_KEY:
                # heal: forget the position and ask for a fresh full copy
                log.warning("[%s] OUT_OF_SYNC at seq %d: starting over with a full copy", self.cfg.id, rec.seq)
                self.status = LinkState.OUT_OF_SYNC
                self.last_seq = 0
                self.last_key = b""
                self._save()
                raise Reconnect("out of sync")
            return False
        if t == bl.COPY:
            if rec.cmd == bl.BEGIN:
                self.status = LinkState.COPY
                log.info("[%s] copy begin", self.cfg.id)
                # the old position is void: if the link breaks before the first item, start over
                self.last_seq = 0
                self.last_key = b""
                self._wipe_needed = not self.cfg.mirror
                self._copying = self.acks  # no ack until copy_end
                if self.aligned:
                    self.repl.history.replace(self._master_history)
                return True
            if rec.cmd == bl.END:
                log.info("[%s] copy end at seq %d (%d records)", self.cfg.id, rec.seq, self.copy_count)
                self.status = LinkState.SYNC
                if self.aligned:
                    if self._copying or self.last_key:
                        # the binlog goes on from the copy's seq; this node's slaves start over
                        group.restart_binlog(self.db, rec.seq, self.repl.history)
                        self._drop_downstream(aligned_only=False)
                    elif self.repl.history.adopt(self._master_history, rec.seq):
                        self._drop_downstream(aligned_only=True)
                self._copying = False
                self.last_key = b""
                return True
            self.status = LinkState.COPY
            self.copy_count += 1
            self._apply_unlogged(rec, pkt) if self.aligned else self._apply(rec, pkt)
            self.last_seq = rec.seq
            self.last_key = rec.key
            return True
        if t in (bl.SYNC, bl.MIRROR):
            self.status = LinkState.SYNC
            self.sync_count += 1
            if not self.aligned:
                self._apply(rec, pkt)
            elif self._copying or self.last_key:
                self._apply_unlogged(rec, pkt)
            else:
                self._apply_aligned(rec, pkt)
            self.last_seq = rec.seq
            return True
        return False

    def _apply(self, rec: bl.Record, pkt: list[bytes]) -> None:
        value = pkt[1] if len(pkt) > 1 else None
        if self.convergent and converge.carries_state(rec.cmd, len(pkt)):
            binlog = self.db.binlog
            prev_type = binlog.type
            binlog.type = self.btype
            try:
                converge.apply_packet(self.db, rec, pkt)
            finally:
                binlog.type = prev_type
            return
        if rec.cmd in wire.SET_LIKE and value is None:
            return
        fn = APPLY.get(rec.cmd)
        if fn is None:
            log.warning("[%s] unknown binlog cmd %d", self.cfg.id, rec.cmd)
            return
        # records are stamped with this link's type (not db.origin(): this runs per record)
        binlog = self.db.binlog
        prev_type = binlog.type
        binlog.type = self.btype
        try:
            fn(self.db, rec, value)
        finally:
            binlog.type = prev_type

    def _drop_downstream(self, aligned_only: bool) -> None:
        """This node's history changed: its own aligned slaves reconnect and take the new one (their
        old position stays valid: the previous history ends where they are).  After a full copy
        every slave of this node reconnects: the data it followed is gone."""
        drop = getattr(self.repl, "drop_sessions", None)
        if drop is not None:
            drop(aligned_only=aligned_only)

    @property
    def receiving_copy(self) -> bool:
        """A full copy on a group link is under way, also while its link is down (its records are
        not logged; this node's binlog restarts at its end)."""
        return self.group and not self.cfg.mirror and (self._copying or bool(self.last_key))

    def _apply_unlogged(self, rec: bl.Record, pkt: list[bytes]) -> None:
        """Apply without a binlog record (an aligned copy: the binlog restarts at its end)."""
        binlog = self.db.binlog
        enabled, binlog.enabled = binlog.enabled, False
        try:
            self._apply(rec, pkt)
        finally:
            binlog.enabled = enabled

    def _apply_aligned(self, rec: bl.Record, pkt: list[bytes]) -> None:
        """Apply and log the record under the master's sequence number."""
        db = self.db
        if group.align_before(db, rec.seq):
            self._apply(rec, pkt)
            if group.align_after(db, rec.seq):
                return
        # this node wrote records of its own: its positions no longer mean the group's
        log.warning("[%s] binlog at %d is past the master's record %d: a new history", self.cfg.id,
                    db.binlog.last_seq, rec.seq)
        self.aligned = False
        self.repl.history.replace(group.new_id())
        self._drop_downstream(aligned_only=True)

    def _wipe(self) -> None:
        """Delete every local data record before a full copy (logged, so chained slaves follow).

        Commits every WIPE_SLICE deletions (and after every hash/zset/queue) and
        lets clients in between, so a big data set does not stall the server.
        """
        db = self.db
        if self.aligned:  # the binlog restarts at the copy's end: nothing to log
            binlog = db.binlog
            enabled, binlog.enabled = binlog.enabled, False
            try:
                self._wipe_all()
            finally:
                binlog.enabled = enabled
        else:
            self._wipe_all()

    def _wipe_all(self) -> None:
        db = self.db
        n = 0
        kv_keys = [k[1:] for k in db.engine.iterate(b"k", b"l", keys_only=True)]
        for start in range(0, len(kv_keys), WIPE_SLICE):
            with db.origin(self.btype):
                for key in kv_keys[start : start + WIPE_SLICE]:
                    db.kv.delete(key)
            db.commit()
            self._let_clients_in()
        n += len(kv_keys)
        for kind in (db.hash, db.zset, db.queue):
            for name in kind.list_names(b"", b"", 1 << 62):
                with db.origin(self.btype):
                    n += kind.clear(name)
                db.commit()
                self._let_clients_in()
        if n:
            log.info("[%s] deleted %d old records before the full copy", self.cfg.id, n)
