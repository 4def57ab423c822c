"""The master side: the ``sync140`` backend command and one SyncSession per slave.

Wire-compatible with SSDB 1.9.8 (spec/replication.md §3), with these
differences (docs/compat.md):

* The copy phase reads one consistent LevelDB snapshot taken at binlog
  position S; every COPY record and ``copy_end`` carry S and streaming
  continues at S+1.  A resumed copy (``last_key`` given) first streams the
  binlog records after the slave's position for keys it already has, then
  copies the rest from a fresh snapshot.
* A position outside the binlog window (too old, or beyond ``max_seq`` after
  the master's numbering restarted) starts a fresh full copy instead of the
  terminal OUT_OF_SYNC state; so does a gap found while streaming.
* Sessions are woken by commits (no polling); ``sync_speed`` really limits
  the stream; binlog trimming keeps the records a connected slave still needs.
"""

from __future__ import annotations

import logging
import socket as _socket
import time
import gevent
from gevent.event import Event

from ssdbpy.cnum import uint64
from ssdbpy import errors
from ssdbpy.commands.registry import BACKEND, READ_INLINE, Backend, command
from ssdbpy.protocol.ssdb import PacketReader, encode_ssdb
from ssdbpy.replication import converge, group, wire
from ssdbpy.replication.states import Host, LinkState
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.versions import PREFIX as VERSIONS
from ssdbpy.storage.versions import PREFIX_END as VERSIONS_END
from ssdbpy.storage.qindex import PREFIX as QUEUE_INDEX
from ssdbpy.storage.qindex import PREFIX_END as QUEUE_INDEX_END
from ssdbpy.storage.versions import VERSIONED_CMDS

log = logging.getLogger("ssdbpy.repl.master")

HEARTBEAT = 3.0  # s of idleness before a noop
COPY_BATCH = 1000  # keys per copy step
BULK_BYTES = 512 << 10  # at most about this many key and value bytes per BULK record
SEND_BUFFER = 2 << 20  # bytes buffered before a send
SKIP_HEARTBEAT = 1000  # mirror records skipped between heartbeats
_COPY_START = b"h"  # copy phase covers the h.. k.. q.. s.. records
_COPY_STOP = b"t"
_BINLOG_END = b"\x02"


class SyncSession:
    #: set on an aligned link (docs/replication.md, "Replication groups"): the slave's history id
    aligned = False
    slave_history = ""
    slave_history2 = ""  # the slave's previous history, valid up to slave_end2
    slave_end2 = -1
    #: set on an aligned or identified link: the slave acknowledges what it applied; its listening
    #: port and link id; what it acknowledged and when (monotonic)
    acks = False
    listen_port = 0
    slave_id = ""
    acked_seq = -1
    ack_time = 0.0
    #: the slave asked for the handoff: send the HANDOFF record once everything is streamed
    handoff = False
    #: the slave reads BULK copy records (an ssdbpy slave that asked for them)
    bulk = False

    def __init__(self, repl: Host, link, last_seq: int, last_key: bytes, mirror: bool,
                 peer_id: int | None = None) -> None:
        self.repl = repl
        self.db = repl.db
        self.link = link
        self.peer = link.peer
        self.last_seq = last_seq
        self.last_key = last_key
        self.mirror = mirror
        #: the peer's node id on a convergent link (docs/replication.md), else None
        self.peer_id = peer_id
        self.status = LinkState.INIT
        self.wake = Event()
        self.sent_bytes = 0
        #: the records up to this one are handed to the socket (or skipped): :meth:`position`
        self.sent_seq = 0
        self._skipped = 0
        self._told = 0  # the position when the last packet was emitted
        self._out: list[bytes] = []
        self._out_size = 0
        self._rate_t0 = time.monotonic()
        self._credit = 0.0  # bytes that may be sent at once (sync_speed throttle)

    # --- info -------------------------------------------------------------------
    def info_block(self) -> bytes:
        """SSDB's four fields, then (docs/compat.md) the slave's id, address and acked position if it
        acknowledges, and its lag in records and ms (of what it acknowledged, else of what was sent)."""
        text = (
            f"client {self.peer[0]}:{self.peer[1]}\n"
            f"    type     : {'mirror' if self.mirror else 'sync'}\n"
            f"    status   : {self.status}\n"
            f"    last_seq : {self.last_seq}"
            + ("\n    mode     : convergent" if self.peer_id is not None else "")
        )
        lag_seq, lag_ms = self.lag()
        if self.acks:
            ack_ms = int((time.monotonic() - self.ack_time) * 1000) if self.ack_time else -1
            text += (f"\n    slave_id : {self.slave_id}\n    listen   : {self.peer[0]}:{self.listen_port}\n"
                     f"    acked_seq: {self.acked_seq}\n    lag_seq  : {lag_seq}\n    lag_ms   : {lag_ms}\n"
                     f"    ack_ms   : {ack_ms}")
        elif self.peer_id is not None and hasattr(self.repl, "peer_lag"):
            acked, lag_seq, lag_ms = self.repl.peer_lag(self.peer_id)
            text += f"\n    acked_seq: {acked}\n    lag_seq  : {lag_seq}\n    lag_ms   : {lag_ms}"
        else:
            text += f"\n    lag_seq  : {lag_seq}\n    lag_ms   : {lag_ms}"
        return text.encode()

    def position(self) -> int:
        """What the master knows the slave holds: its acked position, else (a slave that does not
        acknowledge) the last record handed to the socket after the copy."""
        if self.acks:
            return max(self.acked_seq, 0)
        if self.peer_id is not None:
            pa = getattr(self.repl, "peer_acks", {}).get(self.peer_id)
            return max(pa.acked_seq, 0) if pa is not None else 0
        return self.sent_seq if not self.last_key and self.status == LinkState.SYNC else 0

    def lag(self) -> tuple[int, int]:
        """Records after :meth:`position` and ms since the first of them was committed."""
        pos = self.position()
        lag_seq = max(self.db.binlog.max_seq - pos, 0)
        times = getattr(self.repl, "commit_times", None)
        return lag_seq, (times.age_ms(pos) if times is not None and lag_seq else 0)

    def _read_acks(self) -> None:
        """Read the slave's ``ssdbpy_ack <seq>`` packets (aligned and identified links), ``ssdbpy_ack
        <seq> <its max_seq>`` (convergent links); EOF ends the session."""
        reader = PacketReader()
        try:
            while True:
                data = self.link.recv()
                if not data:
                    break
                reader.feed(data)
                while (pkt := reader.next()) is not None:
                    if pkt[0] == group.HANDOFF:
                        log.info("slave %s:%d is being promoted: writes refused, last records follow",
                                 self.peer[0], self.listen_port)
                        freeze = getattr(self.repl, "freeze", None)
                        if freeze is not None:
                            freeze()
                        self.handoff = True
                        self.wake.set()
                    elif len(pkt) >= 2 and pkt[0] == group.ACK and pkt[1].isdigit():
                        self.acked_seq = int(pkt[1])
                        self.ack_time = time.monotonic()
                        if self.peer_id is not None:
                            # a convergent peer: its binlog end too (replication/peers.py)
                            noted = getattr(self.repl, "peer_acked", None)
                            if noted is not None and len(pkt) >= 3 and pkt[2].isdigit():
                                noted(self.peer_id, self.acked_seq, int(pkt[2]))
                            continue
                        notify = getattr(self.repl, "acked", None)
                        if notify is not None:
                            notify()
        except OSError:
            pass
        try:
            self.link.sock.shutdown(_socket.SHUT_RDWR)  # the slave is gone: end the stream too
        except OSError:
            pass

    def drop(self) -> None:
        """End the session (the slave reconnects)."""
        try:
            self.link.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    def needed_seq(self) -> int:
        """Lowest binlog sequence this session may still read (binlog trimming keeps it)."""
        return self.last_seq + 1

    # --- output -----------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        self._told = self.last_seq
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= SEND_BUFFER:
            self._flush()

    def _flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._out_size = 0
            self.link.send(data)
            self.sent_bytes += len(data)
            self._throttle(len(data))
        self.sent_seq = self.last_seq

    def _throttle(self, n: int) -> None:
        """Token bucket of ``sync_speed`` MB/s holding at most one second of credit."""
        speed = self.repl.sync_speed
        if speed <= 0:
            return
        rate = speed * (1 << 20)
        now = time.monotonic()
        # credit earned since the last send, capped so an idle link cannot bank a burst
        self._credit = min(self._credit + (now - self._rate_t0) * rate, rate)
        self._rate_t0 = now
        self._credit -= n
        if self._credit < 0:
            gevent.sleep(-self._credit / rate)

    # --- decision -----------------------------------------------------------------
    def _in_window(self, seq: int) -> bool:
        """True if streaming can continue after ``seq`` from the stored binlog."""
        b = self.db.binlog
        if not b.enabled or seq > b.max_seq:
            return False
        if seq == b.max_seq:
            return True
        first = b.find_next(seq + 1)
        return first is not None and first.seq == seq + 1

    def run(self) -> None:
        self.repl.sessions.append(self)
        self.db.binlog.listeners.append(self.wake.set)
        reader = gevent.spawn(self._read_acks) if self.acks or self.peer_id is not None else None
        log.info("%s slave %s:%d connected%s: sync140 from seq %d key %r%s", "mirror" if self.mirror else "sync",
                 self.peer[0], self.peer[1], f" (slave id {self.slave_id}, listening on {self.listen_port}"
                 + (", aligned)" if self.aligned else ")") if self.acks else "", self.last_seq, self.last_key,
                 ", convergent" if self.peer_id is not None else "")
        try:
            self._run()
        except (ConnectionError, OSError) as exc:
            log.info("sync client %s:%d gone: %s", self.peer[0], self.peer[1], exc)
        finally:
            if reader is not None:
                reader.kill(block=False)
            self.db.binlog.listeners.remove(self.wake.set)
            self.repl.sessions.remove(self)

    def _run(self) -> None:
        if any(getattr(s, "receiving_copy", False) for s in getattr(self.repl, "slaves", ())):
            # its data is half replaced and its binlog restarts at the copy's end
            log.info("slave %s:%d refused: this node is receiving a full copy", self.peer[0], self.peer[1])
            return
        history = getattr(self.repl, "history", None)
        if self.aligned and history is not None and not group.may_resume(
                history, self.slave_history, self.last_seq, self.last_key, self.slave_history2, self.slave_end2):
            log.info("slave %s:%d at seq %d of history %s: not this node's history (%s, or %s up to %d): "
                     "full copy", self.peer[0], self.listen_port, self.last_seq, self.slave_history,
                     history.id, history.id2, history.end2)
            self.last_seq, self.last_key = 0, b""
        elif not self.aligned and history is not None and self.last_seq and history.ambiguous(self.last_seq):
            log.info("slave %s:%d at seq %d: this node's binlog numbered it twice (a full copy restarted it): "
                     "full copy", self.peer[0], self.peer[1], self.last_seq)
            self.last_seq, self.last_key = 0, b""
        if self.last_key and self._in_window(self.last_seq):
            log.info("copy recover after %r, seq %d", self.last_key, self.last_seq)
            # catch up on the part already copied, then snapshot with no yield in between;
            # a gap met on the way makes a full copy (last_key is then cleared): done
            upto = self.last_key
            while self.last_key and (self._stream(upto_key=upto) or self.last_seq < self.db.binlog.max_seq):
                pass
            if self.last_key:
                self._copy(start_after=upto)
        elif self.last_seq and not self.last_key and self._in_window(self.last_seq):
            log.info("sync recover from seq %d", self.last_seq)
            self.status = LinkState.SYNC
            self._emit(wire.copy_end(self.last_seq))
        else:
            if self.last_seq or self.last_key:
                log.info("position seq=%d key=%r is outside the binlog window: full copy", self.last_seq, self.last_key)
            self._full_copy()
        self._flush()
        while True:
            self.wake.clear()
            if self._stream():
                continue
            if self.peer_id is not None and self.status == LinkState.SYNC and self._told < self.last_seq:
                # the last records were not sent (the peer's own writes): a convergent peer
                # acknowledges the position now, not at the next heartbeat
                self._emit(wire.noop(self.last_seq))
            self._flush()
            if self.handoff:
                self.handoff = False
                self.link.send(wire.packet(self.last_seq, bl.CTRL, bl.NONE, group.HANDOFF_KEY))
                continue
            if not self.wake.wait(HEARTBEAT):
                self.link.send(wire.noop(self.last_seq))

    # --- copy ---------------------------------------------------------------------
    def _full_copy(self) -> None:
        self.last_seq = 0
        self.last_key = b""
        self._emit(wire.copy_begin())
        self._copy(start_after=None)

    def _copy(self, start_after: bytes | None) -> None:
        """Copy every data record after ``start_after`` from one snapshot, then copy_end."""
        self.status = LinkState.COPY
        db = self.db
        if self.peer_id is not None:
            converge.index_queues(db)  # queue items from before versioning get their ids first
        snap = db.engine.snapshot()
        seq = db.binlog.max_seq  # the snapshot's position (no staged writes remain)
        self.last_seq = seq
        if start_after is None:
            it = db.engine.iterate(_COPY_START, _COPY_STOP, snapshot=snap)
        else:
            it = db.engine.iterate(start_after, _COPY_STOP, include_start=False, snapshot=snap)
        n = 0
        step = COPY_BATCH  # records per step
        chunk: list[bytes] = []
        if self.peer_id is None and self.bulk:
            records = _bulk_copy(it, seq)
            step = 1  # every item is a BULK record of up to COPY_BATCH records
        elif self.peer_id is None:
            records = _plain_copy(it, seq)
        else:
            vstart = VERSIONS if start_after is None else VERSIONS + start_after
            vit = db.engine.iterate(vstart, VERSIONS_END, include_start=start_after is None, snapshot=snap)
            records = converge.copy_records(
                it, vit, seq, self.peer_id,
                lambda: db.engine.iterate(QUEUE_INDEX, QUEUE_INDEX_END, snapshot=snap), snap.get)
        for k, pkt in records:
            chunk.append(pkt)
            n += 1
            if n % step == 0:
                self.last_key = k
                self._emit(b"".join(chunk))
                chunk.clear()
                self._flush()
                gevent.sleep(0)
        if chunk:
            self.last_key = k
            self._emit(b"".join(chunk))
        self.status = LinkState.SYNC
        self.last_key = b""
        self._emit(wire.copy_end(seq))
        self._flush()
        self.repl.copies += 1

    # --- streaming ----------------------------------------------------------------
    def _stream(self, upto_key: bytes | None = None, max_records: int = 10000) -> bool:
        """Send binlog records after ``last_seq``; True if there may be more.

        With ``upto_key`` (copy recover) only records for keys <= upto_key are
        sent; the others will be covered by the copy that follows.  A queue pop
        (whose record key is the raw queue name) counts as a key of that queue,
        ``q<len><name>``: it is sent only if the queue's records start at or
        before upto_key, i.e. the slave holds (part of) the queue.
        """
        db = self.db
        b = db.binlog
        if self.last_seq >= b.max_seq:
            return False
        engine = db.engine
        expect = self.last_seq + 1
        sent = 0
        for _k, raw in engine.iterate(keys.encode_binlog_key(expect), _BINLOG_END):
            rec = bl.Record.decode(raw)
            if rec.seq != expect:
                log.warning("binlog gap at %d (next record %d): full copy", expect, rec.seq)
                self._full_copy()
                return True
            expect += 1
            self.last_seq = rec.seq
            if rec.type == bl.MIRROR and self.mirror and (self.peer_id is None or not converge.forwarded(rec.cmd)):
                # received from a mirror peer: never echoed, except versioned items and queue
                # item states on a convergent link (forwarded so that rings and chains converge)
                self._skipped += 1
                if self._skipped >= SKIP_HEARTBEAT:
                    self._skipped = 0
                    self._emit(wire.noop(rec.seq))
                continue
            if upto_key is not None:
                data_key = rec.key
                if rec.cmd in (bl.QPOP_BACK, bl.QPOP_FRONT) and len(data_key) < 256:
                    data_key = keys.queue_prefix(data_key)
                if data_key > upto_key:
                    continue
            self._send_record(rec)
            sent += 1
            if sent >= max_records:
                self._flush()
                gevent.sleep(0)
                return True
        if expect <= b.max_seq and b.find_next(expect) is None:
            # records vanished under us (clear_binlog): nothing more can be streamed
            log.warning("binlog records after %d are gone: full copy", expect - 1)
            self._full_copy()
            return True
        return False

    def _send_record(self, rec: bl.Record) -> None:
        cmd = rec.cmd
        if self.peer_id is not None and cmd in VERSIONED_CMDS:
            value, ver = converge.state_of(self.db, rec.key)
            if ver.origin != self.peer_id or ver.counter is not None:  # else the peer has it, or newer
                pkt = converge.state_packet(rec.seq, rec.type, rec.key, value, ver)
                if pkt is not None:
                    self._emit(pkt)
            return
        if self.peer_id is not None and cmd in converge.QUEUE_CMDS:
            qpkt = converge.queue_packet(self.db, rec, self.peer_id)
            if qpkt is not converge.PLAIN:
                if qpkt is not None:
                    self._emit(qpkt)
                return
            if rec.type == bl.MIRROR:
                return  # applied from a peer before versioning: not echoed
        if cmd == bl.NONE:
            return  # a forwarded queue tombstone: nothing for a plain link
        hdr = rec.encode()
        if cmd in wire.SET_LIKE:
            v = self.db.engine.get(rec.key)
            if v is None:
                if cmd in (bl.KSET, bl.HSET, bl.ZSET):
                    return  # deleted since: a later record says so
                v = b""
            self._emit(encode_ssdb([hdr, v]))
        else:
            self._emit(encode_ssdb([hdr]))


def _plain_copy(it, seq: int):
    """``(key, packet)`` of every data record from ``it`` as SSDB's COPY records."""
    cmds = wire.COPY_CMDS
    encode = wire.copy_encoder(seq)
    for k, v in it:
        cmd = cmds.get(k[0])
        if cmd is not None:  # not the 'z' score index or anything unknown
            yield k, encode(cmd, k, v)


def _bulk_copy(it, seq: int):
    """``(last key, packet)`` of BULK records holding every data record from ``it`` (as
    ``_plain_copy`` sends them one by one), COPY_BATCH records or BULK_BYTES at most each."""
    cmds = wire.COPY_CMDS
    header = bl.encode_header(seq, bl.COPY, wire.BULK, b"")
    pairs: list[bytes] = []
    size = 0
    for k, v in it:
        if k[0] in cmds:
            pairs.append(k)
            pairs.append(v)
            size += len(k) + len(v)
            if len(pairs) >= 2 * COPY_BATCH or size >= BULK_BYTES:
                yield k, encode_ssdb([header, wire.bulk_value(pairs)])
                pairs = []
                size = 0
    if pairs:
        yield pairs[-2], encode_ssdb([header, wire.bulk_value(pairs)])


@command("sync140", 1, BACKEND)
def sync140(ctx, args):
    """``sync140 [last_seq [last_key [sync|mirror [peer_node_id]]]]``; the fifth argument (sent
    only after a convergent offer was accepted) makes the stream convergent.  A sync slave that
    offered ``ssdbpy_replica`` sends ``sync ssdbpy1 <history id> <listening port> <link id>
    <previous history id> <its end>`` (aligned; the last two may be missing) or ``sync ssdbpy1id <listening port> <link id>`` (identified): both acknowledge."""
    repl = ctx.server.repl
    last_seq = uint64(args[1]) if len(args) > 1 else 0
    last_key = args[2] if len(args) > 2 else b""
    mirror = len(args) > 3 and args[3] == b"mirror"
    peer_id = None
    if mirror and len(args) > 4 and repl.db.versioned and args[4].isdigit():
        peer_id = int(args[4])

    aligned = (not mirror and len(args) > 7 and args[4] == group.MARK and len(args[5]) == 40
               and args[6].isdigit() and getattr(repl, "history", None) is not None)
    identified = not mirror and len(args) > 6 and args[4] == group.IDENTIFIED and args[5].isdigit()
    # the slave reads BULK copy records: the word after the request's fixed arguments
    bulk = (aligned and len(args) == 11 or identified and len(args) == 8) and args[-1] == group.BULK

    def run(link) -> None:
        s = SyncSession(repl, link, last_seq, last_key, mirror, peer_id)
        if aligned:
            s.aligned = s.acks = True
            s.slave_history = args[5].decode("latin-1")
            s.listen_port = int(args[6])
            s.slave_id = args[7].decode("latin-1", "replace")
            if len(args) > 9 and len(args[8]) == 40 and args[9].lstrip(b"-").isdigit():
                s.slave_history2, s.slave_end2 = args[8].decode("latin-1"), int(args[9])
        elif identified:
            s.acks = True
            s.listen_port = int(args[5])
            s.slave_id = args[6].decode("latin-1", "replace")
        s.bulk = bulk
        s.run()

    return Backend(run, kind="sync")


@command(converge.OFFER.decode(), 1, READ_INLINE)
def ssdbpy_mirror(ctx, args):
    """``ssdbpy_mirror <node_id> <proto>``: a mirror slave offers a convergent link.  A node
    that versions its writes answers ``ok <its node_id> <proto> acks`` (``acks``: it reads the
    slave's ``ssdbpy_ack`` packets); any other answers what SSDB answers an unknown command,
    so the slave keeps plain sync140."""
    db = ctx.db
    if not db.versioned or len(args) < 3 or args[2] != converge.PROTO:
        raise errors.ClientError(errors.MSG_UNKNOWN_COMMAND + args[0])
    return [b"ok", str(db.binlog.versions.node_id).encode(), converge.PROTO, converge.ACKS]


@command(group.OFFER.decode(), 1, READ_INLINE)
def ssdbpy_replica(ctx, args):
    """``ssdbpy_replica <proto>``: a sync slave offers an aligned or identified link (docs/replication.md,
    "Replication groups"); answers ``ok <history id> <previous id> <previous end> ssdbpy1id``."""
    history = getattr(ctx.server.repl, "history", None)
    if history is None or len(args) < 2 or args[1] != group.PROTO:
        raise errors.ClientError(errors.MSG_UNKNOWN_COMMAND + args[0])
    return [b"ok", history.id.encode(), history.id2.encode(), str(history.end2).encode(), group.IDENTIFIED,
            group.BULK]


@command("ssdbpy_clock", 1, READ_INLINE)
def ssdbpy_clock(ctx, args):
    """``ssdbpy_clock``: ``ok <node_id> <stamp>`` on a node that versions its writes, the stamp a
    fresh one: every write this node stamped before is lower, every later one higher.
    ``error`` on a node that does not version its writes."""
    versions = ctx.db.binlog.versions
    if versions is None:
        raise errors.ServerError(b"writes are not versioned (no mirror link configured)")
    return [b"ok", str(versions.node_id).encode(), str(versions.clock.tick()).encode()]
