"""Replay every recorded SSDB 1.9.8 transcript against a freshly started ssdbpy process.

Every vector must match byte for byte, except those that docs/compat.md lists
as deliberate fixes (by ``file.jsonl:line``): those must give ssdbpy's corrected
reply (FIXED).
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from ssdbpy.client import ReplyReader
from ssdbpy.protocol.ssdb import encode_ssdb
from tests.harness.vectors import VECTORS, Vector, deliberate_fixes, load

FILES = sorted(p.name for p in VECTORS.glob("*.jsonl"))

MAX = b"9223372036854775807"
#: what ssdbpy replies instead, for every vector docs/compat.md lists as a deliberate fix
FIXED = {
    "redis_mixed.jsonl:3": b"$0\r\n\r\n",
    "zset.jsonl:25": [b"ok", b"h", MAX, b"f", MAX, b"a", b"20"],
    "zset.jsonl:31": [b"ok", b"2"],
    "zset.jsonl:40": [b"ok", b"h", MAX, b"f", MAX, b"a", b"20", b"d", b"1", b"e", b"0", b"c", b"0", b"b", b"-5",
                      b"g", b"-9223372036854775808"],
    "zset.jsonl:71": [b"ok", b"h", MAX, b"f", MAX],
}


def test_fixes_match_compat_doc():
    assert set(FIXED) == deliberate_fixes()
QUIET = 0.4  # s of silence that ends a raw reply (as the recorder did)


def test_vector_files_present():
    assert len(FILES) == 9, f"expected the 9 vector files in {VECTORS}, found {FILES}"


def resp_request(args: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = ReplyReader()
        self.pending = b""

    def packet(self) -> list[bytes]:
        while True:
            pkt = self.reader.next()
            if pkt is not None:
                return pkt
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def exactly(self, n: int, timeout: float = 5.0) -> bytes:
        buf = self.pending
        deadline = time.monotonic() + timeout
        while len(buf) < n and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            buf += data
        self.pending = buf[n:]
        return buf[:n]

    def until_quiet(self) -> bytes:
        buf = self.pending
        self.pending = b""
        self.sock.settimeout(QUIET)
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return buf
            except ConnectionResetError:
                return buf + b"<RST>"
            if not data:
                return buf + b"<EOF>"
            buf += data


def _int_reply(got: list[bytes]) -> bool:
    return len(got) == 2 and got[0] == b"ok" and re.fullmatch(rb"-?\d+", got[1]) is not None


def run_vector(v: Vector, conn: Conn, resp_file: bool):
    """Returns (ok, got) for one vector."""
    if v.send_raw is not None:
        conn.sock.sendall(v.send_raw)
        got = conn.until_quiet()
        return got == v.expect_raw, got
    assert v.send is not None
    if resp_file:
        conn.sock.sendall(resp_request(v.send))
        if v.kind == "ok_any":
            got = conn.exactly(1)
            conn.until_quiet()  # the rest of the (environment dependent) array
            return got == b"*", got
        if v.kind == "int":
            got = conn.exactly(1)
            rest = b""
            while not rest.endswith(b"\r\n"):
                rest += conn.exactly(1)
            got += rest
            return re.fullmatch(rb":-?\d+\r\n", got) is not None, got
        got = conn.exactly(len(v.expect_raw))
        return got == v.expect_raw, got
    conn.sock.sendall(encode_ssdb(v.send))
    if v.nresp:
        got = [conn.packet() for _ in range(v.nresp)]
        return got == v.expect, got
    got = conn.packet()
    if v.kind == "int":
        return _int_reply(got), got
    if v.kind == "ok_any":
        return got[:1] == [b"ok"], got
    return got == v.expect, got


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", FILES)
def test_replay(name, server_factory, capsys):
    config, vectors = load(VECTORS / name)
    server_opts = {k.split(".", 1)[1]: v for k, v in config.items() if k.startswith("server.")}
    srv = server_factory("vec", server=server_opts)
    fixes = deliberate_fixes()
    conns: dict[str, Conn] = {}
    failures = []
    passed = fixed = 0
    try:
        for v in vectors:
            if v.id in fixes:
                # a deliberate difference: the corrected reply is checked instead
                if v.send_raw is not None:
                    v.expect_raw = FIXED[v.id]
                else:
                    v.expect = FIXED[v.id]
                fixed += 1
            conn = conns.get(v.conn)
            if conn is None:
                conn = conns[v.conn] = Conn(srv.port)
            try:
                ok, got = run_vector(v, conn, name == "redis.jsonl")
            except (OSError, ValueError) as exc:
                ok, got = False, repr(exc)
                conns.pop(v.conn, None)
            if ok:
                passed += v.id not in fixes
            else:
                failures.append(f"{v.id} send={v.send or v.send_raw!r}\n   expected {v.expect or v.expect_raw!r}\n   got      {got!r}")
    finally:
        for c in conns.values():
            c.sock.close()
    with capsys.disabled():
        print(f"\n{name}: {passed} passed as recorded, {fixed} deliberate fixes (docs/compat.md) checked, "
              f"{len(failures)} failed")
    assert not failures, f"{len(failures)} vectors differ:\n" + "\n".join(failures)
