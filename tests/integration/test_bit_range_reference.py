"""Bit and range commands with out-of-int32 numbers, side by side with SSDB 1.9.8 (skipped without it).

The same requests as tests/unit/commands/test_bit_range_commands.py, in SSDB framing and, for the
commands Redis clients reach (GETBIT, SETBIT, BITCOUNT, SUBSTR, GETRANGE), in RESP; the replies must
be the same bytes on both servers.
"""

from __future__ import annotations

import socket

import pytest

from ssdbpy.client import Client
from tests.harness import reference
from tests.harness.reference import ReferenceServer
from tests.unit.commands.test_bit_range_commands import CASES

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(not reference.available(), reason=reference.SKIP_REASON)]

REDIS_NAMES = (b"getbit", b"setbit", b"bitcount", b"substr", b"getrange", b"get")


def _ssdb_replies(port: int) -> list:
    with Client("127.0.0.1", port) as c:
        c.request(b"set", b"foo", b"bar")
        c.request(b"set", b"hi", b"\xff\x80")
        return [c.request(*req) for req, _ in CASES]


def _resp_replies(port: int) -> list[bytes]:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for req in [(b"del", b"s")] + [req for req, _ in CASES if req[0] in REDIS_NAMES]:
            s.sendall(b"*%d\r\n" % len(req) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in req))
            data = s.recv(65536)
            while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2
                                                 and not data.startswith(b"$-1")):
                data += s.recv(65536)
            out.append(data)
    return out


def test_same_replies_as_ssdb(tmp_path, server):
    ref = ReferenceServer(tmp_path, "reference")
    try:
        ref.start()
        theirs = (_ssdb_replies(ref.port), _resp_replies(ref.port))
    finally:
        ref.kill()
    assert theirs[0] == [want for _, want in CASES]  # the recorded replies are still SSDB's
    assert (_ssdb_replies(server.port), _resp_replies(server.port)) == theirs
