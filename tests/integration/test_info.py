"""``info`` on a real server: SSDB's layout per argument, real per-command counters, ssdbpy's extra fields."""

from __future__ import annotations

import re
import socket

import pytest

from ssdbpy.info import VERSION

pytestmark = pytest.mark.timeout(60)


def pairs(reply: list[bytes]) -> list[tuple[bytes, bytes]]:
    assert reply[:2] == [b"ok", b"ssdb-server"]
    body = reply[2:]
    return list(zip(body[::2], body[1::2]))


def cmd_stats(reply: list[bytes]) -> dict[bytes, tuple[int, int, int]]:
    out = {}
    for k, v in pairs(reply):
        if k.startswith(b"cmd."):
            m = re.fullmatch(rb"calls: (\d+)\ttime_wait: (\d+)\ttime_proc: (\d+)", v)
            assert m, v
            out[k[4:]] = tuple(int(x) for x in m.groups())
    return out


def resp(sock: socket.socket, *args: bytes) -> bytes:
    sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    return sock.recv(65536)


# the SSDB fields in SSDB 1.9.8's order (recorded from the reference server), for each argument
SSDB_KEYS = [b"version", b"links", b"total_calls", b"dbsize", b"binlogs", b"serv_key_range"]


def test_layout_per_argument_is_ssdb_s(server):
    with server.client() as c:
        def keys(*arg):
            return [k for k, _ in pairs(c.request(b"info", *arg)) if not k.startswith(b"cmd.")]

        base = len(SSDB_KEYS)
        assert keys()[:base + 2] == SSDB_KEYS + [b"data_key_range", b"leveldb.stats"]
        assert keys(b"range")[:base + 1] == SSDB_KEYS + [b"data_key_range"]
        assert keys(b"leveldb")[:base + 1] == SSDB_KEYS + [b"leveldb.stats"]
        assert b"data_key_range" not in keys(b"cmd") and b"leveldb.stats" not in keys(b"cmd")
        assert keys(b"x")[:base] == SSDB_KEYS and b"data_key_range" not in keys(b"x")
        assert dict(pairs(c.request(b"info")))[b"version"] == VERSION


def test_calls_and_times_count_both_protocols(server):
    with server.client() as c, socket.create_connection(("127.0.0.1", server.port), timeout=5) as r:
        for i in range(7):
            assert c.request(b"set", b"k%d" % i, b"v") == [b"ok", b"1"]
        for i in range(5):
            assert resp(r, b"SET", b"r%d" % i, b"v") == b"+OK\r\n"
        assert resp(r, b"GET", b"r1") == b"$1\r\nv\r\n"
        assert c.request(b"get") == [b"client_error", b"wrong number of arguments"]
        big = [x for i in range(200) for x in (b"m%d" % i, b"v" * 100)]
        c.send_many([[b"multi_set", *big]] * 200)  # pipelined: some ms of processing in all
        for _ in range(200):
            assert c.read() == [b"ok", b"200"]
        stats = cmd_stats(c.request(b"info", b"cmd"))
        assert stats[b"set"][0] == 12
        assert stats[b"get"][0] == 2
        assert stats[b"multi_set"][0] == 200 and stats[b"multi_set"][2] >= 1  # ms
        total = dict(pairs(c.request(b"info")))[b"total_calls"]
        assert int(total) == sum(s[0] for s in stats.values()) + 1  # + the info cmd itself


def test_ssdbpy_fields_come_after_every_ssdb_field(server):
    import ssdbpy

    with server.client() as c, server.client() as other:
        other.request(b"ping")
        for arg in ((), (b"cmd",), (b"range",), (b"leveldb",), (b"x",)):
            reply = c.request(b"info", *arg)
            names = [k for k, _ in pairs(reply)]
            extra = [b"ssdbpy_version", b"uptime_in_seconds", b"used_memory_rss", b"connected_clients",
                     b"total_commands_processed", b"instantaneous_ops_per_sec"]
            assert names[-6:] == extra and not set(extra) & set(names[:-6])
        f = dict(pairs(c.request(b"info")))
        assert f[b"ssdbpy_version"] == ssdbpy.__version__.encode() and f[b"version"] == b"1.9.8"
        assert 0 <= int(f[b"uptime_in_seconds"]) < 60
        rss_kb = int(re.search(rb"VmRSS:\s+(\d+) kB", open(f"/proc/{server.pid}/status", "rb").read()).group(1))
        assert abs(int(f[b"used_memory_rss"]) - rss_kb * 1024) < 8 * 1024 * 1024
        assert int(f[b"connected_clients"]) == int(f[b"links"]) == 2
        assert int(f[b"total_commands_processed"]) == int(f[b"total_calls"])


def test_instantaneous_ops_per_sec(server):
    import time

    with server.client() as c:
        deadline = time.monotonic() + 2.2
        while time.monotonic() < deadline:  # busy for over two samples
            c.send_many([[b"ping"]] * 500)
            for _ in range(500):
                c.read()
        busy = int(dict(pairs(c.request(b"info")))[b"instantaneous_ops_per_sec"])
        assert busy > 500
        time.sleep(2.2)  # two samples without a request
        assert dict(pairs(c.request(b"info")))[b"instantaneous_ops_per_sec"] == b"0"
