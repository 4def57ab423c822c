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
    (["-p", "7000", "db3"], "db3", "7000"),
])
def test_host_and_port(argv, host, port):
    o = cli.parse(argv)
    assert (o.host, o.port) == (host, port)


def test_password_nagios_and_escape():
    o = cli.parse(["-a", "pw", "-n", "dbsize", "-w", "10", "-c", "20", "--escape", "yes"])
    assert (o.password, o.nagios, o.probe, o.warn, o.critical, o.escape) == ("pw", True, "dbsize", "10", "20", "yes")
    assert not cli.parse(["-a", "pw"]).nagios


@pytest.mark.parametrize("flag", ["--help", "--h", "-v"])
def test_help(flag):
    assert cli.parse(["-p", "1", flag]).help
