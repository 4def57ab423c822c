"""ssdbpy.slowlog, the dispatcher feeding it, the slowlog command and its RESP rendering."""

from __future__ import annotations

import logging

import pytest

from ssdbpy import slowlog
from ssdbpy.commands import dispatch, redis_compat
from ssdbpy.commands.registry import COMMANDS
from ssdbpy.protocol.reply import render_slowlog
from ssdbpy.slowlog import SlowLog, serialize, truncate_args
from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    yield d
    d.close()


def test_truncation_is_redis_s():
    assert truncate_args([b"set", b"k", b"v"]) == (b"set", b"k", b"v")
    args = [b"a%d" % i for i in range(40)]
    t = truncate_args(args)
    assert len(t) == 32 and t[:31] == tuple(args[:31]) and t[31] == b"... (9 more arguments)"
    assert truncate_args([b"a%d" % i for i in range(32)])[-1] == b"a31"  # exactly 32: kept
    long = b"x" * 300
    assert truncate_args([b"get", long]) == (b"get", b"x" * 128 + b"... (172 more bytes)")
    assert truncate_args([b"get", b"y" * 128])[1] == b"y" * 128


def test_serialize_is_ssdb_s_serialize_req():
    assert serialize([b"set", b"k", b""]) == 'set k ""'
    assert serialize([b"get", b"a\nb\xff"]) == "get a\\nb\\xff"
    assert serialize([b"get", b"z" * 50]) == "get [50]"
    assert serialize([b"multi_set"] + [b"k"] * 9) == "multi_set k k k k [5 more...]"


def test_ring_is_bounded_and_newest_first(caplog):
    caplog.set_level(logging.WARNING, logger="ssdbpy.slowlog")
    log = SlowLog(1.0, max_len=3)
    for i in range(5):
        log.record([b"get", b"%d" % i], 0.25, 1.5, b"1.2.3.4:5", [b"ok", b"v"])
    assert len(log) == 3
    assert [e.id for e in log.get(-1)] == [4, 3, 2]
    assert [e.args for e in log.get(2)] == [(b"get", b"4"), (b"get", b"3")]
    e = log.get(1)[0]
    assert (e.duration_us, e.client, e.name) == (1750, b"1.2.3.4:5", b"")
    assert caplog.messages[-1] == "slowlog w:0.250,p:1.500, req: get 4, resp: ok v"
    log.reset()
    assert len(log) == 0 and log.get() == []
    assert log.record([b"ping"], 0, 2, b"x:1").id == 5  # ids keep growing after a reset


def test_off_by_default_and_zero_keeps_none():
    assert SlowLog().threshold == float("inf") and SlowLog().timeout_ms == 0.0
    log = SlowLog(0.5, max_len=0)
    log.record([b"ping"], 0, 1, b"x:1")
    assert len(log) == 0


def test_dispatcher_logs_slow_commands_only(run, monkeypatch):
    run.ctx.server.slowlog = SlowLog(5.0)
    clock = iter([0.0, 0.001, 10.0, 10.007])  # a 1 ms command, then a 7 ms one
    monkeypatch.setattr(dispatch, "perf_counter", lambda: next(clock))
    run(b"set", b"a", b"1")
    run(b"get", b"a")
    entries = run.ctx.server.slowlog.get()
    assert len(entries) == 1
    assert entries[0].args == (b"get", b"a") and 6990 <= entries[0].duration_us <= 7010
    assert entries[0].client == b"127.0.0.1:0"


def test_wait_counts_in_time_wait_and_in_the_slowlog(run, monkeypatch):
    run.ctx.server.slowlog = SlowLog(5.0)
    cmd = COMMANDS[b"get"]
    wait0 = cmd.time_wait
    clock = iter([100.004, 100.0045])  # queued at 100.0: 4 ms waiting, 0.5 ms processing
    monkeypatch.setattr(dispatch, "perf_counter", lambda: next(clock))
    dispatch.execute(run.ctx, [b"get", b"a"], queued=100.0)
    assert cmd.time_wait - wait0 == pytest.approx(4.0)
    assert len(run.ctx.server.slowlog) == 0  # 4.5 ms < 5 ms
    clock = iter([100.006, 100.0061])
    dispatch.execute(run.ctx, [b"get", b"a"], queued=100.0)
    assert run.ctx.server.slowlog.get()[0].duration_us == pytest.approx(6100, abs=5)


def test_calls_count_every_request_to_a_known_command(run):
    before = {n: COMMANDS[n].calls for n in (b"set", b"get", b"incr")}
    run(b"set", b"k", b"1")
    run(b"get")  # arity error: counted, as SSDB's procs count theirs
    run(b"incr", b"k", b"x")  # error reply: counted
    run.ctx.server.readonly = True
    run(b"set", b"k", b"2")  # Forbidden Command: counted (SSDB has looked the command up)
    assert {n: COMMANDS[n].calls - before[n] for n in before} == {b"set": 2, b"get": 1, b"incr": 1}


def test_slowlog_command(run):
    run.ctx.server.slowlog = log = SlowLog(1.0, max_len=10)
    for i in range(12):
        log.record([b"get", b"k%d" % i], 0, 2, b"127.0.0.1:7")
    assert run(b"slowlog", b"len") == [b"ok", b"10"]
    got = run(b"slowlog", b"GET", b"2")
    e = log.get(1)[0]
    assert got[:8] == [b"ok", b"11", b"%d" % e.time, b"2000", b"127.0.0.1:7", b"2", b"get", b"k11"]
    assert len(got) == 1 + 2 * 7
    assert len(run(b"slowlog", b"get")) == 1 + 10 * 7  # default 10
    assert len(run(b"slowlog", b"get", b"-1")) == 1 + 10 * 7
    assert run(b"slowlog", b"get", b"0") == [b"ok"]
    for bad in (b"-2", b"x", b"1.5", b""):
        assert run(b"slowlog", b"get", bad) == [b"client_error", b"count should be greater than or equal to -1"]
    assert run(b"slowlog", b"nope") == [
        b"client_error", b"unknown subcommand or wrong number of arguments for 'nope'. Try SLOWLOG HELP."]
    assert run(b"slowlog", b"len", b"1")[0] == b"client_error"
    assert run(b"slowlog")[0] == b"client_error"
    assert run(b"slowlog", b"help")[1].startswith(b"SLOWLOG <subcommand>")
    assert run(b"slowlog", b"reset") == [b"ok"]
    assert run(b"slowlog", b"len") == [b"ok", b"0"]


def test_resp_shapes():
    blocks = [b"ok", b"3", b"1700000000", b"1500", b"127.0.0.1:9", b"2", b"get", b"k",
              b"2", b"1700000001", b"99", b"[::1]:8", b"1", b"ping"]
    assert render_slowlog(blocks) == (
        b"*2\r\n"
        b"*6\r\n:3\r\n:1700000000\r\n:1500\r\n*2\r\n$3\r\nget\r\n$1\r\nk\r\n$11\r\n127.0.0.1:9\r\n$0\r\n\r\n"
        b"*6\r\n:2\r\n:1700000001\r\n:99\r\n*1\r\n$4\r\nping\r\n$7\r\n[::1]:8\r\n$0\r\n\r\n")
    assert render_slowlog([b"ok"]) == b"*0\r\n"
    assert render_slowlog([b"ok", b"v"]) == b"*1\r\n$1\r\nv\r\n"  # not entries (sticky descriptor): generic
    assert render_slowlog([b"client_error", b"bad"]) == b"-ERR bad\r\n"
    for translate in (redis_compat.translate, redis_compat.translate3):
        args, desc = translate([b"SLOWLOG", b"Get", b"5"])
        assert args == [b"slowlog", b"Get", b"5"] and desc.render is render_slowlog
        assert translate([b"slowlog", b"LEN"])[1].render([b"ok", b"4"]) == b":4\r\n"
        assert translate([b"slowlog", b"reset"])[1].render([b"ok"]) == b"+OK\r\n"
    assert redis_compat.translate([b"slowlog", b"help"])[1] is redis_compat.GENERIC
    assert redis_compat.translate([b"slowlog"])[1] is redis_compat.GENERIC


def test_ssdb_log_line_for_a_reply_without_blocks(caplog):
    caplog.set_level(logging.WARNING, logger="ssdbpy.slowlog")
    SlowLog(1.0).record([b"dump"], 0, 3, b"x:1", reply=object())
    assert caplog.messages == ["slowlog w:0.000,p:3.000, req: dump, resp: "]
    assert slowlog.MAX_ARGS == 32 and slowlog.MAX_ARG_BYTES == 128
