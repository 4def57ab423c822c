"""The real redis-cli and redis-py talk to ssdbpy through every mapped Redis command.

redis-py 8 speaks RESP3 (HELLO 3) unless told otherwise; SSDB, and so ssdbpy,
speak RESP2, so the clients are created with protocol=2.
"""

from __future__ import annotations

import re
import shutil
import subprocess

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


def test_redis_py_every_mapped_command(server):
    r = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, protocol=2)
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


def test_redis_py_auth(server_factory):
    pw = "q" * 32
    srv = server_factory("auth", server={"auth": pw})
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=srv.port, password="x" * 32, socket_timeout=5, protocol=2).ping()
    r = redis.Redis(host="127.0.0.1", port=srv.port, password=pw, socket_timeout=5, protocol=2)
    assert r.set("k", "v") is True and r.get("k") == b"v"
    r.close()
