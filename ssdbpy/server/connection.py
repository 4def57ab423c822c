"""One client connection, served from event-loop callbacks.

When the socket is readable, the hub's io watcher calls :meth:`Connection.on_readable`
directly (no greenlet switch): one ``recv``, every complete request executed in
order, the replies joined and sent with one ``send``.  Writes staged by every
connection served in the same loop turn reach LevelDB in one batch
(server.commit); a connection whose replies depend on staged or in-flight
writes stops reading and sends them from the commit's callback, once the batch
is in LevelDB, then reads again.

Each connection also has a greenlet, parked while the callbacks serve it.  It
takes over for the requests that may wait on gevent (commands registered
``blocking``: a thread pool, another greenlet) and for backend commands
(``dump``, ``sync140``), which own the socket from then on.  Compared with one
greenlet running a recv/execute/send loop per connection, this saves two
greenlet switches and an io watcher start/stop per read (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import logging
import socket

import gevent
from gevent.event import Event

from ssdbpy.commands import redis_compat
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
from ssdbpy.commands.registry import COMMANDS, Backend
from ssdbpy.errors import ProtocolError
from ssdbpy.protocol.sniff import RequestParser
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.server.commit import CommitFailed, GroupCommit

log = logging.getLogger("ssdbpy.conn")

RECV_SIZE = 64 * 1024  # below malloc's mmap threshold: a bigger buffer costs an mmap per recv
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {1, 0}
_READ, _WRITE = 1, 2  # libev event masks

#: names whose handler must run on the connection's greenlet (see Command.blocking)
_BLOCKING = frozenset(name for name, cmd in COMMANDS.items() if cmd.blocking)


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


class Connection:
    """The state of one client connection and its callbacks."""

    __slots__ = (
        "state", "group", "sock", "ip", "port", "ctx", "engine", "parser", "_feed", "_next", "_recv",
        "_send", "_reader", "_writer", "_unsent", "_out", "_translate", "_desc", "_proto", "_client_id",
        "_held", "_wake", "closed", "_closing", "_counted",
    )

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
        self._unsent: memoryview | None = None  # the part of a reply the socket did not take yet
        self._out: list[bytes] = []  # replies waiting for a commit
        self._translate = redis_compat.translate
        self._desc = None  # RESP descriptor of the last RESP request (sticky, as SSDB)
        self._proto = 2  # RESP version of the replies: 3 after HELLO 3 (translate then renders RESP3)
        self._client_id = 0  # given on the first HELLO
        self._held: tuple | None = None  # a request for the greenlet: (args,) or (Backend,)
        self._wake = Event()
        self.closed = False
        self._closing = False  # close once the reply being written is sent
        self._counted = True  # counted in state.links (backend links are not)

    # --- the connection's greenlet -------------------------------------------------
    def serve(self) -> None:
        """Run on the connection's greenlet until the connection ends."""
        self._reader.start(self.on_readable)
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
        if first.__class__ is not Backend:
            first = execute(self.ctx, first)
        if first.__class__ is Backend:
            backend = first
        else:
            self._out.append(self._render(first))
            backend = self._process(True)
            if backend is False:
                self._commit_and_send_blocking()
                return True
        self._commit_and_send_blocking()
        if backend is not None:
            self._reader.stop()
            self.state.links -= 1
            self._counted = False
            backend.run(Link(self.sock, self.parser, (self.ip, self.port)))
            return True
        self._reader.start(self.on_readable)
        return False

    def _commit_and_send_blocking(self) -> None:
        if self.engine.dirty:
            self.group.wait()
        out, self._out = self._out, []
        if out:
            self.sock.sendall(b"".join(out))

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
            self.close()
            return
        try:
            self._feed(data)
            r = self._process(False)
            if r is None:
                self._flush()
            elif r is False:
                self._flush_then_close()
            else:  # the greenlet takes over
                self._reader.stop()
                self._wake.set()
        except Exception:  # noqa: BLE001 - never let one connection break the event loop
            log.exception("%s:%d connection failed", self.ip, self.port)
            self.close()

    def _process(self, in_greenlet: bool):
        """Execute every complete request received; replies go to ``_out``.

        Returns None when the input is used up, False when the connection must
        be dropped (a framing error), or True when a request was left for the
        greenlet in ``_held`` (from a callback: a blocking command; from the
        greenlet: only a backend, returned instead of True).
        """
        out = self._out
        next_request = self._next
        ctx = self.ctx
        desc = self._desc
        while True:
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
            if is_resp:
                try:
                    args, desc = self._translate(args)
                except redis_compat.Hello as hello:  # costs nothing until a client says HELLO
                    self._client_id = self._client_id or next(redis_compat.client_ids)
                    text, self._proto = redis_compat.hello(ctx, hello.request, self._proto, self._client_id)
                    self._translate, desc = redis_compat.PROTOCOLS[self._proto]
                    out.append(text)
                    continue
            if not in_greenlet and args[0] in _BLOCKING:
                self._desc = desc
                self._held = (args,)
                return True
            reply = execute(ctx, args)
            if reply.__class__ is Backend:
                self._desc = desc
                if in_greenlet:
                    return reply
                self._held = (reply,)
                return True
            out.append(encode_ssdb(reply) if desc is None else desc.render(reply))

    def _render(self, reply) -> bytes:
        desc = self._desc
        return encode_ssdb(reply) if desc is None else desc.render(reply)

    def _flush(self) -> None:
        """Send the replies now, or once the writes they depend on are in LevelDB."""
        if not self._out:
            return
        if self.engine.dirty:
            self._reader.stop()
            self.group.after_commit(self._committed)
            return
        out = self._out
        self._out = []
        self._write(out[0] if len(out) == 1 else b"".join(out))

    def _committed(self, error) -> None:
        """After-commit callback: the replies may leave now."""
        if self.closed:
            return
        if error is not None:
            self.close()
            return
        out = self._out
        self._out = []
        if self._write(out[0] if len(out) == 1 else b"".join(out)):
            self._reader.start(self.on_readable)

    def _write(self, data: bytes) -> bool:
        """Send ``data``; True if it all went (else the writer callback finishes it, then reads again)."""
        try:
            sent = self._send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return False
        if sent == len(data):
            return True
        self._unsent = memoryview(data)[sent:]
        self._reader.stop()
        self._writer.start(self._on_writable)
        return False

    def _on_writable(self) -> None:
        data = self._unsent
        assert data is not None
        try:
            sent = self._send(data)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if sent < len(data):
            self._unsent = data[sent:]
            return
        self._unsent = None
        self._writer.stop()
        if self._closing:
            self.close()
        elif not self.closed:
            self._reader.start(self.on_readable)

    def _flush_then_close(self) -> None:
        """Replies before a framing error are still sent (once committed), then the link is dropped."""
        self._reader.stop()
        if not self._out:
            self.close()
            return

        def done(error) -> None:
            if self.closed:
                return
            if error is not None:
                self.close()
                return
            self._closing = True
            if self._write(b"".join(self._out)):
                self.close()

        if self.engine.dirty:
            self.group.after_commit(done)
        else:
            done(None)

    # --- ending ---------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._reader.stop()
        self._writer.stop()
        self._wake.set()

    def _stop(self) -> None:
        self.closed = True
        self._reader.stop()
        self._writer.stop()
        self._reader.close()
        self._writer.close()
        if self._counted:
            self.state.links -= 1
        try:
            self.sock.close()
        except OSError:
            pass


def serve_connection(state: ServerState, group: GroupCommit, sock, address) -> None:
    """Serve one accepted connection (runs on its own greenlet until the connection ends)."""
    if not state.ipfilter.check(address[0]):
        sock.close()
        return
    configure_socket(sock)
    state.links += 1
    Connection(state, group, sock, address).serve()
