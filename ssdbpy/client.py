"""A small synchronous SSDB-protocol client (used by ssdb-cli, ssdb-dump, the
replication link and the tests).

Pass ``socket_module=gevent.socket`` to use it inside the gevent server.
"""

from __future__ import annotations

import socket as _socket
from typing import Any, Iterable

from ssdbpy.protocol.ssdb import encode_ssdb


class ConnectionClosed(ConnectionError):
    pass


class ReplyReader:
    """Incremental reader of SSDB-framed packets (``len\\ndata\\n ... \\n``)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data: bytes) -> None:
        if self.pos and self.pos > len(self.buf) // 2:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data

    def next(self) -> list[bytes] | None:
        """The next complete packet, or None if more bytes are needed."""
        buf = self.buf
        p = self.pos
        n = len(buf)
        while p < n and buf[p] in (10, 13):  # blank lines between packets
            p += 1
        blocks: list[bytes] = []
        while True:
            nl = buf.find(b"\n", p)
            if nl < 0:
                return None
            line = bytes(buf[p:nl]).rstrip(b"\r")
            if not line:
                if not blocks:  # stray blank line
                    p = nl + 1
                    continue
                self.pos = nl + 1
                return blocks
            size = int(line)
            start = nl + 1
            end = start + size
            if end >= n:
                return None
            blocks.append(bytes(buf[start:end]))
            p = end + 1
            if buf[end] == 13:
                if p >= n:
                    return None
                p += 1


class Client:
    def __init__(self, host: str = "127.0.0.1", port: int = 8888, timeout: float | None = 10.0,
                 socket_module: Any = _socket) -> None:
        self.host = host
        self.port = port
        self.sock = socket_module.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.reader = ReplyReader()

    @staticmethod
    def _b(a: Any) -> bytes:
        if isinstance(a, bytes):
            return a
        if isinstance(a, (bytearray, memoryview)):
            return bytes(a)
        return str(a).encode()

    def send(self, *args: Any) -> None:
        self.sock.sendall(encode_ssdb([self._b(a) for a in args]))

    def send_many(self, requests: Iterable[Iterable[Any]]) -> None:
        self.sock.sendall(b"".join(encode_ssdb([self._b(a) for a in r]) for r in requests))

    def read(self) -> list[bytes]:
        while True:
            pkt = self.reader.next()
            if pkt is not None:
                return pkt
            data = self.sock.recv(256 * 1024)
            if not data:
                raise ConnectionClosed("connection closed by server")
            self.reader.feed(data)

    def request(self, *args: Any) -> list[bytes]:
        self.send(*args)
        return self.read()

    __call__ = request

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
