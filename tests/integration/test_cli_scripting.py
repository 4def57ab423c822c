"""ssdb-cli for scripts: exit statuses, one-shot commands, aligned piped output, help CMD,
the password from $SSDB_AUTH; the real program against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.harness.server import REPO, free_port

pytestmark = pytest.mark.timeout(60)

TOOL = REPO / "tools" / "ssdb-cli"
PW = "p" * 32


def cli(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SSDB_AUTH"}
    p = subprocess.run([sys.executable, str(TOOL), *args], input=stdin, capture_output=True, text=True,
                       timeout=30, env={**environ, **(env or {})})
    print("rc:", p.returncode, "\nstdout:\n", p.stdout, "\nstderr:\n", p.stderr)
    return p


def test_one_shot_commands(server):
    port = str(server.port)
    p = cli("-p", port, "set", "k", "v")
    assert (p.returncode, p.stdout) == (0, "ok\n")
    assert "ssdb (cli)" not in p.stderr  # no banner in one-shot mode
    assert cli("-p", port, "get", "k").stdout == "v\n"
    assert cli("-h", "127.0.0.1", "-p", port, "GET", "k").stdout == "v\n"
    assert cli("127.0.0.1", port, "get", "k").stdout == "v\n"  # after SSDB's positional host port
    p = cli("-p", port, "zset", "z", "m", "-5")  # a word after the command starting with '-'
    assert (p.returncode, p.stdout) == (0, "ok\n")
    assert cli("-p", port, "zget", "z", "m").stdout == "-5\n"
    p = cli("-p", port, "set", "bin", "a\\x00b")  # escapes decoded as when typed in the shell
    c = server.client()
    assert c("get", "bin") == [b"ok", b"a\x00b"]
    c.close()


def test_one_shot_not_found_and_errors(server):
    port = str(server.port)
    p = cli("-p", port, "get", "missing")
    assert (p.returncode, p.stdout) == (0, "\n")
    assert "not_found" in p.stderr
    p = cli("-p", port, "nosuchcommand", "x")
    assert (p.returncode, p.stdout) == (1, "\n")
    assert "client_error: Unknown Command: nosuchcommand" in p.stderr
    p = cli("-p", port, "set", "onlykey")
    assert p.returncode == 1 and "wrong number of arguments" in p.stderr


def test_piped_output_stays_aligned(server):
    p = cli("-p", str(server.port), stdin="set a 1\nget nope\nget a\nnosuch a\nget a\n")
    assert p.stdout.split("\n") == ["ok", "", "1", "", "1", ""]
    assert p.returncode == 1


def test_piped_session_without_errors_exits_0(server):
    p = cli("-p", str(server.port), stdin="set a 1\nget a\nget nope\n")
    assert (p.returncode, p.stdout) == (0, "ok\n1\n\n")


def test_connection_failure_exit_3():
    port = str(free_port())
    for args, stdin in ((("-p", port), "ping\n"), (("-p", port, "ping"), "")):
        p = cli(*args, stdin=stdin)
        assert p.returncode == 3
        assert f"Failed to connect to: 127.0.0.1:{port}" in p.stderr


def test_auth_failure_exit_3_and_password_from_environment(server_factory):
    srv = server_factory("authed", server={"auth": PW})
    port = str(srv.port)
    p = cli("-p", port, "-a", "w" * 32, stdin="set a 1\n")
    assert p.returncode == 3 and "auth failed: error: invalid password" in p.stderr
    assert p.stdout == ""  # the commands did not run
    p = cli("-p", port, "-a", "w" * 32, "get", "a")
    assert p.returncode == 3 and p.stdout == ""
    p = cli("-p", port, "get", "a")  # no password at all
    assert p.returncode == 3 and "noauth" in p.stderr
    p = cli("-p", port, "set", "a", "1", env={"SSDB_AUTH": PW})
    assert (p.returncode, p.stdout) == (0, "ok\n")
    p = cli("-p", port, "get", "a", env={"SSDB_AUTH": "w" * 32})
    assert p.returncode == 3
    p = cli("-p", port, "-a", PW, "get", "a", env={"SSDB_AUTH": "w" * 32})  # -a wins
    assert (p.returncode, p.stdout) == (0, "1\n")


@pytest.mark.parametrize("args,message", [
    (("-x",), "Error: unknown option: -x"),
    (("--port", "8888"), "Error: unknown option: --port"),
    (("-p",), "Error: option -p needs a value"),
    (("-p", "88a"), "Error: invalid port: 88a"),
    (("-p", "99999"), "Error: invalid port: 99999"),
    (("get", "k"), "Error: expected a host and a port, got 'get' and 'k'"),
    (("--escape", "maybe"), "Error: invalid --escape: maybe"),
])
def test_usage_errors_exit_2(args, message):
    p = cli(*args, stdin="ping\n")
    assert p.returncode == 2
    assert p.stderr.startswith(message) and "Usage:" in p.stderr
    assert p.stdout == ""


def test_help_command_without_a_server():
    p = cli("-p", str(free_port()), "help", "zscan")
    assert p.returncode == 0
    assert p.stdout.startswith("zscan name key_start score_start score_end limit\n    member/score pairs")
    p = cli("help", "GET")
    assert p.stdout == "get key\n    the value of key; not_found if absent\n"
    p = cli("-p", "1", "help", "nosuch")
    assert p.returncode == 1 and "unknown command: nosuch" in p.stderr


def test_help_in_the_shell(server):
    p = cli("-p", str(server.port), stdin="help qpush\nhelp\n")
    assert p.stdout.startswith("qpush name item [item ...]\n    append items")
    assert "type 'help <command>'" in p.stdout and "php" not in p.stdout
    assert p.returncode == 0


def test_raw_prints_data_unescaped(server):
    c = server.client()
    c("set", "b", b"x\x01")
    c.close()
    p = subprocess.run([sys.executable, str(TOOL), "-p", str(server.port), "--raw", "get", "b"],
                       capture_output=True, timeout=30)
    assert p.stdout == b"x\x01\n"
    p = subprocess.run([sys.executable, str(TOOL), "-p", str(server.port), "--escape", "yes", "get", "b"],
                       capture_output=True, timeout=30)
    assert p.stdout == b"x\\x01\n"
