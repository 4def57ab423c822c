"""Command lines of ssdb-cli (SSDB's argument loop) and ssdb-dump."""

from __future__ import annotations

import pytest

from ssdbpy.apps import cli


@pytest.mark.parametrize("argv, host, port", [
    ([], "127.0.0.1", "8888"),
    (["8889"], "127.0.0.1", "8889"),
    (["example.org"], "example.org", "8888"),
    (["9000", "db1"], "db1", "9000"),
    (["-h", "db2", "-p", "7000"], "db2", "7000"),
    (["db3", "-p", "7000"], "db3", "7000"),
])
def test_host_and_port(argv, host, port):
    o = cli.parse(argv)
    assert (o.host, o.port, o.command, o.error) == (host, port, [], None)


@pytest.mark.parametrize("argv, host, port, command", [
    # after -h/-p the first other word is the command (SSDB took it as the host)
    (["-p", "7000", "get", "k"], "127.0.0.1", "7000", ["get", "k"]),
    (["-h", "db", "info"], "db", "8888", ["info"]),
    (["-p", "7000", "zrange", "z", "0", "-1"], "127.0.0.1", "7000", ["zrange", "z", "0", "-1"]),
    (["-p", "7000", "set", "k", "-h"], "127.0.0.1", "7000", ["set", "k", "-h"]),
    # SSDB's positional host and port, then a command
    (["db1", "9000", "get", "k"], "db1", "9000", ["get", "k"]),
    (["9000", "db1", "ping"], "db1", "9000", ["ping"]),
    (["db1", "9000", "-a", "pw", "get", "k"], "db1", "9000", ["get", "k"]),
    (["help", "get"], "127.0.0.1", "8888", ["help", "get"]),
])
def test_one_shot_command(argv, host, port, command):
    o = cli.parse(argv)
    assert (o.host, o.port, o.command, o.error) == (host, port, command, None)


@pytest.mark.parametrize("argv, error", [
    (["-x"], "unknown option: -x"),
    (["--port", "8888"], "unknown option: --port"),
    (["-p"], "option -p needs a value"),
    (["-p", "1", "-a"], "option -a needs a value"),
    (["get", "k"], "expected a host and a port, got 'get' and 'k' "
                   "(to run a command: ssdb-cli [-h host] -p port command [args...])"),
    (["1", "2"], "expected a host and a port, got '1' and '2' "
                 "(to run a command: ssdb-cli [-h host] -p port command [args...])"),
])
def test_usage_errors(argv, error):
    assert cli.parse(argv).error == error


def test_raw_is_escape_no():
    assert cli.parse(["--raw"]).escape == "no"


def test_password_nagios_and_escape():
    o = cli.parse(["-a", "pw", "-n", "dbsize", "-w", "10", "-c", "20", "--escape", "yes"])
    assert (o.password, o.nagios, o.probe, o.warn, o.critical, o.escape) == ("pw", True, "dbsize", "10", "20", "yes")
    assert not cli.parse(["-a", "pw"]).nagios


@pytest.mark.parametrize("flag", ["--help", "--h", "-v"])
def test_help(flag):
    assert cli.parse(["-p", "1", flag]).help
