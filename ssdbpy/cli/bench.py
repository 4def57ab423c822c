"""ssdb-bench: SSDB's benchmark, phase by phase (tools.md §3).

``requests`` distinct random keys ``k%010d`` with 101-byte values
``v%0100d`` are sent over ``clients`` connections, one outstanding request
per connection, in key order, for each phase: set get del hset hget hdel zset
zget zdel qpush qpop (hash, zset and queue name ``TEST``, zset score = the
random number).  Each phase prints ``qps: N, time: T s``.  Any reply whose
first block is not ``ok`` aborts the run.
"""

from __future__ import annotations

import random
import selectors
import socket
import time
from dataclasses import dataclass
from typing import TextIO

from ssdbpy.client import ReplyReader
from ssdbpy.protocol.ssdb import encode_ssdb

VERSION = "1.9.8"
BANNER = f"ssdb-bench - SSDB benchmark tool, {VERSION}\nCopyright (c) 2013-2014 ssdb.io\n\n"
USAGE = """Usage:
    {prog} [ip] [port] [requests] [clients]

Options:
    ip          server ip (default 127.0.0.1)
    port        server port (default 8888)
    requests    Total number of requests (default 10000)
    clients     Number of parallel connections (default 50)
    -a <pw>     Password (default: the environment variable SSDB_AUTH)

"""
PHASES = ("set", "get", "del", "hset", "hget", "hdel", "zset", "zget", "zdel", "qpush", "qpop")
RAND_MAX = 2**31 - 1
#: a phase with no reply for this long is abandoned (s)
STALL_TIMEOUT = 30.0


class BenchError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Item:
    key: bytes
    val: bytes
    num: bytes


def make_data(n: int, rnd: random.Random | None = None) -> list[Item]:
    """``n`` items with distinct random keys, in key order (SSDB keeps them in a std::map)."""
    rnd = rnd or random.Random()
    items: dict[bytes, Item] = {}
    while len(items) < n:
        x = rnd.randint(0, RAND_MAX)
        key = b"k%010d" % x
        items[key] = Item(key, b"v%0100d" % x, b"%d" % x)
    return [items[k] for k in sorted(items)]


def request(cmd: str, d: Item) -> bytes:
    c = cmd.encode()
    if cmd == "set":
        blocks = [c, d.key, d.val]
    elif cmd in ("get", "del"):
        blocks = [c, d.key]
    elif cmd == "hset":
        blocks = [c, b"TEST", d.key, d.val]
    elif cmd == "zset":
        blocks = [c, b"TEST", d.key, d.num]
    elif cmd in ("hget", "hdel", "zget", "zdel", "qpush"):
        blocks = [c, b"TEST", d.key]
    elif cmd == "qpop":
        blocks = [c, b"TEST"]
    else:
        raise ValueError(f"bad command: {cmd}")
    return encode_ssdb(blocks)


class _Conn:
    __slots__ = ("sock", "reader")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = ReplyReader()


class Bench:
    def __init__(self, host: str, port: int, requests: int, clients: int, out: TextIO,
                 rnd: random.Random | None = None, password: bytes | None = None) -> None:
        self.host = host
        self.port = port
        self.password = password
        self.data = make_data(max(requests, 0), rnd)
        self.clients = max(clients, 1)
        self.out = out
        self.conns: list[_Conn] = []

    def connect(self) -> None:
        for _ in range(self.clients):
            try:
                s = socket.create_connection((self.host, self.port), timeout=10)
            except OSError as exc:
                self.close()
                raise BenchError(f"connect error! {self.host}:{self.port}: {exc}") from None
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(s)
            self.conns.append(conn)
            if self.password is not None:
                self._auth(conn)

    def _auth(self, conn: _Conn) -> None:
        """Authenticate one connection (before the phases: it is not timed)."""
        try:
            conn.sock.sendall(encode_ssdb([b"auth", self.password or b""]))
            while (pkt := conn.reader.next()) is None:
                data = conn.sock.recv(65536)
                if not data:
                    raise BenchError("auth failed: the server closed the connection")
                conn.reader.feed(data)
        except OSError as exc:
            self.close()
            raise BenchError(f"auth failed: {exc}") from None
        if pkt[0] != b"ok":
            self.close()
            raise BenchError("auth failed: " + b" ".join(pkt[:2]).decode("utf-8", "replace"))

    def close(self) -> None:
        for c in self.conns:
            c.sock.close()
        self.conns.clear()

    def phase(self, cmd: str) -> tuple[int, float]:
        """Run one phase; returns (qps, seconds) after printing them as SSDB does."""
        self.out.write(f"========== {cmd} ==========\n")
        self.out.flush()
        total = len(self.data)
        reqs = [request(cmd, d) for d in self.data]
        free = list(self.conns)
        sel = selectors.DefaultSelector()
        for c in self.conns:
            sel.register(c.sock, selectors.EVENT_READ, c)
        sent = finished = 0
        start = time.perf_counter()
        try:
            while finished < total:
                while free and sent < total:
                    free.pop().sock.sendall(reqs[sent])
                    sent += 1
                events = sel.select(STALL_TIMEOUT)
                if not events:
                    raise BenchError(f"no reply for {STALL_TIMEOUT:.0f} s")
                for key, _ in events:
                    conn: _Conn = key.data
                    data = conn.sock.recv(65536)
                    if not data:
                        raise BenchError("the server closed a connection")
                    conn.reader.feed(data)
                    while (pkt := conn.reader.next()) is not None:
                        if pkt[0] != b"ok":
                            raise BenchError("bad response: " + b" ".join(pkt[:2]).decode("utf-8", "replace"))
                        free.append(conn)
                        finished += 1
        finally:
            sel.close()
        elapsed = time.perf_counter() - start
        ts = elapsed if elapsed > 0 else 1.0
        qps = int(total / ts)
        self.out.write("qps: %d, time: %.3f s\n" % (qps, ts))
        self.out.flush()
        return qps, ts

    def run(self, phases: tuple[str, ...] = PHASES) -> dict[str, tuple[int, float]]:
        self.connect()
        try:
            results = {p: self.phase(p) for p in phases}
        finally:
            self.close()
        self.out.write("\n")
        self.out.flush()
        return results
