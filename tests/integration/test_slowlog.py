"""server.slowlog_timeout on a real server: the WARN line, the slowlog command, redis-cli and redis-py."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import redis

from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(60)


def _multi_set_81_args(c) -> None:
    args = []
    for i in range(40):
        args += [b"k%02d" % i, b"v" * 300 if i == 0 else b"%d" % i]
    assert c.request(b"multi_set", *args) == [b"ok", b"40"]


def test_slow_requests_are_logged_and_listed(server_factory):
    # 0.001 ms: every request is slower than that, so the test needs no timing luck
    srv = server_factory(server={"slowlog_timeout": "0.001", "slowlog_max_len": 5})
    with srv.client() as c:
        _multi_set_81_args(c)
        got = c.request(b"slowlog", b"get", b"1")
        assert got[0] == b"ok"
        _id, when, dur, client, argc, *args = got[1:]
        assert int(argc) == 32 and len(args) == 32
        assert args[:2] == [b"multi_set", b"k00"]
        assert args[2] == b"v" * 128 + b"... (172 more bytes)"
        assert args[31] == b"... (50 more arguments)"
        assert int(dur) > 0 and int(when) > 1_700_000_000
        assert client.startswith(b"127.0.0.1:")
        for _ in range(6):
            _multi_set_81_args(c)
        assert c.request(b"slowlog", b"len") == [b"ok", b"5"]  # slowlog_max_len
        last = int(c.request(b"slowlog", b"get", b"1")[1])
        assert c.request(b"slowlog", b"reset") == [b"ok"]
        # at most the reset itself (if it took a microsecond), never an entry from before
        left = c.request(b"slowlog", b"get", b"-1")
        assert len(left) in (1, 1 + 5 + 2) and all(int(i) > last for i in left[1::7])
    # SSDB's line, at WARN, with the info level of the harness
    line = wait_for(lambda: [ln for ln in srv.log_path.read_text().splitlines() if "req: multi_set" in ln],
                    timeout=5, what="the slowlog line")[0]
    assert "[WARN ] " in line and "slowlog w:" in line
    assert "req: multi_set k00 [300] k01 1 [76 more...], resp: ok 40" in line


def test_off_by_default(server_factory):
    srv = server_factory()
    with srv.client() as c:
        _multi_set_81_args(c)
        assert c.request(b"slowlog", b"len") == [b"ok", b"0"]
        assert c.request(b"slowlog", b"get") == [b"ok"]
    assert "slowlog w:" not in srv.log_path.read_text()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_reads_slowlog_get(server_factory, protocol):
    srv = server_factory(server={"slowlog_timeout": "0.001"})
    r = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=10, protocol=protocol)
    try:
        r.mset({f"k{i}": str(i) for i in range(40)})
        (entry,) = r.slowlog_get(2)  # the SLOWLOG GET itself is logged once it has run
        assert entry["command"].startswith(b"multi_set k0 0 k1 1 ")  # the request as ssdbpy ran it
        assert entry["command"].endswith(b" ... (50 more arguments)")
        assert entry["id"] == 0 and entry["duration"] > 0 and entry["start_time"] > 1_700_000_000
        assert entry["client_address"].startswith(b"127.0.0.1:") and entry["client_name"] == b""
        assert r.slowlog_len() >= 1
        assert r.slowlog_reset() is True
        assert all(e["id"] > 0 for e in r.slowlog_get(-1))
        with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
            r.execute_command("SLOWLOG", "GET", "-5")
    finally:
        r.close()


def test_redis_cli_reads_slowlog_get(server_factory):
    redis_cli = shutil.which("redis-cli")
    assert redis_cli, "redis-cli is not installed"
    srv = server_factory(server={"slowlog_timeout": "0.001"})
    base = [redis_cli, "--no-raw", "-h", "127.0.0.1", "-p", str(srv.port)]
    assert subprocess.run([*base, "set", "slow", "x"], capture_output=True, text=True, timeout=10).stdout == "OK\n"
    out = subprocess.run([*base, "slowlog", "get", "1"], capture_output=True, text=True, timeout=10).stdout
    lines = out.splitlines()
    assert lines[0].startswith("1) 1) (integer) ")
    assert re.fullmatch(r"   2\) \(integer\) 1[0-9]{9}", lines[1])  # a Unix time
    assert re.fullmatch(r"   3\) \(integer\) [0-9]+", lines[2])
    assert lines[3:6] == ['   4) 1) "set"', '      2) "slow"', '      3) "x"']
    assert lines[6].startswith('   5) "127.0.0.1:') and lines[7] == '   6) ""'
    out = subprocess.run([*base, "slowlog", "len"], capture_output=True, text=True, timeout=10).stdout
    assert out.startswith("(integer) ")
