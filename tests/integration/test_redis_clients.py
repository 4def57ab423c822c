"""The real redis-cli and redis-py talk to ssdbpy through every mapped Redis command.

redis-py 8 speaks RESP3 (HELLO 3) unless told otherwise.  SSDB has no HELLO;
ssdbpy answers it and renders RESP3 on such connections, so redis-py works both
with its defaults and with protocol=2 (SSDB's RESP2 bytes), with the same
Python values.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest
import redis

# (command line, expected redis-cli output) — run in order on one fresh server
CLI_SCRIPT = [
    ("ping", "PONG"),
    ("set a 1", "OK"),
    ("get a", "\"1\""),
    ("getset a 2", "\"1\""),
    ("setnx a 3", "(integer) 0"),
    ("exists a", "(integer) 1"),
    ("incr n", "(integer) 1"),
    ("incrby n 10", "(integer) 11"),
    ("decr n", "(integer) 10"),
    ("decrby n 5", "(integer) 5"),
    ("setex t 100 tv", "OK"),
    ("ttl t", re.compile(r"\(integer\) (99|100)")),  # whole seconds left, truncated
    ("expire a 1000", "(integer) 1"),
    ("setbit b 7 1", "(integer) 0"),
    ("getbit b 7", "(integer) 1"),
    ("strlen a", "(integer) 1"),
    ("set s hello", "OK"),
    ("bitcount s", "(integer) 21"),
    ("substr s 1 2", "\"el\""),
    ("getrange s 1 -2", "\"ell\""),
    ("keys s s 10", "(empty array)"),
    ("keys a b 10", "1) \"b\""),
    ("mset m1 x m2 y", "OK"),
    ("mget m1 nope m2", "1) \"x\"\n2) (nil)\n3) \"y\""),
    ("del m1 m2 nope", "(integer) 3"),
    ("hset h f1 v1", "(integer) 1"),
    ("hget h f1", "\"v1\""),
    ("hexists h f1", "(integer) 1"),
    ("hmset h f2 v2 f3 v3", "OK"),
    ("hmget h f1 nope f3", "1) \"v1\"\n2) (nil)\n3) \"v3\""),
    ("hlen h", "(integer) 3"),
    ("hincrby h c 5", "(integer) 5"),
    ("hgetall h", "1) \"c\"\n2) \"5\"\n3) \"f1\"\n4) \"v1\"\n5) \"f2\"\n6) \"v2\"\n7) \"f3\"\n8) \"v3\""),
    ("hkeys h", "1) \"c\"\n2) \"f1\"\n3) \"f2\"\n4) \"f3\""),
    ("hvals h", "1) \"5\"\n2) \"v1\"\n3) \"v2\"\n4) \"v3\""),
    ("hdel h c", "(integer) 1"),
    ("hmdel h f3", "(integer) 1"),
    ("zadd z 1 a 2 b 3.7 c", "(integer) 3"),
    ("zcard z", "(integer) 3"),
    ("zscore z c", "\"3\""),
    ("zrank z b", "(integer) 1"),
    ("zrevrank z b", "(integer) 1"),
    ("zcount z 1 2", "(integer) 2"),
    ("zincrby z 10 a", "\"11\""),
    ("zrange z 0 -1", "1) \"b\"\n2) \"c\"\n3) \"a\""),
    ("zrange z 0 0 withscores", "1) \"b\"\n2) \"2\""),
    ("zrevrange z 0 0", "1) \"a\""),
    ("zrangebyscore z (2 +inf", "1) \"c\"\n2) \"a\""),
    ("zrevrangebyscore z +inf -inf limit 0 1", "1) \"a\""),
    ("zrem z c", "(integer) 1"),
    ("zremrangebyrank z 0 0", "(integer) 1"),
    ("zremrangebyscore z 0 100", "(integer) 1"),
    ("rpush l a b", "(integer) 2"),
    ("lpush l c", "(integer) 3"),
    ("llen l", "(integer) 3"),
    ("lsize l", "(integer) 3"),
    ("lindex l 0", "\"c\""),
    ("lset l 0 C", "OK"),
    ("lrange l 0 -1", "1) \"C\"\n2) \"a\"\n3) \"b\""),
    ("lpop l", "\"C\""),
    ("rpop l", "\"b\""),
    ("lset l 10 X", "(error) ERR index out of range"),
    ("select 0", "(error) ERR Unknown Command: select"),
    ("qsize l", "1) \"1\""),
]


@pytest.fixture(scope="module")
def redis_cli():
    path = shutil.which("redis-cli")
    assert path, "redis-cli is not installed (the test command installs redis-tools)"
    return path


def test_redis_cli_every_mapped_command(server, redis_cli):
    for line, expected in CLI_SCRIPT:
        out = subprocess.run([redis_cli, "--no-raw", "-h", "127.0.0.1", "-p", str(server.port), *line.split()],
                             capture_output=True, text=True, timeout=10)
        got = out.stdout.strip()
        ok = expected.fullmatch(got) if isinstance(expected, re.Pattern) else got == expected
        assert ok, f"redis-cli {line}: {out.stdout!r} {out.stderr!r}"


def test_redis_cli_auth(server_factory, redis_cli):
    pw = "p" * 32
    srv = server_factory("auth", server={"auth": pw})
    base = [redis_cli, "--no-raw", "-h", "127.0.0.1", "-p", str(srv.port)]
    out = subprocess.run(base + ["get", "a"], capture_output=True, text=True, timeout=10)
    assert "NOAUTH authentication required." in out.stdout + out.stderr
    out = subprocess.run(base + ["-a", pw, "--no-auth-warning", "set", "a", "1"], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "OK"


#: redis.Redis keyword arguments: RESP2 as SSDB speaks it, and redis-py 8's default (HELLO 3, RESP3)
PROTOCOLS = [pytest.param({"protocol": 2}, id="resp2"), pytest.param({}, id="default-resp3")]


def handshake_proto(r: redis.Redis) -> int:
    """The protocol the server agreed to on one of the client's connections (2 when no HELLO was sent)."""
    conn = r.connection_pool.get_connection()
    try:
        meta = conn.handshake_metadata
        return 2 if meta is None else meta.get(b"proto", meta.get("proto"))
    finally:
        r.connection_pool.release(conn)


@pytest.mark.parametrize("kw", PROTOCOLS)
def test_redis_py_every_mapped_command(server, kw):
    r = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, **kw)
    assert handshake_proto(r) == kw.get("protocol", 3)
    assert r.ping() is True
    assert r.set("a", "1") is True
    assert r.get("a") == b"1"
    assert r.get("nope") is None
    assert r.getset("a", "2") == b"1"
    assert r.getset("new", "x") is None
    assert r.setnx("a", "3") is False
    assert r.exists("a") == 1
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 5) == 5
    assert r.setex("t", 100, "tv") is True
    assert 99 <= r.ttl("t") <= 100
    assert r.expire("a", 1000) is True
    assert r.setbit("b", 7, 1) == 0
    assert r.getbit("b", 7) == 1
    assert r.strlen("a") == 1
    r.set("s", "hello")
    assert r.bitcount("s") == 21
    assert r.substr("s", 1, 2) == b"el"
    assert r.getrange("s", 1, -2) == b"ell"
    assert r.execute_command("keys", "a", "b", "10") == [b"b"]
    assert r.mset({"m1": "x", "m2": "y"}) is True
    assert r.mget("m1", "nope", "m2") == [b"x", None, b"y"]
    assert r.delete("m1", "m2", "nope") == 3
    assert r.hset("h", "f1", "v1") == 1
    assert r.hget("h", "f1") == b"v1"
    assert r.hexists("h", "f1") is True
    assert r.hmset("h", {"f2": "v2", "f3": "v3"}) is True
    assert r.hmget("h", ["f1", "nope", "f3"]) == [b"v1", None, b"v3"]
    assert r.hlen("h") == 3
    assert r.hincrby("h", "c", 5) == 5
    assert r.hgetall("h") == {b"c": b"5", b"f1": b"v1", b"f2": b"v2", b"f3": b"v3"}
    assert r.hkeys("h") == [b"c", b"f1", b"f2", b"f3"]
    assert r.hvals("h") == [b"5", b"v1", b"v2", b"v3"]
    assert r.hdel("h", "c") == 1
    assert r.execute_command("hmdel", "h", "f3") == 1
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zcard("z") == 3
    assert r.zscore("z", "c") == 3.0
    assert r.zrank("z", "b") == 1
    assert r.zrank("z", "nope") is None
    assert r.zscore("z", "nope") is None
    assert r.hgetall("nope") == {}
    assert r.hmget("nope", ["a"]) == [None]
    assert r.zrevrank("z", "b") == 1
    assert r.zcount("z", 1, 2) == 2
    assert r.zincrby("z", 10, "a") == 11.0
    assert r.zrange("z", 0, -1) == [b"b", b"c", b"a"]
    assert r.zrange("z", 0, 0, withscores=True) == [(b"b", 2.0)]
    assert r.zrevrange("z", 0, 0) == [b"a"]
    assert r.zrangebyscore("z", "(2", "+inf") == [b"c", b"a"]
    assert r.zrangebyscore("z", 0, 100, withscores=True, start=1, num=1) == [(b"c", 3.0)]
    assert r.zrevrangebyscore("z", "+inf", "-inf", start=0, num=1) == [b"a"]
    assert r.zrem("z", "c") == 1
    assert r.zremrangebyrank("z", 0, 0) == 1
    assert r.zremrangebyscore("z", 0, 100) == 1
    assert r.rpush("l", "a", "b") == 2
    assert r.lpush("l", "c") == 3
    assert r.llen("l") == 3
    assert r.execute_command("lsize", "l") == 3
    assert r.lindex("l", 0) == b"c"
    assert r.lset("l", 0, "C") is True
    assert r.lrange("l", 0, -1) == [b"C", b"a", b"b"]
    assert r.lpop("l") == b"C"
    assert r.rpop("l") == b"b"
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", 10, "X")
    with pytest.raises(redis.ResponseError, match="Unknown Command: select"):
        r.execute_command("select", "0")
    # a pipeline of mixed commands keeps request order
    p = r.pipeline(transaction=False)
    p.set("p1", "1").incr("p1").get("p1").delete("p1").get("p1")
    assert p.execute() == [True, 2, b"2", 1, None]
    r.close()


@pytest.mark.parametrize("kw", PROTOCOLS)
def test_redis_py_auth(server_factory, kw):
    """protocol=2 sends AUTH; the default sends HELLO 3 AUTH default <password>."""
    pw = "q" * 32
    srv = server_factory("auth", server={"auth": pw})
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=srv.port, password="x" * 32, socket_timeout=5, **kw).ping()
    r = redis.Redis(host="127.0.0.1", port=srv.port, password=pw, socket_timeout=5, **kw)
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert r.hgetall("nope") == {} and r.get("nope") is None
    assert handshake_proto(r) == kw.get("protocol", 3)
    r.close()
    if not kw:
        # HELLO 3 AUTH knows one user, "default" (SSDB has one password and no users)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=srv.port, username="admin", password=pw, socket_timeout=5).ping()
        # without a password redis-py's HELLO 3 is refused as Redis refuses it
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=5).ping()


# --- HELLO on the wire ------------------------------------------------------------------


class Raw:
    """A raw socket: send RESP or SSDB requests, read replies as bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *args: bytes) -> None:
        self.sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))

    def read(self, pattern: bytes) -> bytes:
        """Read until the buffer starts with a match of ``pattern``; return and consume the match."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + 10
        while True:
            m = rx.match(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m.group(0)
            assert time.monotonic() < deadline, f"no {pattern!r} in {self.buf!r}"
            data = self.sock.recv(65536)
            assert data, f"connection closed; got {self.buf!r}"
            self.buf += data

    def roundtrip(self, expect: bytes, *args: bytes) -> None:
        self.send(*args)
        assert self.read(re.escape(expect)) == expect

    def close(self) -> None:
        self.sock.close()


HELLO_FIELDS = (
    rb"\$6\r\nserver\r\n\$6\r\nssdbpy\r\n\$7\r\nversion\r\n\$5\r\n1\.9\.8\r\n"
    rb"\$5\r\nproto\r\n:%d\r\n\$2\r\nid\r\n:[1-9][0-9]*\r\n\$4\r\nmode\r\n\$10\r\nstandalone\r\n"
    rb"\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n"
)


def test_hello_raw_bytes(server):
    c = Raw(server.port)
    try:
        c.send(b"HELLO", b"2")
        c.read(rb"\*14\r\n" + HELLO_FIELDS % 2)
        c.roundtrip(b"$-1\r\n", b"GET", b"nope")
        c.roundtrip(b"-NOPROTO sorry, this protocol version is not supported\r\n", b"HELLO", b"4")
        c.roundtrip(b"$-1\r\n", b"GET", b"nope")  # still RESP2
        c.send(b"HELLO", b"3")
        c.read(rb"%7\r\n" + HELLO_FIELDS % 3)
        c.roundtrip(b"_\r\n", b"GET", b"nope")
        c.roundtrip(b"+OK\r\n", b"SET", b"a", b"1")
        c.roundtrip(b"*3\r\n$1\r\n1\r\n_\r\n$1\r\n1\r\n", b"MGET", b"a", b"nope", b"a")
        c.roundtrip(b":2\r\n", b"ZADD", b"z", b"1", b"m", b"2", b"n")
        c.roundtrip(b",2\r\n", b"ZSCORE", b"z", b"n")
        c.roundtrip(b"*2\r\n*2\r\n$1\r\nm\r\n,1\r\n*2\r\n$1\r\nn\r\n,2\r\n", b"ZRANGE", b"z", b"0", b"-1",
                    b"WITHSCORES")
        c.roundtrip(b"%0\r\n", b"HGETALL", b"nope")
        c.roundtrip(b"-ERR Unknown Command: select\r\n", b"SELECT", b"0")
        # SSDB framing on the connection: executed, rendered with the last RESP descriptor (sticky, as SSDB)
        c.sock.sendall(b"3\nget\n4\nnope\n\n")
        assert c.read(rb"_\r\n") == b"_\r\n"
        c.send(b"hello", b"2")
        c.read(rb"\*14\r\n" + HELLO_FIELDS % 2)
        c.roundtrip(b"$-1\r\n", b"GET", b"nope")
    finally:
        c.close()


def test_hello_in_ssdb_framing_is_an_unknown_command(server):
    c = Raw(server.port)
    try:
        c.sock.sendall(b"5\nhello\n1\n3\n\n")
        assert c.read(rb"[^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n\n") == (
            b"12\nclient_error\n22\nUnknown Command: hello\n\n"
        )
    finally:
        c.close()


def test_hello_auth_raw_bytes(server_factory):
    pw = b"h" * 32
    srv = server_factory("auth", server={"auth": pw.decode()})
    c = Raw(srv.port)
    try:
        c.send(b"HELLO", b"3")
        c.read(rb"-NOAUTH HELLO must be called with the client already authenticated[^\r]*\r\n")
        wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        c.roundtrip(wrongpass, b"HELLO", b"3", b"AUTH", b"default", b"x" * 32)
        c.roundtrip(wrongpass, b"HELLO", b"3", b"AUTH", b"admin", pw)
        c.roundtrip(b"-NOAUTH authentication required.\r\n", b"GET", b"a")  # no switch, still not authenticated
        c.send(b"HELLO", b"3", b"AUTH", b"default", pw, b"SETNAME", b"app")
        c.read(rb"%7\r\n" + HELLO_FIELDS % 3)
        c.roundtrip(b"_\r\n", b"GET", b"a")
    finally:
        c.close()
