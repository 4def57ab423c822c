"""Bad input never loses data or stops the server from serving other clients."""

from __future__ import annotations

import random
import socket

import pytest

from ssdbpy.client import Client
from tests.harness.attack import closed_by_server


@pytest.mark.timeout(60)
def test_garbage_and_disconnects_leave_the_server_serving(server):
    c = server.client()
    assert c("set", "keep", "safe") == [b"ok", b"1"]
    assert c("hset", "h", "f", "v") == [b"ok", b"1"]

    bad_frames = [
        b"x\nget\n\n",  # length line not a digit
        b"9999999999999999999\n",  # length header too long
        b"3\ngetX1\na\n\n",  # data not followed by LF
        b"*0\r\n",  # RESP with no arguments
        b"*2\r\n$-1\r\n",  # negative RESP length
        b"PING\r\n",  # inline commands are not supported
        b"\xff\xfe\x00garbage\n\n",
    ]
    for frame in bad_frames:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(frame)
        assert closed_by_server(s), frame
        s.close()

    # a client vanishing in the middle of a request (partial block, partial RESP)
    for frame in (b"3\nset\n4\nhalf", b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$10\r\nab"):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(frame)
        s.close()

    # random binary noise on many connections
    rnd = random.Random(7)
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))))
        except OSError:
            pass
        s.close()

    # the first connection, open all along, still works and nothing was lost
    assert c("get", "keep") == [b"ok", b"safe"]
    assert c("hget", "h", "f") == [b"ok", b"v"]
    assert c("get", "a") == [b"not_found"]  # the half-sent set never ran
    c.close()
    with Client("127.0.0.1", server.port) as fresh:
        assert fresh("ping") == [b"ok"]


@pytest.mark.timeout(60)
def test_error_replies_for_bad_arguments(server):
    c = server.client()
    assert c("get") == [b"client_error", b"wrong number of arguments"]
    assert c("nosuchcommand", "x") == [b"client_error", b"Unknown Command: nosuchcommand"]
    assert c("set", "k" * 256, "v") == [b"error"]
    assert c("hset", "h" * 256, "f", "v") == [b"error"]
    assert c("set", "n", "abc") == [b"ok", b"1"]
    assert c("incr", "n") == [b"error", b"value is not an integer or out of range"]
    assert c("zset", "z", "m", "notanumber") == [b"ok", b"1"]  # int parse: 0, as SSDB
    assert c("zget", "z", "m") == [b"ok", b"0"]
    assert c("setbit", "b", "-1", "1") == [b"client_error", b"offset is out of range [0, 1073741824]"]
    assert c("multi_set", "a") == [b"client_error"]
    # a large value round-trips
    big = b"\x00\xff" * (4 << 20)
    assert c("set", "big", big) == [b"ok", b"1"]
    assert c("get", "big") == [b"ok", big]
    c.close()


@pytest.mark.timeout(120)
def test_oversize_request_resets_only_that_connection(server):
    other = server.client()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    header = b"3\nset\n1\nk\n%d\n" % (129 << 20)
    s.sendall(header)
    chunk = b"x" * (1 << 20)
    reset = False
    try:
        for _ in range(130):
            s.sendall(chunk)
    except (ConnectionResetError, BrokenPipeError):
        reset = True
    if not reset:
        reset = closed_by_server(s, 10)
    assert reset
    s.close()
    assert other("ping") == [b"ok"]
    assert other("get", "k") == [b"not_found"]
    other.close()
