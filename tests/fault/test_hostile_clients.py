"""One hostile or unlucky client cannot stall the server, keep its memory or cut off others.

Each test runs a real server process, a pinger on its own connection (every
10 ms; tests/harness/attack.py) and reads the server's RSS from /proc.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.harness.attack import Pinger, closed_by_server, rss_mb, wait_rss_below

MB = 1 << 20


def ssdb(*args) -> bytes:
    out = []
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"%d\n%s\n" % (len(a), a))
    return b"".join(out) + b"\n"


def resp(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def connect(port: int, timeout: float = 10.0, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_rss(server) -> float:
    """RSS after a warm-up (every code path of the tests below imported and run once)."""
    c = server.client()
    c("set", "warm", "up")
    c("get", "warm")
    c.close()
    time.sleep(0.2)
    return rss_mb(server.pid)


@pytest.mark.timeout(90)
def test_a_huge_declared_count_costs_nothing(server):
    """``*2000000000`` (13 bytes) used to make hiredis allocate, and then free, 2e9 list slots."""
    idle = idle_rss(server)
    headers = [b"*2000000000\r\n", b"*1\r\n*2000000000\r\n", b"*1\r\n>2000000000\r\n",
               b"*1\r\n~2000000000\r\n", b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n*999999999\r\n",
               resp("ping") * 50 + b"*2147483647\r\n"]
    sent = 0
    with Pinger(server.port) as pinger:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            socks = []
            for h in headers:
                s = connect(server.port)
                s.sendall(h)
                socks.append(s)
                sent += 1
            for s in socks:
                s.close()
    pinger.check(0.2)
    assert sent >= 60
    c = server.client()
    assert c("ping") == [b"ok"]
    assert wait_rss_below(server.pid, idle + 150) <= idle + 150


@pytest.mark.timeout(120)
@pytest.mark.parametrize("proto", ["ssdb", "resp"])
def test_memory_of_connections_closed_for_a_framing_error_is_released(server, proto):
    """100 MB requests with a bad end: the connection is dropped and its 100 MB with it."""
    idle = idle_rss(server)
    body = b"v" * (100 * MB)
    if proto == "ssdb":
        bad = b"%d\n" % len(body), body, b"XX"  # data not followed by LF
    else:
        bad = b"*3\r\n$3\r\nset\r\n$%d\r\n" % len(body), body, b"\r\n$-5\r\n"  # negative length
    with Pinger(server.port) as pinger:
        for _ in range(4):
            s = connect(server.port, timeout=30)
            for part in bad:
                s.sendall(part)
            assert closed_by_server(s, 30)
            s.close()
        c = server.client()
        for i in range(200):
            assert c("set", f"k{i}", i) == [b"ok", b"1"]
    pinger.check(0.1)
    after = wait_rss_below(server.pid, idle + 150)
    assert after <= idle + 150, f"RSS {after:.0f} MB after the attack, {idle:.0f} MB idle"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("proto", ["ssdb", "resp"])
def test_a_client_that_never_reads_its_replies_costs_little(server, proto):
    """20,000 pipelined GETs of a 1 MB value, replies never read."""
    idle = idle_rss(server)
    c = server.client()
    assert c("set", "big", b"x" * MB) == [b"ok", b"1"]
    req = ssdb("get", "big") if proto == "ssdb" else resp("GET", "big")
    s = connect(server.port, rcvbuf=64 * 1024)
    peak = 0.0
    with Pinger(server.port) as pinger:
        s.settimeout(0.5)
        data = req * 20000
        view = memoryview(data)
        try:  # as much of the pipeline as the server reads
            while view:
                n = s.send(view[:65536])
                view = view[n:]
                peak = max(peak, rss_mb(server.pid))
        except socket.timeout:
            pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, rss_mb(server.pid))
            assert c("get", "big") == [b"ok", b"x" * MB]  # others are served, big replies included
            time.sleep(0.05)
    pinger.check(0.1)
    assert peak <= 1024, f"peak RSS {peak:.0f} MB"
    # the client reads a little: the requests waiting behind the replies run and go on
    got = 0
    s.settimeout(10)
    while got < 50 * MB:
        got += len(s.recv(MB))
    s.close()
    assert c("get", "big") == [b"ok", b"x" * MB]
    after = wait_rss_below(server.pid, idle + 150)
    assert after <= idle + 150, f"RSS {after:.0f} MB after the client left, {idle:.0f} MB idle"


@pytest.mark.timeout(60)
def test_replies_to_a_client_that_reads_slowly_arrive_complete_and_in_order(server):
    """The requests that waited behind unsent replies run in order once the client reads."""
    c = server.client()
    value = b"y" * (300 * 1024)
    assert c("set", "v", value) == [b"ok", b"1"]
    s = connect(server.port, rcvbuf=32 * 1024)
    reqs, want = [], []
    for i in range(200):
        reqs.append(resp("GET", "v"))
        want.append(b"$%d\r\n%s\r\n" % (len(value), value))
        reqs.append(resp("INCR", "n"))
        want.append(b":%d\r\n" % (i + 1))
    s.sendall(b"".join(reqs[:4]))  # the first requests, then the rest while nothing is read
    threading.Thread(target=s.sendall, args=(b"".join(reqs[4:]),), daemon=True).start()
    time.sleep(0.3)
    expected = b"".join(want)
    got = bytearray()
    s.settimeout(20)
    while len(got) < len(expected):
        chunk = s.recv(MB)
        assert chunk, "connection closed early"
        got += chunk
    assert bytes(got) == expected
    s.close()
    assert c("get", "n") == [b"ok", b"200"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("attack", ["crlf", "spaces", "digits", "ssdb_header"])
def test_odd_input_costs_linear_cpu(server, attack):
    """``*`` then 16 MB of CRLF used to cost 8 s of CPU: every read rescanned from the line start."""
    filler = {"crlf": b"\r\n", "spaces": b" ", "digits": b"1", "ssdb_header": b"1"}[attack]
    head = b"" if attack == "ssdb_header" else b"*"
    chunk = filler * (64 * 1024 // len(filler))
    cpu0 = cpu_seconds(server.pid)
    with Pinger(server.port) as pinger:
        s = connect(server.port)
        s.sendall(head)
        sent = 0
        try:
            while sent < 16 * MB:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server early: fine
        assert closed_by_server(s, 20)
        s.close()
        time.sleep(0.2)
    cpu = cpu_seconds(server.pid) - cpu0
    pinger.check(0.2)
    assert cpu < 1.0, f"{cpu:.2f} s of server CPU"
    assert server.client()("ping") == [b"ok"]
    assert "Traceback" not in server.logs()


@pytest.mark.timeout(60)
def test_client_output_buffer_limit_disconnects_clients_over_it(server_factory):
    # the kernel takes up to ~4 MB of a reply (tcp_wmem), the limits apply to the rest
    srv = server_factory(server={"client_output_buffer_limit": "16mb 1mb 1"})
    c = srv.client()
    assert c("set", "big", b"z" * (24 * MB)) == [b"ok", b"1"]
    assert c("set", "mid", b"m" * (8 * MB)) == [b"ok", b"1"]
    # a client that reads gets replies over the soft limit: they leave as it reads
    assert c("get", "mid") == [b"ok", b"m" * (8 * MB)]

    with Pinger(srv.port) as pinger:
        # hard: 24 MB unsent at once
        s = connect(srv.port, rcvbuf=16 * 1024)
        s.sendall(ssdb("get", "big"))
        time.sleep(0.3)
        assert closed_by_server(s, 10)
        s.close()
        # soft: at least 4 MB left unsent for more than 1 s
        s = connect(srv.port, rcvbuf=16 * 1024)
        s.sendall(ssdb("get", "mid"))
        time.sleep(1.6)
        got = 0
        s.settimeout(10)
        try:
            while chunk := s.recv(MB):
                got += len(chunk)
        except ConnectionResetError:
            pass
        assert got < 8 * MB, "the whole reply was sent: not disconnected"
        s.close()
    pinger.check(0.1)
    assert c("get", "mid")[0] == b"ok"
    log = srv.log_path.read_text()
    assert "over the hard client_output_buffer_limit" in log
    assert "over the soft client_output_buffer_limit" in log


@pytest.fixture
def shm_server(request):
    """A server whose data lives on tmpfs (/dev/shm) when there is one.

    Writing 100 MB values leaves hundreds of MB of dirty pages; the kernel's
    writeback of them (and of the earlier tests' data) competes for this
    machine's two cores at moments of its choosing, which is noise in a
    measurement of the server's own stalls.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from tests.harness.server import ServerProcess

    base = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    srv = ServerProcess(base, "node")
    request.node._ssdb_servers = [srv]
    try:
        yield srv.start()
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()
            shutil.rmtree(base, ignore_errors=True)


#: MB of the big value.  At 100 MB the worst ping is ~50 ms in most runs (CPython copies the
#: argument once on the loop, and once more for the reply, ~0.5 ms per MB each), but on two
#: cores 2 runs in 8 saw one ping of 150-280 ms (benchmarks/RESULTS.md): not a bound this test
#: can hold; 40 MB keeps the same paths with room for the machine's noise.
BIG_MB = 40


@pytest.mark.timeout(120)
@pytest.mark.parametrize("proto", ["ssdb", "resp"])
def test_a_big_value_does_not_stall_the_others(shm_server, proto):
    """``set`` and ``get`` of a big value: parsing, the batch, the write and the reply stay off the others' way."""
    server = shm_server
    idle = idle_rss(server)
    body = b"v" * (BIG_MB * MB)
    if proto == "ssdb":
        put, ok = b"3\nset\n3\nbig\n%d\n" % len(body) + body + b"\n\n", b"2\nok\n1\n1\n\n"
        get, head = ssdb("get", "big"), b"2\nok\n%d\n" % len(body)
    else:
        put, ok = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % len(body) + body + b"\r\n", b"+OK\r\n"
        get, head = resp("GET", "big"), b"$%d\r\n" % len(body)
    want = head + body + (b"\n\n" if proto == "ssdb" else b"\r\n")
    s = connect(server.port, timeout=60)
    got = bytearray(len(want))
    view = memoryview(got)
    for rnd in range(2):
        with Pinger(server.port) as pinger:
            s.sendall(put)
            assert s.recv(64) == ok
            time.sleep(0.2)
        pinger.check(0.1, f"set #{rnd + 1}")
        with Pinger(server.port) as pinger:
            s.sendall(get)
            n = 0
            while n < len(want):
                k = s.recv_into(view[n:])
                assert k, "connection closed"
                n += k
            time.sleep(0.2)
        pinger.check(0.1, f"get #{rnd + 1}")
        assert got == want
    s.close()
    # what stays is LevelDB's: the value in its memtable until the next flush (at 100 MB: 124 MB
    # above idle; 325 MB before 6e9e3af, when the commit thread kept its last batch)
    limit = idle + 1.5 * BIG_MB
    after = wait_rss_below(server.pid, limit)
    assert after <= limit, f"RSS {after:.0f} MB after, {idle:.0f} MB idle"
