"""One client connection: read, parse every complete request, execute, one write.

All complete requests of one read are executed in order; their writes, and
those of every other connection served in the same turn of the event loop,
reach LevelDB in one batch (server.commit) before the replies, joined into
one buffer, are sent with one ``sendall``.
"""

from __future__ import annotations

import logging
import socket

import gevent

from ssdbpy.commands import redis_compat
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
from ssdbpy.commands.registry import Backend
from ssdbpy.errors import ProtocolError
from ssdbpy.protocol.sniff import RequestParser
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.server.commit import CommitFailed, GroupCommit

log = logging.getLogger("ssdbpy.conn")

RECV_SIZE = 64 * 1024  # below malloc's mmap threshold: a bigger buffer costs an mmap per recv
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {1, 0}


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


def fast_io(sock):
    """``recv``/``sendall`` on the non-blocking socket under gevent's wrapper.

    A request/reply server reads right after it replied, when the next request
    has usually not arrived yet: waiting for readability first saves a failed
    recv (and its exception) per request, and a reply that fits in the socket
    buffer (nearly all) is sent by one direct ``send``.
    """
    raw = getattr(sock, "_sock", None)
    wait = getattr(sock, "_wait", None)
    read_event = getattr(sock, "_read_event", None)
    if raw is None or wait is None or read_event is None or raw.gettimeout() != 0.0:
        return sock.recv, sock.sendall  # not a gevent socket: plain calls
    raw_recv = raw.recv
    raw_send = raw.send
    slow_sendall = sock.sendall
    replied = [False]  # True right after a reply: the peer is most likely still reading it

    def recv(n: int = RECV_SIZE) -> bytes:
        if replied[0]:
            replied[0] = False
            wait(read_event)
        while True:
            try:
                return raw_recv(n)
            except BlockingIOError:
                wait(read_event)

    def sendall(data: bytes) -> None:
        try:
            sent = raw_send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            slow_sendall(memoryview(data)[sent:])
        replied[0] = True

    return recv, sendall


def serve_connection(state: ServerState, group: GroupCommit, sock, address) -> None:
    ip, port = address[0], address[1]
    if not state.ipfilter.check(ip):
        sock.close()
        return
    configure_socket(sock)
    ctx = Context(state, ip, port)
    db = state.db
    parser = RequestParser()
    feed = parser.feed
    next_request = parser.next
    recv, sendall = fast_io(sock)
    translate = redis_compat.translate
    desc = None  # RESP descriptor of the last RESP request (sticky, as SSDB)
    proto = 2  # RESP version of the replies: 3 after HELLO 3 (translate then renders RESP3)
    client_id = 0  # given on the first HELLO
    state.links += 1
    counted = True
    try:
        while True:
            data = recv(RECV_SIZE)
            if not data:
                return
            feed(data)
            out: list[bytes] = []
            backend = None
            broken = False
            while True:
                try:
                    req = next_request()
                except ProtocolError:
                    log.debug("%s:%d link parse error, delete link", ip, port)
                    broken = True
                    break
                if req is None:
                    break
                is_resp, args = req
                if is_resp:
                    try:
                        args, desc = translate(args)
                    except redis_compat.Hello as hello:  # costs nothing until a client says HELLO
                        client_id = client_id or next(redis_compat.client_ids)
                        text, proto = redis_compat.hello(ctx, hello.request, proto, client_id)
                        translate, desc = redis_compat.PROTOCOLS[proto]
                        out.append(text)
                        continue
                reply = execute(ctx, args)
                if reply.__class__ is Backend:
                    backend = reply
                    break
                out.append(encode_ssdb(reply) if desc is None else desc.render(reply))
            if db.engine.dirty:
                group.wait()  # the batch is in LevelDB before any reply leaves
            if out:
                sendall(b"".join(out))
            if broken:
                return
            if backend is not None:
                state.links -= 1
                counted = False
                backend.run(Link(sock, parser, (ip, port)))
                return
    except (ConnectionError, OSError, CommitFailed):
        return
    finally:
        if counted:
            state.links -= 1
        try:
            sock.close()
        except OSError:
            pass
