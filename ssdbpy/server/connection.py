"""One client connection, served from event-loop callbacks.

When the socket is readable, the hub's io watcher calls :meth:`Connection.on_readable`
directly (no greenlet switch): one ``recv``, every complete request executed in
order, the replies joined and sent with one ``send``.  Writes staged by every
connection served in the same loop turn reach LevelDB in one batch
(server.commit); replies that depend on staged or in-flight writes leave from
the commit's callback, once their batch is in LevelDB, and the connection goes
on reading meanwhile; the other replies leave at the end of the loop turn.

Each connection also has a greenlet, parked while the callbacks serve it.  It
takes over for the requests that may wait on gevent (commands registered
``blocking``: a thread pool, another greenlet) and for backend commands
(``dump``, ``sync140``), which own the socket from then on.  Compared with one
greenlet running a recv/execute/send loop per connection, this saves two
greenlet switches and an io watcher start/stop per read (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import fcntl
import logging
import socket
import struct
from collections import deque
from functools import partial
from time import monotonic, perf_counter

import gevent
from gevent.event import Event

import ssdbpy.commands.all  # noqa: F401  (every command registered before the tables below)
from ssdbpy.commands import redis_compat
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute, run
from ssdbpy.commands.registry import COMMANDS, Backend
from ssdbpy.errors import ERROR, ProtocolError
from ssdbpy.protocol.sniff import RequestParser
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.server.commit import CommitFailed, GroupCommit
from ssdbpy.server.redis_conn import EXEC, RedisConn

log = logging.getLogger("ssdbpy.conn")

RECV_SIZE = 64 * 1024  # below malloc's mmap threshold: a bigger buffer costs an mmap per recv
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {1, 0}, as SSDB
_LINGER_OFF = b"\x00\x00\x00\x00\x00\x00\x00\x00"  # struct linger {0, 0}
_SIOCOUTQ = 0x5411  # TIOCOUTQ
_READ, _WRITE = 1, 2  # libev event masks
_WAIT_SENT, _RESUMING = 1, 2  # Connection._backlog: waiting for the replies to be sent, resume scheduled
#: replies of more blocks are encoded without holding the loop when the greenlet serves the connection
RENDER_OFF_LOOP = 20000
RENDER_SLICE = 4096  # blocks encoded between two pauses


# --- replies to writes whose batch failed (disk full): SSDB's bare ``error`` ----------------
#: write command names: a chunk remembers which of its replies answer one; and they are
#: moved to the greenlet while the write gate is held (flushdb runs)
_WRITES = frozenset(name for name, cmd in COMMANDS.items() if cmd.is_write)
_FAILED_SSDB = encode_ssdb([ERROR])  # b"5\nerror\n\n", as SSDB 1.9.8 on a full disk
_FAILED_RESP = b"-ERR \r\n"  # what SSDB 1.9.8 sends a RESP client then


#: replies with a value this big are sent in parts: header, the value itself, trailer (no copy)
BIG_REPLY = 1 << 20


def _big_parts(reply, desc) -> list[bytes] | None:
    """``[header, value, trailer]`` for an ``ok <value>`` reply whose value is BIG_REPLY bytes or more.

    The same bytes as ``encode_ssdb(reply)`` or a bulk reply's ``desc.render(reply)``,
    without copying the value into one more buffer (100 MB: ~50 ms on the event loop).
    """
    if len(reply) != 2 or reply[0] != b"ok":
        return None
    v = reply[1]
    n = len(v)
    if n < BIG_REPLY:
        return None
    if desc is None:
        return [b"2\nok\n%d\n" % n, v, b"\n\n"]
    if desc.kind == "bulk":
        return [b"$%d\r\n" % n, v, b"\r\n"]
    return None


def _failed(reply: bytes) -> bytes:
    """The reply a write gets when its batch failed; an error reply stays as it was."""
    if reply[:1].isdigit():  # an SSDB packet
        return _FAILED_SSDB if reply.startswith(b"2\nok\n") else reply
    return reply if reply[:1] == b"-" else _FAILED_RESP

#: RESP protocol version → Redis name → (command, reply descriptor) for the requests
#: that translation only renames (redis_compat.direct_rows)
_DIRECT = {
    proto: {name: (COMMANDS[ssdb], desc) for name, (ssdb, desc) in redis_compat.direct_rows(proto == 3).items()}
    for proto in (2, 3)
}


def _unacked(sock) -> int:
    """Bytes in the socket's send queue the peer has not acknowledged (Linux SIOCOUTQ)."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:
        return 1  # unknown: assume replies are on their way


def configure_socket(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    except OSError:
        pass


class Link:
    """What a backend command (dump, sync140) gets: the raw connection."""

    def __init__(self, sock, parser: RequestParser, peer: tuple[str, int]) -> None:
        self.sock = sock
        self.parser = parser
        self.peer = peer

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int = RECV_SIZE) -> bytes:
        return self.sock.recv(n)

    def cooperate(self) -> None:
        """Let the other connections run (long streams call this between chunks)."""
        gevent.sleep(0)

    def wait_closed(self) -> None:
        """Discard input until the peer closes the connection."""
        while self.sock.recv(RECV_SIZE):
            pass


class Connection(RedisConn):
    """The state of one client connection and its callbacks.

    Replies leave in request order through one queue: a chunk of replies that
    depends on staged or in-flight writes waits for the commit that writes
    them (``_deferred`` counts such chunks), and the connection goes on
    reading meanwhile, so its next requests are executed while LevelDB writes
    the previous ones.  Reading pauses while the socket does not take the
    replies (``_unsent``), while MAX_DEFERRED chunks wait, and while the
    greenlet serves the connection.
    """

    __slots__ = (
        "state", "group", "sock", "ip", "port", "ctx", "engine", "parser", "_feed", "_next", "_recv",
        "_send", "_reader", "_writer", "_reading", "_unsent", "_sendq", "_deferred", "_out", "_translate", "_direct",
        "_desc", "_proto", "_client_id", "_held", "_wake", "_drained", "_in_greenlet", "closed", "_closing",
        "_counted", "_backlog", "_queued", "_limit", "_soft_timer", "_writes", "_aborts",
        "_reads0", "_staged0", "_parts",
        # Redis connection state (redis_conn.RedisConn)
        "_name", "_lib", "_born", "_last", "_channels", "_patterns", "_multi", "_multi_bytes", "_multi_dirty",
        "_quit",
    )
    _direct_rows = None  # set below: _DIRECT

    #: chunks of replies waiting for commits before the connection stops reading
    MAX_DEFERRED = 4
    #: bytes of replies after which the requests already received wait until they are sent
    OUTPUT_CHUNK = 256 * 1024

    def __init__(self, state: ServerState, group: GroupCommit, sock, address) -> None:
        self.state = state
        self.group = group
        self.sock = sock  # the gevent socket (used by the greenlet: backend commands)
        self.ip, self.port = address[0], address[1]
        self.ctx = Context(state, self.ip, self.port)
        self.engine = state.db.engine
        self.parser = RequestParser()
        self._feed = self.parser.feed
        self._next = self.parser.next
        raw = getattr(sock, "_sock", sock)  # the non-blocking socket under gevent's wrapper
        self._recv = raw.recv
        self._send = raw.send
        loop = gevent.get_hub().loop
        self._reader = loop.io(sock.fileno(), _READ)
        self._writer = loop.io(sock.fileno(), _WRITE)
        self._reading = False
        self._unsent: memoryview | None = None  # the part of a reply the socket did not take yet
        self._sendq: deque[bytes] = deque()  # replies behind _unsent
        self._deferred = 0  # chunks of replies waiting for a commit
        self._out: list[bytes] = []  # replies of the requests being executed
        self._translate = redis_compat.translate
        self._direct = _DIRECT[2]
        self._desc = None  # RESP descriptor of the last RESP request (sticky, as SSDB)
        self._proto = 2  # RESP version of the replies: 3 after HELLO 3 (translate then renders RESP3)
        self._client_id = next(redis_compat.client_ids)  # Redis's CLIENT ID (HELLO reports it too)
        self._name = b""  # CLIENT SETNAME
        self._lib: dict[bytes, bytes] = {}  # CLIENT SETINFO
        self._born = self._last = monotonic()  # CLIENT LIST's age and idle
        self._channels: dict | None = None  # SUBSCRIBE: channel → None, in order
        self._patterns: dict | None = None  # PSUBSCRIBE
        self._multi: list | None = None  # the queued requests after MULTI
        self._multi_bytes = 0
        self._multi_dirty = False  # a request was refused at queue time: EXEC aborts
        self._quit = False  # close once the replies so far are sent (QUIT, CLIENT KILL of itself)
        state.clients[self._client_id] = self
        self._held: tuple | None = None  # a request for the greenlet: (args, perf_counter()) or (Backend,)
        self._wake = Event()  # the greenlet has work (or the connection ended)
        self._drained = Event()  # every reply so far was handed to the socket
        self._in_greenlet = False
        self.closed = False
        self._closing = False  # close once every reply is sent
        self._counted = True  # counted in state.links (backend links are not)
        #: requests received wait until the replies so far are sent (OUTPUT_CHUNK):
        #: 0, _WAIT_SENT, or _RESUMING once sent (reading stays off until they ran)
        self._backlog = 0
        self._queued = 0  # bytes in _unsent and _sendq
        self._limit = state.output_limit
        self._soft_timer = None  # running while _queued is above the soft limit
        self._writes: list[int] = []  # indexes in _out of the replies to write commands
        self._aborts = 0  # engine.aborts before the first write in _out
        #: Engine.overlay_reads and staged_total when the replies in _out began: a reply that
        #: read, or came after staging, a write not yet in LevelDB waits for its commit
        self._reads0 = self._staged0 = 0
        self._parts = False  # _out holds a big reply in parts (sent without joining them)

    # --- reading on or off ---------------------------------------------------------------
    def _update_reader(self) -> None:
        want = not (self.closed or self._closing or self._in_greenlet or self._unsent is not None
                    or self._deferred >= self.MAX_DEFERRED or self._backlog)
        if want != self._reading:
            self._reading = want
            if want:
                self._reader.start(self.on_readable)
            else:
                self._reader.stop()

    # --- the connection's greenlet -------------------------------------------------
    def serve(self) -> None:
        """Run on the connection's greenlet until the connection ends."""
        self._update_reader()
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self.closed:
                    return
                held, self._held = self._held, None
                if held is not None and self._run_held(held):
                    return
        except (ConnectionError, OSError, CommitFailed):
            return
        finally:
            self._stop()

    def _run_held(self, held: tuple) -> bool:
        """Serve a request that may block, then the rest of the input; True if the connection ended."""
        first = held[0]
        engine = self.engine
        self._reads0, self._staged0 = engine.overlay_reads, engine.staged_total
        if first is EXEC:
            self._out.append(self._held_request(held[2]))
            first = None
        elif first.__class__ is not Backend:
            if first[0] in _WRITES:
                self._note_write()
            first = execute(self.ctx, first, held[1])
        if first.__class__ is Backend:
            backend = first
        else:
            if first is not None:
                self._add_rendered(first, held[0][0] in _WRITES)
            backend = self._process(True)
            while backend is None and self._backlog:
                self._flush()  # replies waiting to be sent: the rest runs after them
                self._wait_drained()
                if self.closed:
                    return True
                self._backlog = 0
                backend = self._process(True)
        self._flush()
        if backend is False:
            self._closing = True
        self._wait_drained()
        if self.closed or backend is False:
            return True
        if backend is not None:
            self.state.links -= 1
            self._counted = False
            backend.run(Link(self.sock, self.parser, (self.ip, self.port)))
            return True
        self._in_greenlet = False
        self._update_reader()
        return False

    def _wait_drained(self) -> None:
        """Block the greenlet until every reply so far is sent (or the connection ended)."""
        while not self.closed and not self._is_drained():
            self._drained.clear()
            self._drained.wait()

    def _is_drained(self) -> bool:
        return self._deferred == 0 and self._unsent is None

    # --- event-loop callbacks ------------------------------------------------------------
    def on_readable(self) -> None:
        try:
            data = self._recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            # the client finished sending (it may have half-closed and still read):
            # the replies to everything it sent leave first
            self._closing = True
            self._update_reader()
            self._after_send()
            return
        try:
            self._feed(data)
        except Exception:  # noqa: BLE001 - never let one connection break the event loop
            log.exception("%s:%d connection failed", self.ip, self.port)
            self.close()
            return
        self._serve_input()

    def _resume(self) -> None:
        """Loop callback: run the requests that waited for the replies before them to be sent."""
        if self._backlog != _RESUMING:
            return
        self._backlog = 0
        if self.closed or self._in_greenlet:
            return
        self._serve_input()
        self._update_reader()

    def _serve_input(self) -> None:
        """Execute the requests received, send their replies, and hand over or close as they say."""
        engine = self.engine
        self._reads0, self._staged0 = engine.overlay_reads, engine.staged_total
        self._last = monotonic()
        try:
            r = self._process(False)
            self._flush()
            if r is None and self._backlog:
                self._update_reader()
            elif r is False:
                self._closing = True
                self._update_reader()
                self._after_send()
            elif r is True:  # the greenlet takes over
                self._in_greenlet = True
                self._update_reader()
                self._wake.set()
        except Exception:  # noqa: BLE001 - never let one connection break the event loop
            log.exception("%s:%d connection failed", self.ip, self.port)
            self.close()

    def _process(self, in_greenlet: bool):
        """Execute every complete request received; replies go to ``_out``.

        Returns None when the input is used up or OUTPUT_CHUNK bytes of replies
        are waiting (then ``_backlog`` is set: the rest runs once they are sent),
        False when the connection must be dropped (a framing error), or True when
        a request was left for the greenlet in ``_held`` (from a callback: a
        blocking command; from the greenlet: only a backend, returned instead of
        True).
        """
        out = self._out
        next_request = self._next
        ctx = self.ctx
        desc = self._desc
        direct = self._direct
        room = self.OUTPUT_CHUNK  # bytes of replies before the rest waits for them to be sent
        gate = self.state.write_gate
        commands_get = COMMANDS.get
        while True:
            if room <= 0:
                # the replies so far must leave before the next requests run: a client
                # that never reads its replies stops the connection, not the server
                self._desc = desc
                self._backlog = _WAIT_SENT
                return None
            try:
                req = next_request()
            except ProtocolError:
                log.debug("%s:%d link parse error, delete link", self.ip, self.port)
                self._desc = desc
                return False
            if req is None:
                self._desc = desc
                return None
            is_resp, args = req
            cmd = None
            if is_resp:
                row = direct.get(args[0])
                if row is not None:  # a mapped command that is only renamed: no translate()
                    cmd, desc = row
                    args[0] = cmd.name
                else:
                    try:
                        args, desc = self._translate(args)
                    except redis_compat.ConnRequest as req:  # costs nothing until a client sends one
                        text = self._conn_request(req, in_greenlet)
                        desc = redis_compat.PROTOCOLS[self._proto][1]
                        if text is None:  # EXEC of a command that may wait: on the greenlet
                            self._desc = desc
                            self._held = (EXEC, perf_counter(), req.request)
                            return True
                        direct = self._direct
                        out.append(text)
                        room -= len(text)
                        if self._quit:
                            self._desc = desc
                            return False
                        continue
            if cmd is None:
                cmd = commands_get(args[0])
                if cmd is None:  # unknown (or not authenticated): execute() replies
                    reply = execute(ctx, args)
                    data = encode_ssdb(reply) if desc is None else desc.render(reply)
                    out.append(data)
                    room -= len(data)
                    continue
            is_write = cmd.is_write
            if not in_greenlet and ((cmd.may_hold and (cmd.blocking or cmd.long(ctx, args)))
                                    or (is_write and gate.held)):
                self._desc = desc
                self._held = (args, perf_counter())  # the wait for the greenlet counts as time_wait
                return True
            if is_write:  # remembered: its reply becomes ``error`` if its batch fails
                self._note_write()
            reply = run(ctx, cmd, args)
            if reply.__class__ is Backend:
                self._desc = desc
                if in_greenlet:
                    return reply
                self._held = (reply,)
                return True
            if in_greenlet:
                self._desc = desc
                room -= self._add_rendered(reply, is_write)
                continue
            data = encode_ssdb(reply) if desc is None else desc.render(reply)
            out.append(data)
            room -= len(data)

    def _note_write(self) -> None:
        """The next reply in ``_out`` answers a write (replaced by ``error`` if its batch fails)."""
        if not self._writes:
            self._aborts = self.engine.aborts
        self._writes.append(len(self._out))

    def _add_rendered(self, reply, is_write: bool) -> int:
        """Append ``reply`` to ``_out`` from the greenlet (a big value in parts); returns its size."""
        parts = None if is_write else _big_parts(reply, self._desc)
        if parts is not None:
            self._out += parts
            self._parts = True
            return len(parts[1])
        data = self._render(reply)
        self._out.append(data)
        return len(data)

    def _render(self, reply) -> bytes:
        """Encode a reply on the greenlet, a big one (a long command's) without holding the loop.

        SSDB packets are encoded in slices with ``state.pause()`` between them;
        RESP descriptors render a whole reply, so a big one is rendered on a
        worker thread (pure code; the GIL changes hands every few ms).
        """
        desc = self._desc
        if len(reply) <= RENDER_OFF_LOOP:
            return encode_ssdb(reply) if desc is None else desc.render(reply)
        if desc is not None:
            return self.state.run_blocking(desc.render, reply)
        pause = self.state.pause
        parts = []
        for i in range(0, len(reply), RENDER_SLICE):
            parts.append(encode_ssdb(reply[i : i + RENDER_SLICE])[:-1])  # the blocks, without the packet's end
            if pause is not None:
                pause()
        parts.append(b"\n")
        return b"".join(parts)

    # --- sending ----------------------------------------------------------------------------
    def _flush(self) -> None:
        """Send the replies now, or once the writes they may depend on are in LevelDB."""
        out = self._out
        if not out:
            return
        self._out = []
        engine = self.engine
        reads, staged = engine.overlay_reads, engine.staged_total
        depends = reads != self._reads0 or staged != self._staged0
        self._reads0, self._staged0 = reads, staged
        if self._writes:
            depends = True
            writes, self._writes = self._writes, []
            # a write failed while this chunk ran (a scan's commit): its earlier writes are gone
            done = partial(self._committed_writes, out, writes, self.engine.aborts != self._aborts)
        elif self._parts:  # a big value among them: each part goes to the socket as it is
            done = partial(self._committed, out)
        else:
            done = partial(self._committed, out[0] if len(out) == 1 else b"".join(out))
        self._parts = False
        self._deferred += 1
        # replies that read writes not yet in LevelDB, or answer writes, leave once those are
        # in it; the others at the end of the loop turn, even while a big batch is written
        if depends or self._deferred > 1:
            self.group.after_commit(done)
            self.group.kick()
            if self._deferred >= self.MAX_DEFERRED:
                self._update_reader()
        else:
            self.group.after_turn(done)

    def _committed(self, data: bytes, error) -> None:
        """After-commit callback: a chunk of replies may leave now.

        With ``error`` (the batch failed, or the server is stopping) they leave
        too: ``data`` holds no reply to a write (see ``_committed_writes``).
        """
        self._deferred -= 1
        if self.closed:
            return
        self._write(data)
        self._after_send()

    def _committed_writes(self, out: list[bytes], writes: list[int], aborted: bool, error) -> None:
        """``_committed`` for a chunk with writes: if their batch failed, they get ``error``; reads are untouched."""
        if error is not None or aborted:
            for i in writes:
                out[i] = _failed(out[i])
        self._committed(out[0] if len(out) == 1 else b"".join(out), None)

    def _write(self, data: bytes | list[bytes]) -> None:
        """Hand ``data`` (or each of a list of parts) to the socket after everything before it.

        The writer callback sends what the socket refuses now.
        """
        if data.__class__ is list:
            for part in data:
                if not self.closed:
                    self._write(part)
            return
        if self._unsent is not None:
            self._sendq.append(data)
            self._queued += len(data)
            self._check_limit()
            return
        try:
            sent = self._send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self._unsent = memoryview(data)[sent:]
            self._queued = len(data) - sent
            self._writer.start(self._on_writable)
            self._update_reader()
            self._check_limit()

    def _check_limit(self) -> None:
        """Apply server.client_output_buffer_limit to the replies waiting for the socket."""
        limit = self._limit
        queued = self._queued
        if limit.hard and queued > limit.hard:
            self._over_limit("hard")
        elif limit.soft and queued > limit.soft:
            if self._soft_timer is None:
                self._soft_timer = gevent.get_hub().loop.timer(max(limit.soft_seconds, 0.001))
                self._soft_timer.start(self._soft_expired)
        elif self._soft_timer is not None:
            self._soft_timer.close()
            self._soft_timer = None

    def _soft_expired(self) -> None:
        self._soft_timer = None
        if not self.closed and self._queued > self._limit.soft:
            self._over_limit("soft")

    def _over_limit(self, which: str) -> None:
        log.info("%s:%d closed: %d bytes of replies unsent, over the %s client_output_buffer_limit",
                 self.ip, self.port, self._queued, which)
        self.close()

    def _on_writable(self) -> None:
        if self.closed:
            return
        try:
            while True:
                data = self._unsent
                assert data is not None
                sent = self._send(data)
                self._queued -= sent
                if sent < len(data):
                    self._unsent = data[sent:]
                    if self._soft_timer is not None:
                        self._check_limit()
                    return
                if not self._sendq:
                    break
                self._unsent = memoryview(self._sendq.popleft())
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        self._unsent = None
        self._queued = 0
        if self._soft_timer is not None:
            self._check_limit()
        self._writer.stop()
        self._after_send()

    def _after_send(self) -> None:
        """Bookkeeping after replies left: reading back on, the greenlet told, a closing link closed."""
        if self.closed:
            return
        if self._is_drained():
            if self._closing:
                self.close()
                return
            self._drained.set()
            if self._backlog == _WAIT_SENT and not self._in_greenlet:
                # not from here: this may run inside a commit's callbacks
                self._backlog = _RESUMING
                gevent.get_hub().loop.run_callback(self._resume)
        self._update_reader()

    # --- ending ---------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._reading = False
        self._reader.stop()
        self._writer.stop()
        # nothing received or unsent outlives the connection, whatever the references to it
        self.parser.close()
        self._out = []
        self._writes = []
        self._sendq.clear()
        self._unsent = None
        self._queued = 0
        if self._soft_timer is not None:
            self._soft_timer.close()
            self._soft_timer = None
        self._wake.set()
        self._drained.set()

    def _stop(self) -> None:
        self.close()
        self._forget()
        self._reader.close()
        self._writer.close()
        if self._counted:
            self.state.links -= 1
        try:
            if self._closing and (self._quit or _unacked(self.sock)):
                # replies still in the kernel's send buffer: a normal close delivers them,
                # where the reset SSDB closes with (linger {1, 0}) would discard them
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_OFF)
                self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


Connection._direct_rows = _DIRECT


def serve_connection(state: ServerState, group: GroupCommit, sock, address) -> None:
    """Serve one accepted connection (runs on its own greenlet until the connection ends)."""
    if not state.ipfilter.check(address[0]):
        sock.close()
        return
    configure_socket(sock)
    state.links += 1
    state.connections_received += 1
    Connection(state, group, sock, address).serve()
