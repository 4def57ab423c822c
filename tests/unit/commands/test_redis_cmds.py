"""ECHO, COMMAND, CONFIG and SCRIPT replies, byte for byte as Redis 7.0 (recorded from redis-server 7.0)."""

from __future__ import annotations

import math

import pytest

from ssdbpy.commands.redis_cmds import answer, command_table
from tests.harness.inprocess import Dispatcher


@pytest.fixture
def d(tmp_path):
    disp = Dispatcher(tmp_path)
    yield disp
    disp.db.close()


def a(d, *args, proto=2):
    return answer(d.ctx, [x.encode() if isinstance(x, str) else x for x in args], proto)


def test_echo_and_script(d):
    assert a(d, "ECHO", "hi") == b"$2\r\nhi\r\n"
    assert a(d, "echo") == b"-ERR wrong number of arguments for 'echo' command\r\n"
    assert a(d, "SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert a(d, "SCRIPT", "nope") == b"-ERR unknown subcommand 'nope'. Try SCRIPT HELP.\r\n"


def test_config_get_map_and_patterns(d):
    assert a(d, "CONFIG", "GET", "slowlog-max-len") == b"*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"
    assert a(d, "CONFIG", "GET", "slowlog-max-len", proto=3) == b"%1\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"
    assert a(d, "CONFIG", "GET", "SLOWLOG-LOG-*") == b"*2\r\n$23\r\nslowlog-log-slower-than\r\n$2\r\n-1\r\n"
    assert a(d, "CONFIG", "GET", "nothing*") == b"*0\r\n"
    assert a(d, "CONFIG", "GET") == b"-ERR wrong number of arguments for 'config|get' command\r\n"


def test_config_set_applies_and_records(d):
    srv = d.ctx.server
    assert a(d, "CONFIG", "SET", "slowlog-log-slower-than", "2500", "slowlog-max-len", "3") == b"+OK\r\n"
    assert srv.slowlog.threshold == 2.5 and srv.slowlog.max_len == 3
    assert srv.config_changes == {"server.slowlog_timeout": "2.5", "server.slowlog_max_len": "3"}
    assert a(d, "CONFIG", "SET", "server.readonly", "yes") == b"+OK\r\n" and srv.readonly is True
    assert a(d, "CONFIG", "SET", "slowlog-log-slower-than", "-1") == b"+OK\r\n"
    assert srv.slowlog.threshold == math.inf


def test_config_set_checks_every_pair_first(d):
    srv = d.ctx.server
    out = a(d, "CONFIG", "SET", "slowlog-max-len", "5", "replica-read-only", "maybe")
    assert out == (b"-ERR CONFIG SET failed (possibly related to argument 'replica-read-only') - "
                   b"argument must be 'yes' or 'no'\r\n")
    assert srv.slowlog.max_len == 128 and srv.config_changes == {}
    assert a(d, "CONFIG", "SET", "databases", "2") == (
        b"-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n")
    assert a(d, "CONFIG", "SET", "nosuch", "1") == b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    assert a(d, "CONFIG", "SET", "slowlog-max-len") == b"-ERR wrong number of arguments for 'config|set' command\r\n"


def test_config_rewrite_without_a_file(d):
    assert a(d, "CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"


def test_command(d):
    table = command_table()
    assert a(d, "COMMAND", "COUNT") == b":%d\r\n" % len(table)
    assert a(d, "COMMAND", "INFO", "get", "nosuch") == (
        b"*2\r\n*10\r\n$3\r\nget\r\n:-2\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n*0\r\n$-1\r\n")
    assert a(d, "COMMAND", "DOCS", proto=3) == b"%0\r\n"
    assert {b"multi", b"publish", b"set", b"zrangebyscore", b"hsize"} <= set(table)
    assert a(d, "COMMAND").startswith(b"*%d\r\n" % len(table))


def test_noauth(d):
    d.ctx.authed = False
    assert a(d, "CONFIG", "GET", "*") == b"-NOAUTH authentication required.\r\n"
