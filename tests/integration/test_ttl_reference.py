"""TTL edge cases side by side with the real SSDB 1.9.8 server (skipped when the binary is absent).

Each value is sent as the TTL of ``setx`` and ``expire`` (SSDB framing) and of
``SETEX``/``EXPIRE`` (RESP).  Replies must be identical, except that a ``ttl``
may differ by the one second that can tick between the two servers, or read -1
on one of them when the key (TTL <= 0) has already been expired there.
Half a second later, both servers must agree on which keys still exist.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from ssdbpy.client import Client
from tests.harness import reference
from tests.harness.reference import ReferenceServer

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(not reference.available(), reason=reference.SKIP_REASON)]

VALUES = [
    b"9223372036854775807", b"9223372036854775806", b"-9223372036854775808", b"9223372036854775808",
    b"-9223372036854775809", b"99999999999999999999", b"18446744073709551615", b"4294967296",
    b"4294967295", b"2147483648", b"2147483647", b"-2147483648", b"-2147483649", b"9223372036854",
    b"9223372036854775", b"100", b"1", b"0", b"-0", b"-1", b"-100", b"abc", b"", b"10abc", b" 10",
    b"+5", b"1.5", b"1e3", b"0x10", b"9" * 300,
]
_INT = re.compile(rb":?(-?[0-9]+)\r?\n?")


@pytest.fixture
def servers(tmp_path, server):
    ref = ReferenceServer(tmp_path, "reference")
    try:
        ref.start()
        yield ref, server
    finally:
        ref.kill()


def _ttl_close(a: int, b: int) -> bool:
    return abs(a - b) <= 1 or (a == -1 and b <= 0) or (b == -1 and a <= 0)


def _ssdb_round(port: int) -> tuple[list, list]:
    now, later = [], []
    with Client("127.0.0.1", port) as c:
        for i, v in enumerate(VALUES):
            c.request("set", b"e%d" % i, b"v")
            now.append(("setx", v, c.request("setx", b"k%d" % i, b"v", v)))
            now.append(("ttl-setx", v, c.request("ttl", b"k%d" % i)))
            now.append(("expire", v, c.request("expire", b"e%d" % i, v)))
            now.append(("ttl-expire", v, c.request("ttl", b"e%d" % i)))
            now.append(("expire-missing", v, c.request("expire", b"missing", v)))
        time.sleep(0.5)
        for i, v in enumerate(VALUES):
            later.append(("get-setx", v, c.request("get", b"k%d" % i)))
            later.append(("get-expire", v, c.request("get", b"e%d" % i)))
    return now, later


def _resp(sock: socket.socket, *args: bytes) -> bytes:
    sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    got = b""
    while not got.endswith(b"\r\n"):
        got += sock.recv(4096)
    return got


def _resp_round(port: int) -> list:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i, v in enumerate(VALUES):
            out.append(("SETEX", v, _resp(s, b"SETEX", b"r%d" % i, v, b"v")))
            out.append(("TTL", v, _resp(s, b"TTL", b"r%d" % i)))
            _resp(s, b"SET", b"re%d" % i, b"v")
            out.append(("EXPIRE", v, _resp(s, b"EXPIRE", b"re%d" % i, v)))
    return out


def _compare(ref_rows, our_rows) -> list[str]:
    bad = []
    for (what, v, a), (_w, _v, b) in zip(ref_rows, our_rows):
        if a == b:
            continue
        if what.lower().startswith("ttl"):
            ma, mb = _INT.fullmatch(a[-1] if isinstance(a, list) else a), _INT.fullmatch(b[-1] if isinstance(b, list) else b)
            if ma and mb and _ttl_close(int(ma.group(1)), int(mb.group(1))):
                continue
        bad.append(f"{what} {v[:40]!r}: SSDB {a!r} ssdbpy {b!r}")
    return bad


def test_ttl_edge_cases_match_ssdb(servers):
    ref, ours = servers
    ref_now, ref_later = _ssdb_round(ref.port)
    our_now, our_later = _ssdb_round(ours.port)
    bad = _compare(ref_now, our_now) + _compare(ref_later, our_later)
    bad += _compare(_resp_round(ref.port), _resp_round(ours.port))
    assert not bad, "\n".join(bad)
    assert "Traceback" not in ours.log_path.read_text()
