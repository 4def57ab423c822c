"""The Redis commands Sentinel and its clients send, on a real server: redis-py and raw bytes.

INFO in Redis's layout, PING/ECHO/COMMAND/CLIENT/CONFIG/SCRIPT, pub/sub and
MULTI/EXEC (ssdbpy additions, docs/compat.md "Redis commands for Sentinel").
Where the reply does not depend on the server, the bytes are compared with a
live redis-server (skipped when it is not installed).
"""

from __future__ import annotations

import socket
import time

import pytest
import redis

from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(90)


def encode(args) -> bytes:
    args = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def reply_end(buf: bytes, i: int = 0) -> int | None:
    """Index just past the RESP2/RESP3 reply starting at ``buf[i]``; None if incomplete."""
    j = buf.find(b"\r\n", i)
    if j < 0:
        return None
    t, head = buf[i:i + 1], buf[i + 1:j]
    if t in b"+-:_,#(":
        return j + 2
    if t in b"$=!":
        n = int(head)
        return j + 2 if n < 0 else (j + 4 + n if len(buf) >= j + 4 + n else None)
    n = int(head) * (2 if t in b"%|" else 1)
    k = j + 2
    for _ in range(max(n, 0)):
        k = reply_end(buf, k)
        if k is None:
            return None
    return k


class Raw:
    """One RESP connection: ``call(*args)`` sends a request and returns the raw bytes of ``n`` replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def read(self, n: int = 1) -> bytes:
        out = b""
        for _ in range(n):
            while (end := reply_end(self.buf)) is None:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError(f"closed, have {self.buf!r}")
                self.buf += data
            out += self.buf[:end]
            self.buf = self.buf[end:]
        return out

    def call(self, *args, n: int = 1) -> bytes:
        self.sock.sendall(encode(args))
        return self.read(n)

    def close(self) -> None:
        self.sock.close()


# --- the same bytes as redis-server -----------------------------------------------------------

#: (request, number of replies) whose bytes do not depend on the server's data or identity
LIKE_REDIS = [
    (["ECHO", "hi"], 1), (["ECHO"], 1), (["SCRIPT", "KILL"], 1), (["CLIENT", "SETNAME", "a b"], 1),
    (["CLIENT", "SETNAME", "n1"], 1), (["CLIENT", "GETNAME"], 1), (["CLIENT", "NOSUCH"], 1),
    (["CLIENT", "KILL", "1.2.3.4:5"], 1), (["CLIENT", "KILL", "TYPE", "bogus"], 1),
    (["CONFIG", "SET", "nosuch", "1"], 1), (["CONFIG", "SET", "slowlog-max-len", "x"], 1),
    (["CONFIG", "SET", "databases", "1"], 1), (["CONFIG", "SET", "slowlog-max-len", "7"], 1),
    (["CONFIG", "GET", "slowlog-max-len"], 1), (["CONFIG", "NOSUCH"], 1),
    (["PUBSUB", "NUMPAT"], 1), (["PUBSUB", "NUMSUB", "c1", "c2"], 1), (["PUBSUB", "CHANNELS"], 1),
    (["PUBSUB", "NOSUCH"], 1), (["PUBLISH", "c1", "m"], 1),
    (["MULTI"], 1), (["MULTI"], 1), (["SET", "k", "v"], 1), (["GET", "k"], 1), (["EXEC"], 1), (["EXEC"], 1),
    (["DISCARD"], 1), (["MULTI"], 1), (["DISCARD"], 1), (["MULTI"], 1), (["EXEC", "x"], 1),
    (["SUBSCRIBE", "c1"], 1), (["SUBSCRIBE", "c2", "c1"], 2), (["PSUBSCRIBE", "c*"], 1), (["GET", "k"], 1),
    (["PING"], 1), (["PING", "hey"], 1), (["PUNSUBSCRIBE", "c*"], 1), (["UNSUBSCRIBE", "c1"], 1),
    (["UNSUBSCRIBE", "c2"], 1), (["UNSUBSCRIBE"], 1), (["PUNSUBSCRIBE"], 1), (["PING"], 1),
    (["HELLO", "3"], 0), (["SUBSCRIBE", "c1"], 1), (["UNSUBSCRIBE", "c1"], 1), (["UNSUBSCRIBE"], 1),
    (["CLIENT", "GETNAME"], 1), (["CONFIG", "GET", "slowlog-max-len"], 1), (["QUIT"], 1),
]


def run_script(port: int) -> list[bytes]:
    c = Raw(port)
    out = []
    try:
        for args, n in LIKE_REDIS:
            if n == 0:  # HELLO: the reply names the server, not compared
                c.call(*args)
                continue
            out.append(c.call(*args, n=n))
    finally:
        c.close()
    return out


def test_replies_are_redis_s_bytes(server, redis_server):
    got, want = run_script(server.port), run_script(redis_server)
    for (args, _), g, w in zip([x for x in LIKE_REDIS if x[1]], got, want):
        assert g == w, (args, g, w)


def test_publish_reaches_subscribers_with_redis_s_bytes(server, redis_server):
    def script(port):
        sub, psub, pub = Raw(port), Raw(port), Raw(port)
        try:
            out = [sub.call("SUBSCRIBE", "news.1"), psub.call("PSUBSCRIBE", "news.[0-9]", "x*")]
            out.append(pub.call("PUBLISH", "news.1", "hello"))
            out += [sub.read(), psub.read()]
            out.append(pub.call("PUBSUB", "NUMSUB", "news.1", "x"))
            out.append(pub.call("PUBSUB", "CHANNELS", "news.*"))
            out.append(pub.call("PUBSUB", "NUMPAT"))
            out.append(pub.call("PUBLISH", "xyz", "m2"))
            out.append(psub.read())
            sub.call("HELLO", "3")
            out.append(pub.call("PUBLISH", "news.1", "three"))
            out.append(sub.read())
            return out
        finally:
            for c in (sub, psub, pub):
                c.close()

    assert script(server.port) == script(redis_server)


# --- redis-py ---------------------------------------------------------------------------------


@pytest.fixture(params=[2, 3])
def r(request, server):
    client = redis.Redis(port=server.port, protocol=request.param, socket_timeout=10, decode_responses=True)
    yield client
    client.close()


def test_info_parses_in_redis_py(r, server):
    r.set("a", "1")
    r.setex("b", 100, "2")
    r.hset("h", "f", "v")
    info = r.info()
    assert info["redis_version"] == "7.0.0" and info["role"] == "master" and info["tcp_port"] == server.port
    assert len(info["run_id"]) == 40 and info["connected_clients"] >= 1
    assert info["db0"] == {"keys": 3, "expires": 1}
    assert r.info("replication")["connected_slaves"] == 0
    assert r.info("ssdb")["version"] == "1.9.8"
    assert set(r.info("all")) >= {"redis_version", "used_memory", "total_commands_processed", "binlog_max_seq"}


def test_run_id_is_new_per_process(server):
    with redis.Redis(port=server.port) as c:
        first = c.info("server")["run_id"]
        assert c.info("server")["run_id"] == first
    server.stop()
    server.start()
    with redis.Redis(port=server.port) as c:
        assert c.info("server")["run_id"] != first


def test_ssdb_protocol_info_is_unchanged(server):
    with server.client() as c:
        reply = c.request(b"info")
        assert reply[:2] == [b"ok", b"ssdb-server"] and b"redis_version" not in reply


def test_client_commands(r, server):
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"
    cid = r.client_id()
    me = r.client_info()
    assert int(me["id"]) == cid and me["name"] == "worker-1"
    with redis.Redis(port=server.port) as other:
        other.ping()
        ids = {int(c["id"]) for c in r.client_list()}
        assert cid in ids and len(ids) >= 2
        other_id = other.client_id()
        assert r.client_kill_filter(_id=other_id) == 1
        wait_for(lambda: other_id not in {int(c["id"]) for c in r.client_list()}, what="the killed client gone")
    assert r.client_kill_filter(_type="normal") == 0  # SKIPME yes: not itself


def test_ping_echo_command_script(r):
    assert r.ping() is True
    assert r.echo("hi") == "hi"
    assert r.command_count() > 100
    assert r.execute_command("COMMAND", "INFO", "get")["get"]["arity"] == -2
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        r.script_kill()


def test_config_get_set_rewrite(r, server):
    assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "128"}
    assert r.config_set("slowlog-max-len", 7) is True
    assert r.config_set("slowlog-log-slower-than", 25000) is True
    assert r.config_get("slowlog*") == {"slowlog-max-len": "7", "slowlog-log-slower-than": "25000"}
    assert r.config_get("server.slowlog_timeout") == {"server.slowlog_timeout": "25"}
    with pytest.raises(redis.ResponseError, match="immutable"):
        r.config_set("port", 1)
    before = server.conf.read_text()
    assert "\tslowlog_max_len" not in before
    assert r.config_rewrite() in (True, "OK")
    after = server.conf.read_text()
    assert after.replace("\tslowlog_max_len: 7\n", "").replace("\tslowlog_timeout: 25\n", "") == before
    # the file starts again with the changed values
    server.stop()
    server.start()
    with redis.Redis(port=server.port) as c:
        assert c.config_get("slowlog*") == {"slowlog-max-len": "7", "slowlog-log-slower-than": "25000"}


def test_pubsub_with_redis_py(r, server):
    p = r.pubsub()
    p.subscribe("ch")
    p.psubscribe("c*")
    wait_for(lambda: r.pubsub_numsub("ch")[0][1] == 1 and r.pubsub_numpat() == 1, what="subscriptions")
    assert r.publish("ch", "hello") == 2
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 4 and time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    assert got == [("subscribe", "ch", 1), ("psubscribe", "c*", 2), ("message", "ch", "hello"),
                   ("pmessage", "ch", "hello")]
    p.close()
    wait_for(lambda: r.pubsub_numpat() == 0, what="the subscriber gone")


def test_transaction_pipeline(r):
    with r.pipeline(transaction=True) as pipe:
        pipe.set("t", "1").incr("t").get("t").hset("th", "f", "v")
        assert pipe.execute() == [True, 2, "2", 1]
    with pytest.raises(redis.ResponseError):  # unknown command at queue time: EXECABORT
        with r.pipeline(transaction=True) as pipe:
            pipe.set("u", "1").execute_command("NOSUCHCMD")
            pipe.execute()
    assert r.get("u") is None


def test_sentinel_failover_transaction_queues_and_runs(server):
    c = Raw(server.port)
    other = Raw(server.port)
    try:
        assert other.call("PING") == b"+PONG\r\n"
        assert c.call("MULTI") == b"+OK\r\n"
        for req in (["SLAVEOF", "127.0.0.1", "1"], ["CONFIG", "REWRITE"], ["CLIENT", "KILL", "TYPE", "normal"]):
            assert c.call(*req) == b"+QUEUED\r\n"
        reply = c.call("EXEC")
        # Redis's SLAVEOF host port (port 1: nothing listens; the link retries), CONFIG REWRITE, CLIENT KILL
        assert reply == b"*3\r\n+OK\r\n+OK\r\n:1\r\n", reply
        assert c.call("ROLE").startswith(b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n")
        with pytest.raises((ConnectionError, OSError)):
            other.call("PING")
        assert c.call("PING") == b"+PONG\r\n"  # SKIPME: the killer lives on
    finally:
        c.close()
        other.close()


def test_exec_with_a_command_that_waits_runs_on_the_greenlet(server):
    c = Raw(server.port)
    try:
        assert c.call("MULTI") == b"+OK\r\n"
        for req in (["SET", "x1", "1"], ["KEYS", "x", "y", "10"], ["COMPACT"], ["GET", "x1"], ["HSET", "h", "f", "v"]):
            assert c.call(*req) == b"+QUEUED\r\n"
        assert c.call("EXEC") == b"*5\r\n+OK\r\n*1\r\n$2\r\nx1\r\n*0\r\n$1\r\n1\r\n:1\r\n"
        assert c.call("SET", "after", "1") == b"+OK\r\n"  # the write gate was released
    finally:
        c.close()


def test_transaction_queue_is_bounded(server_factory):
    node = server_factory("node", server={"client_output_buffer_limit": "1mb 0 0"})
    c = Raw(node.port)
    try:
        assert c.call("MULTI") == b"+OK\r\n"
        big = "v" * 100_000
        replies = []
        with pytest.raises((ConnectionError, OSError)):
            for i in range(20):
                replies.append(c.call("SET", f"k{i}", big))
        assert replies[:5] == [b"+QUEUED\r\n"] * 5 and len(replies) <= 11
    finally:
        c.close()
    with redis.Redis(port=node.port) as r:
        assert r.ping() is True and r.get("k0") is None


def test_a_subscriber_that_does_not_read_is_disconnected(server_factory):
    node = server_factory("node", server={"client_output_buffer_limit": "1mb 0 0"})
    sub = socket.socket()
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub.connect(("127.0.0.1", node.port))
    pub = Raw(node.port)
    try:
        sub.sendall(encode(["SUBSCRIBE", "ch"]))
        wait_for(lambda: pub.call("PUBSUB", "NUMSUB", "ch").endswith(b":1\r\n"), what="the subscription")
        msg = "m" * 100_000
        for _ in range(200):  # 20 MB to a client that reads nothing
            if pub.call("PUBLISH", "ch", msg) == b":0\r\n":
                break
        wait_for(lambda: pub.call("PUBSUB", "NUMSUB", "ch").endswith(b":0\r\n"), what="the subscriber dropped")
        assert pub.call("PING") == b"+PONG\r\n"
    finally:
        sub.close()
        pub.close()
    assert "over the hard client_output_buffer_limit" in node.log_path.read_text()
