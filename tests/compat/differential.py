"""Differential test against the real SSDB 1.9.8: the same requests, replies compared byte for byte.

A seeded :class:`tests.compat.generator.Generator` makes a request sequence;
it is sent, one request at a time, to a fresh reference SSDB and a fresh ssdbpy
(each with its own data directory and port), and the raw bytes of each reply
are compared.  Over the SSDB protocol every command of SSDB's table is
generated; over RESP the Redis names of SSDB's mapping table (plus some SSDB
names and unknown ones), on a connection that only ever speaks RESP.

Normalised (``equivalent``): two integer replies to ``ttl`` (``ok N`` /
``:N``) that differ by at most one are equal (the second boundary may fall
between the two servers' clocks); over RESP, SSDB's malformed empty bulk
``$0\r\n`` (no data line, a deliberate difference in docs/compat.md) equals
ssdbpy's ``$0\r\n\r\n``, and for ``LPOP``/``RPOP`` with a count also ``*0\r\n``
or ``*-1\r\n`` (Redis 7's replies, docs/compat.md).  What the generator keeps out of the way, and why,
is in its docstring (``tests/compat/generator.py``).

On a mismatch the report names the seed, the command index, the request, both
replies and the previous commands with their replies, enough to reproduce it
by hand (``ssdb-cli`` or a few lines of Python).

Runs:

* in CI: ``tests/compat/test_differential.py`` (a bounded set of seeds; it skips
  when the reference binary is absent);
* long runs, from the project root::

      .venv/bin/python -m tests.compat.differential --seeds 50 --commands 400 [--first 1000] [--proto ssdb|resp|both]

  prints one line per seed and every mismatch, exits 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ssdbpy.protocol.ssdb import encode_ssdb
from tests.compat.generator import RESP, SSDB, Generator

Send = Callable[[list[bytes]], bytes]
HISTORY = 6


# --- raw replies --------------------------------------------------------------------------------
def ssdb_reply_end(buf: bytes | bytearray) -> int | None:
    """End offset of the first complete SSDB reply packet in ``buf`` (None: more bytes needed)."""
    p = 0
    n = len(buf)
    while True:
        nl = buf.find(b"\n", p)
        if nl < 0:
            return None
        line = bytes(buf[p:nl]).rstrip(b"\r")
        if not line:
            return nl + 1
        size = int(line)
        end = nl + 1 + size
        if end >= n:
            return None
        p = end + 1
        if buf[end] == 13:
            p += 1


def resp_reply_end(buf: bytes | bytearray, p: int = 0) -> int | None:
    """End offset of the RESP value starting at ``p`` (None: more bytes needed)."""
    nl = buf.find(b"\r\n", p)
    if nl < 0:
        return None
    kind, head = buf[p:p + 1], bytes(buf[p + 1:nl])
    q = nl + 2
    if kind in (b"+", b"-", b":", b"_", b",", b"#"):
        return q
    if kind in (b"$", b"=", b"!"):
        size = int(head)
        if size < 0:
            return q
        return q + size + 2 if len(buf) >= q + size + 2 else None
    if kind in (b"*", b"%", b"~", b">"):
        count = int(head)
        if kind == b"%":
            count *= 2
        for _ in range(max(count, 0)):
            q2 = resp_reply_end(buf, q)
            if q2 is None:
                return None
            q = q2
        return q
    raise ValueError(f"not a RESP reply: {bytes(buf[p:p + 40])!r}")


def encode_resp(req: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(req) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in req)


class RawClient:
    """One connection: send a request, return the raw bytes of its reply.

    A reply that does not parse (a server's malformed framing) is returned as
    the bytes received until ``quiet`` seconds passed without more, followed by
    ``<incomplete>``; a connection closed by the server adds ``<connection closed>``
    (or ``<connection reset>``), and the next request goes on a new connection.
    """

    def __init__(self, port: int, proto: str, timeout: float = 20.0, quiet: float = 0.3) -> None:
        self.port = port
        self.sock = self._connect(timeout)
        self.proto = proto
        self.timeout = timeout
        self.quiet = quiet

    def _connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def __call__(self, req: list[bytes]) -> bytes:
        """The reply; a connection the server closed is reported and replaced by a new one."""
        reply = self._request(req)
        if reply.endswith((b"<connection closed>", b"<connection reset>")):
            self.sock.close()
            self.sock = self._connect(self.timeout)
        return reply

    def _request(self, req: list[bytes]) -> bytes:
        if self.proto == SSDB:
            self.sock.sendall(encode_ssdb(req))
            end_of = ssdb_reply_end
        else:
            self.sock.sendall(encode_resp(req))
            end_of = resp_reply_end
        buf = bytearray()
        try:
            while True:
                try:
                    end = end_of(buf) if buf else None
                except ValueError:
                    end = None
                if end is not None:
                    if end != len(buf):
                        raise AssertionError(f"extra bytes after the reply: {bytes(buf[end:end + 80])!r}")
                    return bytes(buf)
                self.sock.settimeout(self.quiet if buf else self.timeout)
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return bytes(buf) + b"<connection closed>"
                buf += chunk
        except TimeoutError:
            if not buf:
                raise
            return bytes(buf) + b"<incomplete>"
        except (ConnectionResetError, BrokenPipeError):
            return bytes(buf) + b"<connection reset>"

    def close(self) -> None:
        self.sock.close()


# --- comparison ---------------------------------------------------------------------------------
def _ttl_int(proto: str, raw: bytes) -> int | None:
    try:
        if proto == SSDB:
            if raw.startswith(b"2\nok\n"):
                size, _, rest = raw[5:].partition(b"\n")
                if len(rest) == int(size) + 2:
                    return int(rest[: int(size)])
            return None
        return int(raw[1:-2]) if raw[:1] == b":" and raw.endswith(b"\r\n") else None
    except ValueError:
        return None


#: SSDB's malformed empty RESP bulk and ssdbpy's well-formed one (docs/compat.md, "Malformed $0")
MALFORMED_EMPTY_BULK = (b"$0\r\n<incomplete>", b"$0\r\n\r\n")


#: ssdbpy's replies to LPOP/RPOP with a count where SSDB writes its malformed ``$0`` (docs/compat.md,
#: "LPOP/RPOP with a count"): the empty array (a count of 0 on a list) or the null array (nothing there)
POP_COUNT_ARRAYS = (b"*0\r\n", b"*-1\r\n")


def is_pop_with_count(req: list[bytes]) -> bool:
    return len(req) >= 3 and req[0].lower() in (b"lpop", b"rpop")


def equivalent(proto: str, req: list[bytes], ref: bytes, ours: bytes) -> bool:
    """Byte equality, except ``ttl`` integer replies one second apart and SSDB's malformed ``$0``.

    SSDB's malformed ``$0`` equals ssdbpy's ``$0\r\n\r\n``, and for ``LPOP``/``RPOP`` with a
    count also ``*0\r\n`` or ``*-1\r\n`` (Redis 7's replies; which one is right depends on
    the list, which the requests after it show).
    """
    if ref == ours:
        return True
    if proto == RESP and (ref, ours) == MALFORMED_EMPTY_BULK:
        return True
    if proto == RESP and ref == MALFORMED_EMPTY_BULK[0] and ours in POP_COUNT_ARRAYS and is_pop_with_count(req):
        return True
    if req and req[0].lower() == b"ttl":
        a, b = _ttl_int(proto, ref), _ttl_int(proto, ours)
        return a is not None and b is not None and abs(a - b) <= 1
    return False


def show(b: bytes, limit: int = 300) -> str:
    return repr(b) if len(b) <= limit else f"{b[:limit]!r}... ({len(b)} bytes)"


def show_request(req: list[bytes], most: int = 12) -> str:
    items = [show(a, 80) for a in req[:most]]
    if len(req) > most:
        items.append(f"... ({len(req)} blocks)")
    return "[" + ", ".join(items) + "]"


@dataclass
class Mismatch:
    seed: int
    proto: str
    index: int
    request: list[bytes]
    ref: bytes
    ours: bytes
    history: list[tuple[int, list[bytes], bytes]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"seed {self.seed} ({self.proto}), command #{self.index}: {show_request(self.request)}",
                 f"  SSDB 1.9.8: {show(self.ref)}", f"  ssdbpy    : {show(self.ours)}", "  previous commands:"]
        for i, req, rep in self.history:
            lines.append(f"    #{i} {show_request(req)} -> {show(rep, 120)}")
        return "\n".join(lines)


def compare(seed: int, proto: str, requests: list[list[bytes]], ref: Send, ours: Send) -> Mismatch | None:
    """Send each request to both; the first difference, or None."""
    history: list[tuple[int, list[bytes], bytes]] = []
    for i, req in enumerate(requests):
        a, b = ref(req), ours(req)
        if not equivalent(proto, req, a, b):
            return Mismatch(seed, proto, i, req, a, b, history[-HISTORY:])
        history.append((i, req, a))
    return None


# --- servers ------------------------------------------------------------------------------------
def run_seed(root: Path, seed: int, commands: int, proto: str) -> Mismatch | None:
    """A fresh reference SSDB and a fresh ssdbpy under ``root``; compare ``commands`` requests."""
    from tests.harness.reference import ReferenceServer
    from tests.harness.server import ServerProcess

    requests = Generator(seed).requests(commands, proto)
    servers = [ReferenceServer(root, f"ref-{proto}-{seed}"), ServerProcess(root, f"ssdbpy-{proto}-{seed}")]
    clients: list[RawClient] = []
    try:
        for s in servers:
            s.start()
        clients = [RawClient(s.port, proto) for s in servers]
        return compare(seed, proto, requests, clients[0], clients[1])
    finally:
        for c in clients:
            c.close()
        for s in servers:
            try:
                s.stop()
            finally:
                s.kill()


def main(argv: list[str] | None = None) -> int:
    from tests.harness import reference

    p = argparse.ArgumentParser(prog="python -m tests.compat.differential", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    p.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--commands", type=int, default=400, help="requests per seed (default 400)")
    p.add_argument("--proto", choices=["ssdb", "resp", "both"], default="ssdb")
    a = p.parse_args(argv)
    if not reference.available():
        print(reference.SKIP_REASON, file=sys.stderr)
        return 2
    protos = [SSDB, RESP] if a.proto == "both" else [a.proto]
    failed = 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ssdbpy-diff-") as tmp:
        for proto in protos:
            for seed in range(a.first, a.first + a.seeds):
                m = run_seed(Path(tmp), seed, a.commands, proto)
                print(f"{proto} seed {seed}: {'ok' if m is None else 'MISMATCH'}", flush=True)
                if m is not None:
                    failed += 1
                    print(m, flush=True)
    total = a.seeds * len(protos)
    print(f"{total - failed}/{total} seeds identical, {a.commands} commands each, {time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
