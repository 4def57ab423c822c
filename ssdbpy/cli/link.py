"""The shell's connection: one request at a time, reconnecting as SSDB's ssdb-cli does."""

from __future__ import annotations

import socket
import time
from typing import Callable, TextIO

from ssdbpy.client import Client, ConnectionClosed
from ssdbpy.cli.render import Response, interpret

CONNECT_TIMEOUT = 5.0
MAX_RETRY = 5


class Link:
    """A connection to ``host:port`` that remembers the password for reconnects.

    ``request`` returns the reply blocks, or None once the connection is found
    closed (the link is then closed; ``connect`` opens a new one).
    """

    def __init__(self, host: str, port: int, password: bytes | None = None) -> None:
        self.host = host
        self.port = port
        self.password = password
        self.client: Client | None = None

    def connect(self) -> None:
        """Open the connection (raises OSError); no read timeout: commands may run long."""
        self.close()
        c = Client(self.host, self.port, timeout=CONNECT_TIMEOUT)
        c.sock.settimeout(None)
        self.client = c

    @property
    def connected(self) -> bool:
        return self.client is not None

    def request(self, *args: bytes) -> list[bytes] | None:
        c = self.client
        if c is None:
            return None
        try:
            c.send(*args)
            return c.read()
        except (OSError, ConnectionClosed, ValueError):
            self.close()
            return None

    def call(self, cmd: bytes, *args: bytes) -> Response:
        """The interpreted reply (status ``disconnected`` when the connection closed)."""
        return interpret(cmd, list(args), self.request(cmd, *args))

    def authenticate(self) -> list[bytes] | None:
        if self.password is None:
            return None
        return self.request(b"auth", self.password)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def request_with_retry(self, err: TextIO, cmd: bytes, args: list[bytes],
                           sleep: Callable[[float], None] = time.sleep) -> list[bytes] | None:
        """Send ``cmd args``; on a closed connection reconnect up to 5 times, printing SSDB's
        ``[n/5] reconnecting to server...`` lines.  None if every attempt failed."""
        retry = 0
        while True:
            resp = self.request(cmd, *args)
            if resp is not None:
                return resp
            self.close()
            sleep(min(retry, 3))
            retry += 1
            if retry > MAX_RETRY:
                err.write("cannot connect to server, give up...\n")
                err.flush()
                return None
            err.write(f"[{retry}/{MAX_RETRY}] reconnecting to server... ")
            err.flush()
            try:
                self.connect()
            except (OSError, socket.timeout) as exc:
                err.write(f"Connect error: {exc}\n")
                err.flush()
                continue
            err.write("done.\n")
            err.flush()
            self.authenticate()
