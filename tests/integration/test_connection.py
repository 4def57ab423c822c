"""The connection layer (ssdbpy/server/connection.py) against a real server process.

A connection is served from event-loop callbacks: one recv, every complete
request executed, one send.  Replies that depend on writes not yet in LevelDB
leave from the group commit's after-commit callback; a partial send finishes
from a write-watcher callback; ``blocking`` commands (``compact``) and backend
commands (``dump``) are handed to the connection's greenlet, which serves the
rest of the buffered input and gives the connection back.  These tests drive
each of those hand-offs with pipelined input, slow readers, framing errors and
vanishing clients, and check every reply byte for byte and in order.
"""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from ssdbpy.client import Client, ReplyReader
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(60)


# --- wire helpers ---------------------------------------------------------------------------
def _b(a) -> bytes:
    return a if isinstance(a, bytes) else str(a).encode()


def ssdb(*args) -> bytes:
    """One SSDB-framed request (or reply): ``len\\ndata\\n`` blocks, then an empty line."""
    return b"".join(b"%d\n%s\n" % (len(_b(a)), _b(a)) for a in args) + b"\n"


def resp(*args) -> bytes:
    """One RESP multi-bulk request."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def raw(server, timeout: float = 10.0, rcvbuf: int | None = None) -> socket.socket:
    """A raw connection; ``rcvbuf`` set before connecting, so the TCP window stays that small."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", server.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exact(s: socket.socket, n: int, timeout: float = 10.0) -> bytes:
    """Exactly ``n`` bytes (fails with what arrived if the peer stops or closes first)."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"only {len(buf)} of {n} bytes in {timeout}s; last bytes: {bytes(buf[-200:])!r}")
        s.settimeout(left)
        try:
            chunk = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            continue
        except ConnectionResetError as exc:
            raise AssertionError(f"connection reset after {len(buf)} of {n} bytes; "
                                 f"last bytes: {bytes(buf[-200:])!r}") from exc
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes; last bytes: {bytes(buf[-200:])!r}")
        buf += chunk
    return bytes(buf)


def nothing_more(s: socket.socket, wait: float = 0.3) -> bytes:
    """Bytes that arrive within ``wait`` s (b"" if none; the connection must stay open)."""
    s.settimeout(wait)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return b""
    assert data, "the server closed the connection"
    return data


def read_to_close(s: socket.socket, timeout: float = 10.0) -> tuple[bytes, str]:
    """Everything until the server closes: (bytes, "eof" | "reset"); fails if it stays open."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the server did not close the connection in {timeout}s "
                                 f"(received {len(buf)} bytes)")
        s.settimeout(left)
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not chunk:
            return bytes(buf), "eof"
        buf += chunk


def assert_same_bytes(got: bytes, want: bytes, note: str = "") -> None:
    """``got == want``, reported by the first difference (the streams may be megabytes long)."""
    if got == want:
        return
    n = min(len(got), len(want))
    i = next((i for i in range(n) if got[i] != want[i]), n)
    raise AssertionError(f"{note}streams differ at byte {i} (got {len(got)} bytes, want {len(want)}): "
                         f"got {got[max(0, i - 40):i + 80]!r}, want {want[max(0, i - 40):i + 80]!r}")


def info_field(c: Client, name: bytes) -> bytes:
    info = c("info")
    assert info[0] == b"ok", info
    return info[info.index(name) + 1]


def log_problems(server) -> list[str]:
    """Lines of the server log that report an exception caught in the connection layer."""
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    text += (server.root / "stderr.txt").read_text(errors="replace") if (server.root / "stderr.txt").exists() else ""
    bad = ("connection failed", "after-commit callback failed", "Traceback", "LevelDB write failed")
    return [line for line in text.splitlines() if any(b in line for b in bad)]


OK1 = ssdb("ok", "1")  # a write's reply
PONG = ssdb("ok")


# --- 1. pipelining across the greenlet hand-off ---------------------------------------------
def test_pipelined_order_across_blocking_commands(server):
    # an SSDB-only pipeline: writes, compact (the greenlet takes over), then more writes and reads
    s = raw(server)
    s.sendall(ssdb("set", "a", "1") + ssdb("incr", "a") + ssdb("compact") + ssdb("get", "a")
              + ssdb("set", "b", "2") + ssdb("get", "b") + ssdb("incr", "a", "10") + ssdb("compact")
              + ssdb("multi_get", "a", "b") + ssdb("get", "nope"))
    want = (OK1 + ssdb("ok", "2") + PONG + ssdb("ok", "2")
            + OK1 + ssdb("ok", "2") + ssdb("ok", "12") + PONG
            + ssdb("ok", "a", "12", "b", "2") + ssdb("not_found"))
    assert_same_bytes(read_exact(s, len(want)), want)
    assert nothing_more(s) == b""

    # the callbacks took the connection back: ordinary round trips, then another pipeline
    for i in range(20):
        s.sendall(ssdb("incr", "a"))
        assert read_exact(s, len(ssdb("ok", 12 + i + 1))) == ssdb("ok", 12 + i + 1)
    s.sendall(b"".join(ssdb("set", f"p{i}", i) for i in range(100)) + ssdb("get", "p99"))
    want = OK1 * 100 + ssdb("ok", "99")
    assert_same_bytes(read_exact(s, len(want)), want)

    # requests in a second send may arrive while the greenlet holds the connection (compact
    # running): they wait in the socket and are served, in order, once the callbacks read again
    s.sendall(ssdb("set", "c", "x") + ssdb("compact"))
    s.sendall(ssdb("get", "c") + ssdb("incr", "a"))
    want = OK1 + PONG + ssdb("ok", "x") + ssdb("ok", "33")
    assert_same_bytes(read_exact(s, len(want)), want)
    s.close()


def test_pipelined_mix_of_ssdb_and_resp_across_blocking_commands(server):
    # SSDB-framed and RESP requests in one send, with compact in both framings.  A connection
    # renders every reply with the descriptor of its last RESP request, even the replies to
    # SSDB-framed requests (protocol.md §3.6): the expected bytes follow that rule.
    reqs = [
        ssdb("set", "a", "1"),        # no RESP yet: SSDB reply
        resp("incr", "a"),            # int
        ssdb("compact"),              # rendered as incr's int: [ok] -> the empty bulk
        resp("get", "a"),             # bulk
        ssdb("set", "b", "2"),        # rendered as get's bulk: [ok, 1] -> $1 1
        resp("GET", "b"),             # bulk
        resp("COMPACT"),              # unmapped: generic array of the blocks after ok -> *0
        resp("set", "c", "3"),        # status
        ssdb("incr", "a", "5"),       # rendered as set's status
        resp("INCRBY", "a", "10"),    # int
        resp("get", "c"),             # bulk
    ]
    want = [
        OK1,
        b":2\r\n",
        b"$0\r\n\r\n",
        b"$1\r\n2\r\n",
        b"$1\r\n1\r\n",
        b"$1\r\n2\r\n",
        b"*0\r\n",
        b"+OK\r\n",
        b"+OK\r\n",
        b":17\r\n",
        b"$1\r\n3\r\n",
    ]
    s = raw(server)
    s.sendall(b"".join(reqs))
    assert_same_bytes(read_exact(s, len(b"".join(want))), b"".join(want))
    assert nothing_more(s) == b""
    # afterwards the connection keeps working from the callbacks (and keeps the last descriptor)
    for i in range(10):
        s.sendall(resp("incr", "a"))
        assert read_exact(s, len(b":%d\r\n" % (18 + i))) == b":%d\r\n" % (18 + i)
    s.sendall(resp("set", "d", "4") + resp("get", "d") + resp("get", "a"))
    want2 = b"+OK\r\n$1\r\n4\r\n$2\r\n27\r\n"
    assert read_exact(s, len(want2)) == want2
    s.close()

    # the same requests sent one at a time, each reply awaited, give the same bytes:
    # pipelining across the hand-off changes nothing (fresh keys on a fresh connection)
    c = server.client()
    assert c("del", "a")[0] == b"ok" and c("del", "b")[0] == b"ok" and c("del", "c")[0] == b"ok"
    c.close()
    s = raw(server)
    got = []
    for req, w in zip(reqs, want):
        s.sendall(req)
        got.append(read_exact(s, len(w)))
    assert got == want
    s.close()


# --- 2. slow reader, large replies ------------------------------------------------------------
def test_slow_reader_with_large_replies(server):
    rnd = random.Random(2)
    values = [rnd.randbytes(1 << 20) for _ in range(12)]
    c = server.client()
    for i, v in enumerate(values):
        assert c("set", f"big{i}", v) == [b"ok", b"1"]

    # a reader with a small window: the server's send hits a full socket buffer at once
    s = raw(server, rcvbuf=32 * 1024)
    reqs, want = [], []
    n = 0
    for j in range(48):
        k = (j * 5) % len(values)
        reqs.append(ssdb("get", f"big{k}"))
        want.append(ssdb("ok", values[k]))
        if j % 6 == 0:  # writes in the pipeline: some replies also wait for a commit
            n += 1
            reqs.append(ssdb("incr", "slow:n"))
            want.append(ssdb("ok", n))
    s.sendall(b"".join(reqs))
    time.sleep(0.3)
    # more requests while the server is not reading from this connection
    s.sendall(ssdb("get", "big3") + ssdb("set", "slow:last", "L") + ssdb("get", "slow:last"))
    want += [ssdb("ok", values[3]), OK1, ssdb("ok", "L")]

    # meanwhile another client is served, writes and large reads included (the slow
    # reader's requests run as it reads its replies: Connection.OUTPUT_CHUNK)
    t0 = time.monotonic()
    assert c("ping") == [b"ok"]
    assert c("set", "other", "o") == [b"ok", b"1"]
    assert c("get", "other") == [b"ok", b"o"]
    assert c("get", "big7") == [b"ok", values[7]]
    assert c("incr", "other:n") == [b"ok", b"1"]
    assert time.monotonic() - t0 < 5

    # now read it all: every reply, byte for byte, in order
    expected = b"".join(want)
    assert len(expected) > 40 << 20
    assert_same_bytes(read_exact(s, len(expected), timeout=30), expected)
    assert nothing_more(s) == b""

    # the connection still works, pipelined or not
    s.sendall(ssdb("ping"))
    assert read_exact(s, len(PONG)) == PONG
    s.sendall(ssdb("get", "other") + ssdb("incr", "slow:n") + ssdb("get", "big0"))
    want = ssdb("ok", "o") + ssdb("ok", n + 1) + ssdb("ok", values[0])
    assert_same_bytes(read_exact(s, len(want)), want)
    s.close()
    c.close()


def test_slow_reader_of_replies_that_wait_for_a_commit(server):
    """Large replies to a pipeline that writes: the commit callback's send is the partial one."""
    big = random.Random(3).randbytes(3 << 20)
    s = raw(server, rcvbuf=16 * 1024)
    reqs = [ssdb("set", "v", big)]
    want = [OK1]
    for i in range(8):
        reqs += [ssdb("get", "v"), ssdb("set", f"w{i}", i)]
        want += [ssdb("ok", big), OK1]
    s.sendall(b"".join(reqs))
    time.sleep(0.3)
    with Client("127.0.0.1", server.port, timeout=5) as other:
        # served meanwhile; the requests behind replies not yet read wait for them
        # (Connection.OUTPUT_CHUNK), so how many of the w* keys exist depends on the
        # socket buffers' sizes
        assert other("multi_get", "w0", "w7")[0] == b"ok"
    expected = b"".join(want)
    assert_same_bytes(read_exact(s, len(expected), timeout=30), expected)
    with Client("127.0.0.1", server.port, timeout=5) as other:
        assert other("multi_get", "w0", "w7") == [b"ok", b"w0", b"0", b"w7", b"7"]
    s.sendall(ssdb("get", "w3"))
    assert read_exact(s, len(ssdb("ok", "3"))) == ssdb("ok", "3")
    s.close()


# --- 3. framing error after pipelined writes ------------------------------------------------
def test_framing_error_after_a_write_sends_its_reply_then_closes(server):
    s = raw(server)
    s.sendall(resp("set", "k", "v") + b"x\nget\n\n")  # 'x' is not a length: a framing error
    data, how = read_to_close(s)
    assert data == b"+OK\r\n", (data, how)
    s.close()
    with Client("127.0.0.1", server.port, timeout=5) as c:
        assert c("get", "k") == [b"ok", b"v"]
        assert c("ping") == [b"ok"]


def test_framing_error_after_many_pipelined_writes(server):
    reqs, want = [], []
    for i in range(300):
        if i % 2:
            reqs.append(ssdb("set", f"f{i}", f"v{i}"))
            want.append(OK1)
        else:
            reqs.append(ssdb("incr", "fcount", 1))
            want.append(ssdb("ok", i // 2 + 1))
    s = raw(server)
    s.sendall(b"".join(reqs) + b"3\ngetX1\na\n\n" + ssdb("set", "after", "error"))
    data, how = read_to_close(s)
    assert_same_bytes(data, b"".join(want), f"connection ended by {how}: ")
    s.close()
    with Client("127.0.0.1", server.port, timeout=5) as c:
        assert c("get", "fcount") == [b"ok", b"150"]
        got = c("multi_get", *[f"f{i}" for i in range(1, 300, 2)])
        assert got[0] == b"ok" and got[2::2] == [b"v%d" % i for i in range(1, 300, 2)]
        assert c("get", "after") == [b"not_found"]  # nothing after the error ran


def test_framing_error_after_a_blocking_command(server):
    """The greenlet serves compact and the rest of the input, then meets the framing error."""
    s = raw(server)
    s.sendall(ssdb("set", "g1", "1") + ssdb("compact") + ssdb("set", "g2", "2") + ssdb("get", "g1")
              + b"PING\r\n" + ssdb("set", "g3", "3"))
    data, how = read_to_close(s)
    assert_same_bytes(data, OK1 + PONG + OK1 + ssdb("ok", "1"), f"connection ended by {how}: ")
    s.close()
    with Client("127.0.0.1", server.port, timeout=5) as c:
        assert c("multi_get", "g1", "g2", "g3") == [b"ok", b"g1", b"1", b"g2", b"2"]


@pytest.mark.parametrize("framing", ["ssdb", "resp"])
def test_framing_error_after_large_replies_to_a_slow_reader(server, framing):
    """The replies before the error do not fit in the socket buffers (the reader has a small
    window and is not reading yet): they are all delivered, the last part from the write
    watcher, and only then is the connection closed."""
    big = random.Random(4).randbytes(1 << 20)
    with Client("127.0.0.1", server.port, timeout=10) as c:
        assert c("set", "big", big) == [b"ok", b"1"]
    s = raw(server, rcvbuf=16 * 1024)
    if framing == "ssdb":
        s.sendall(ssdb("set", "k2", "v2") + ssdb("get", "big") * 6 + b"x\n")  # 'x' is not a length
        want = OK1 + ssdb("ok", big) * 6
    else:
        s.sendall(resp("set", "k2", "v2") + resp("get", "big") * 6 + b"x\n")
        want = b"+OK\r\n" + (b"$%d\r\n" % len(big) + big + b"\r\n") * 6
    time.sleep(0.5)  # the server has sent what the socket takes and waits to send the rest
    with Client("127.0.0.1", server.port, timeout=5) as c:  # served meanwhile; the write is in
        assert c("get", "k2") == [b"ok", b"v2"]
    data, how = read_to_close(s, timeout=20)
    assert_same_bytes(data, want, f"connection ended by {how}: ")
    s.close()


@pytest.mark.parametrize("framing", ["ssdb", "resp"])
def test_half_closed_client_gets_every_reply(server, framing):
    """A client that sends its requests, shuts its sending side (as ``nc -q`` or a
    script piping a file does) and then reads: the server sees end-of-file while the
    replies still wait for their commit or for the socket; every reply arrives, then
    a normal close."""
    big = random.Random(5).randbytes(1 << 20)
    with Client("127.0.0.1", server.port, timeout=10) as c:
        assert c("set", "big", big) == [b"ok", b"1"]
    enc = ssdb if framing == "ssdb" else resp
    n = 500
    s = raw(server, rcvbuf=16 * 1024)
    s.sendall(b"".join(enc("set", f"h{i}", f"v{i}") for i in range(n)) + enc("get", "big") * 4 + enc("get", "h7"))
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    data, how = read_to_close(s, timeout=20)
    if framing == "ssdb":
        want = OK1 * n + ssdb("ok", big) * 4 + ssdb("ok", "v7")
    else:
        want = b"+OK\r\n" * n + (b"$%d\r\n" % len(big) + big + b"\r\n") * 4 + b"$2\r\nv7\r\n"
    assert_same_bytes(data, want, f"connection ended by {how}: ")
    assert how == "eof"
    s.close()
    with Client("127.0.0.1", server.port, timeout=5) as c:
        assert c("get", f"h{n - 1}") == [b"ok", f"v{n - 1}".encode()]


# --- 4. many concurrent pipelining clients -------------------------------------------------
def _resp_lines(s: socket.socket, buf: bytearray, n: int) -> list[bytes]:
    """``n`` single-line RESP replies (``:n`` / ``+OK``)."""
    out: list[bytes] = []
    while len(out) < n:
        nl = buf.find(b"\r\n")
        if nl < 0:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            buf += chunk
            continue
        out.append(bytes(buf[:nl]))
        del buf[: nl + 2]
    return out


@pytest.mark.timeout(90)
def test_many_clients_pipelining_concurrently(server):
    threads_n, rounds, per_round = 20, 4, 50  # 200 shared incr per client
    shared: list[list[int]] = [[] for _ in range(threads_n)]
    errors: list[str] = []
    start = threading.Barrier(threads_n)

    def worker(i: int) -> None:
        try:
            use_resp = i % 2 == 1
            s = raw(server, timeout=20)
            buf = bytearray()
            reader = ReplyReader()

            def read() -> list[bytes]:
                while (pkt := reader.next()) is None:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed by the server")
                    reader.feed(chunk)
                return pkt

            start.wait(10)
            own = 0
            for r in range(rounds):
                reqs = []
                for j in range(per_round):
                    n = r * per_round + j
                    if use_resp:
                        reqs += [resp("incr", "ctr"), resp("set", f"t{i}:{n}", n), resp("incr", f"own{i}")]
                    else:
                        reqs += [ssdb("incr", "ctr", 1), ssdb("set", f"t{i}:{n}", n), ssdb("incr", f"own{i}", 1)]
                s.sendall(b"".join(reqs))
                for j in range(per_round):
                    if use_resp:
                        a, b, o = _resp_lines(s, buf, 3)
                        assert a[:1] == b":" and b == b"+OK" and o[:1] == b":", (a, b, o)
                        ctr, own_v = int(a[1:]), int(o[1:])
                    else:
                        a, b, o = read(), read(), read()
                        assert a[0] == b"ok" and b == [b"ok", b"1"] and o[0] == b"ok", (a, b, o)
                        ctr, own_v = int(a[1]), int(o[1])
                    own += 1
                    assert own_v == own, (i, own_v, own)
                    shared[i].append(ctr)
            s.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(f"client {i}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "clients still running"
    assert not errors, errors[:5]

    total = threads_n * rounds * per_round
    for i, seen in enumerate(shared):
        assert seen == sorted(seen) and len(set(seen)) == len(seen), f"client {i}: counter not increasing"
    every = sorted(v for seen in shared for v in seen)
    assert every == list(range(1, total + 1))  # each incr got its own value: none lost, none doubled
    with Client("127.0.0.1", server.port, timeout=10) as c:
        assert c("get", "ctr") == [b"ok", str(total).encode()]
        for i in range(threads_n):
            assert c("get", f"own{i}") == [b"ok", str(rounds * per_round).encode()]
            names = [f"t{i}:{n}" for n in range(rounds * per_round)]
            got = c("multi_get", *names)
            assert got[2::2] == [str(n).encode() for n in range(rounds * per_round)], f"client {i}"
    assert not log_problems(server)


# --- 5. clients that vanish while their replies wait for a commit ----------------------------
@pytest.mark.timeout(90)
def test_clients_disconnecting_while_replies_wait_for_commit(server):
    keeper = server.client()  # open all along
    assert keeper("set", "keep", "me") == [b"ok", b"1"]
    batch = b"".join(ssdb("set", f"gone{i}", "x" * 100) for i in range(2000))
    for rep in range(40):
        s = raw(server)
        if rep % 2:  # abortive close: the server sees a reset
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        payload = batch
        if rep % 5 == 0:  # the greenlet holds the connection when it vanishes
            payload = ssdb("set", "pre", rep) + ssdb("compact") + batch
        elif rep % 5 == 1:  # ... or the greenlet owns it for a dump
            payload = batch + ssdb("dump", "", "", "1000")
        s.sendall(payload)
        s.close()
        if rep % 10 == 9:
            assert keeper("ping") == [b"ok"]
    assert server.running
    # the server goes on: the old connection, a new one, info; and no connection is left counted
    assert keeper("get", "keep") == [b"ok", b"me"]
    with Client("127.0.0.1", server.port, timeout=5) as fresh:
        assert fresh("ping") == [b"ok"]
        assert fresh("set", "after", "ok") == [b"ok", b"1"]
        assert fresh("get", "after") == [b"ok", b"ok"]
        wait_for(lambda: info_field(fresh, b"links") == b"2", timeout=10, what="links back to 2")
    wait_for(lambda: info_field(keeper, b"links") == b"1", timeout=10, what="links back to 1")
    # every write the server executed is there once: the batch is all or a prefix of it
    got = keeper("multi_get", *[f"gone{i}" for i in range(2000)])
    names = got[1::2]
    assert names == [b"gone%d" % i for i in range(len(names))]
    keeper.close()
    assert server.running
    assert not log_problems(server)


# --- 6. dump after pipelined requests --------------------------------------------------------
def test_dump_after_pipelined_requests(server):
    s = raw(server)
    s.sendall(ssdb("set", "d1", "v1") + ssdb("set", "d2", "v2") + ssdb("incr", "dn", "5") + ssdb("get", "d1")
              + ssdb("dump", "", "", "10") + ssdb("get", "d2"))
    want = (OK1 + OK1 + ssdb("ok", "5") + ssdb("ok", "v1")  # the replies before dump, first
            + ssdb("begin")  # then the stream, from a snapshot that holds those writes
            + ssdb("set", "kd1", "v1") + ssdb("set", "kd2", "v2") + ssdb("set", "kdn", "5")
            + ssdb("end", "3"))
    assert_same_bytes(read_exact(s, len(want)), want)
    # the dump owns the connection: the get after it is not answered, the link stays open
    assert nothing_more(s, 0.5) == b""
    with Client("127.0.0.1", server.port, timeout=5) as c:  # others are served meanwhile
        assert c("get", "d2") == [b"ok", b"v2"]
        assert c("set", "d3", "v3") == [b"ok", b"1"]
    s.close()


def test_dump_after_a_blocking_command_and_large_stream(server):
    """compact hands the connection to the greenlet, which then meets dump in the same input."""
    c = server.client()
    c.send_many([("set", f"e{i:05d}", "y" * 200) for i in range(3000)])
    for _ in range(3000):
        assert c.read() == [b"ok", b"1"]
    s = raw(server)
    s.sendall(ssdb("set", "e-last", "z") + ssdb("compact") + ssdb("get", "e-last")
              + ssdb("dump", "", "", "-1", "binlog_seq"))
    head = OK1 + PONG + ssdb("ok", "z")
    assert_same_bytes(read_exact(s, len(head)), head)
    s.settimeout(10)
    reader = ReplyReader()
    packets = []
    deadline = time.monotonic() + 10
    while not packets or packets[-1][0] != b"end":
        assert time.monotonic() < deadline, f"dump stream did not end: {len(packets)} packets"
        pkt = reader.next()
        if pkt is None:
            chunk = s.recv(1 << 20)
            assert chunk, "closed during the dump"
            reader.feed(chunk)
            continue
        packets.append(pkt)
    seq = int(info_field(c, b"binlogs").split(b"max_seq  :")[1])
    assert packets[0] == [b"begin", str(seq).encode()]  # the snapshot holds every write before dump
    sets = packets[1:-1]
    assert packets[-1] == [b"end", b"3001"]
    assert [p[1] for p in sets] == sorted([b"ke%05d" % i for i in range(3000)] + [b"ke-last"])
    assert all(p[0] == b"set" for p in sets)
    s.close()
    c.close()
