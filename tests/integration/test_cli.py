"""ssdb-cli against a real ssdbpy server: piped sessions compared with SSDB's recorded output,
the built-ins, the Nagios probes, and a person's terminal session (pexpect on a pseudo-terminal)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import REPO, free_port, wait_for

pytestmark = pytest.mark.timeout(60)

TOOL = REPO / "tools" / "ssdb-cli"
PW = "p" * 32
WELCOME = ("ssdb (cli) - ssdb command line tool.\nCopyright (c) 2012-2016 ssdb.io\n\n"
           "'h' or 'help' for help, 'q' to quit.\n\n")


def cli(*args: str, stdin: bytes | str = b"", env: dict | None = None) -> subprocess.CompletedProcess[bytes]:
    if isinstance(stdin, str):
        stdin = stdin.encode()
    p = subprocess.run([sys.executable, str(TOOL), *args], input=stdin, capture_output=True, timeout=30,
                       env={**os.environ, **(env or {})})
    print("rc:", p.returncode, "\nstdout:\n", p.stdout.decode(errors="replace"),
          "\nstderr:\n", p.stderr.decode(errors="replace"))
    return p


def untimed(text: bytes) -> str:
    return re.sub(r"\(\d+\.\d{3} sec\)", "(0.000 sec)", text.decode())


def prompt(srv) -> str:
    return f"ssdb 127.0.0.1:{srv.port}> "


def fill(c, *reqs) -> None:
    for r in reqs:
        assert c(*r)[0] == b"ok", r


# --- piped sessions ------------------------------------------------------------------------
def test_recorded_session(server):
    """The non-interactive session recorded from SSDB 1.9.8's shell (tools.md §1.4)."""
    c = server.client()
    fill(c, *[("set", k, v) for k, v in zip("bcde", "2345")])
    c.close()
    p = cli("-p", str(server.port), stdin='set a 1\nget a\nget nope\nscan "" "" 10\nkeys "" "" 10\nfoo\n')
    # unlike SSDB (always 0, nothing on stdout for not_found and errors): status 1 for the
    # error reply, and an empty stdout line for each reply without data, keeping lines aligned
    assert p.returncode == 1
    kv = "".join(f"  {k:<15}: {v}\n" for k, v in zip("abcde", "12345"))
    keys = "".join(f"  {k:>15}\n" for k in "abcde")
    assert p.stdout.decode() == "ok\n1\n\n" + kv + keys + "\n"
    pr = prompt(server)
    assert untimed(p.stderr) == (
        WELCOME
        + f"{pr}(0.000 sec)\n"
        + f"{pr}(0.000 sec)\n"
        + f"{pr}not_found\n(0.000 sec)\n"
        + f"{pr}key             value\n{'-' * 25}\n5 result(s) (0.000 sec)\n"
        + f"{pr}              key\n{'-' * 17}\n5 result(s) (0.000 sec)\n"
        + f"{pr}client_error: Unknown Command: foo\n(0.000 sec)\n"
        + pr
    )


def test_every_reply_kind(server):
    c = server.client()
    fill(c, ("zset", "z", "m1", 3), ("zset", "z", "m2", 4), ("hset", "h", "f", "v"), ("set", "n", 5))
    fill(c, ("qpush", "q", "a", "b", "c"))
    c.close()
    lines = [
        "incr n 5",            # integer
        "zavg z 0 100",        # float
        "zavg nothing 0 1",    # float: SSDB's -nan
        "hgetall h",           # string map
        "zrange z 0 -1",       # integer map
        "multi_exists n zz",   # integer map of booleans
        "multi_set x 1 y 2",   # int-or-bare
        "qpop q",              # string when the size is 1
        "qpop q 2",            # list otherwise
        'hvals h "" "" 10',    # unknown to the library: list
        "set n",               # wrong number of arguments
        "PING",                # the command word is lowercased
        "exists n",
    ]
    p = cli("-p", str(server.port), stdin="\n".join(lines) + "\n")
    assert p.stdout.decode() == (
        "10\n3.5\nnan\n"
        "  f              : v\n"
        "  m1             : 3\n  m2             : 4\n"
        "  n              : 1\n  zz             : 0\n"
        "2\na\n"
        "                b\n                c\n"
        "                v\n"
        "\n"  # set n: wrong number of arguments (an empty line keeps stdout aligned)
        "ok\n1\n"
    )
    assert p.returncode == 1
    err = untimed(p.stderr)
    assert "> client_error: wrong number of arguments\nusage: set key value\n(0.000 sec)\n" in err
    assert err.count("key             value\n" + "-" * 25 + "\n") == 3
    assert err.count("              key\n" + "-" * 17 + "\n") == 2
    assert "2 result(s) (0.000 sec)\n" in err and "sec)\n(0.000 sec)" not in err  # the timing once


def test_binary_values_typed_and_shown_escaped(server):
    p = cli("-p", str(server.port),
            stdin='set bin "a\\x00b\\xff\\n"\nget bin\n:escape yes\nget bin\n:escape auto\nget bin\nget txt\n'
                  "set txt 'plain text'\nget txt\n:escape no\nget bin\n:escape maybe\n:colour\n")
    assert p.stdout == (b"ok\n" + b"a\x00b\xff\n\n" + b"a\\x00b\\xff\\n\n" + b"a\\x00b\\xff\\n\n"
                        + b"\n"  # get txt: not_found
                        + b"ok\nplain text\n" + b"a\x00b\xff\n\n")
    assert p.returncode == 1  # :escape maybe and :colour
    err = p.stderr.decode()
    assert "  Escape response\n" in err and "  Escape binary response\n" in err
    assert "  No escape response\n" in err and "  Usage: escape yes|no|auto\n" in err
    assert "Bad setting!\n" in err
    c = server.client()
    assert c("get", "bin") == [b"ok", b"a\x00b\xff\n"]
    c.close()


def test_help_quit_and_line_errors(server):
    p = cli("-p", str(server.port), stdin='help\nset a "unclosed\nauth\nset a "\\x4"\nexit\nset after quit\n')
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "# display ssdb-server status\n\tinfo\n" in out and "press 'q' and Enter to quit." in out
    assert "error: No closing quotation\n" in err
    assert "Usage: auth password\n" in err
    assert "error: invalid \\x escape" in err
    assert err.endswith("bye.\n")
    c = server.client()
    assert c("get", "after") == [b"not_found"]
    c.close()
    p = cli("-p", str(server.port), stdin="q\n")
    assert p.stderr.decode().endswith(prompt(server) + "bye.\n")
    p = cli("-p", str(server.port), stdin="")  # EOF ends the session silently
    assert p.returncode == 0 and p.stderr.decode() == WELCOME + prompt(server)


def test_arguments(server):
    assert cli("127.0.0.1", str(server.port), stdin="ping\n").stdout == b"ok\n"
    assert cli(str(server.port), "127.0.0.1", stdin="ping\n").stdout == b"ok\n"
    assert cli("-h", "127.0.0.1", "-p", str(server.port), stdin="ping\n").stdout == b"ok\n"
    for flag in ("--help", "-v"):
        p = cli(flag)
        assert p.returncode == 0 and p.stdout.decode().startswith("Usage:\n") and "-n <opt>" in p.stdout.decode()
    p = cli("-p", "notaport")
    assert p.returncode == 2 and "Error: invalid port: notaport" in p.stderr.decode()


def test_unreachable_server():
    port = free_port()
    p = cli("-p", str(port), stdin="ping\n")
    assert p.returncode == 3
    assert p.stderr.decode().startswith(f"Failed to connect to: 127.0.0.1:{port}\nConnection error: ")
    assert "refused" in p.stderr.decode().lower()


def test_auth_password(server_factory):
    srv = server_factory("authed", server={"auth": PW})
    p = cli("-p", str(srv.port), stdin="set a 1\n")
    assert "noauth: authentication required.\n" in p.stderr.decode()
    assert p.returncode == 3
    p = cli("-p", str(srv.port), "-a", PW, stdin="set a 1\nget a\n")
    assert p.stdout == b"ok\n1\n" and p.returncode == 0
    p = cli("-p", str(srv.port), stdin=f"auth {PW}\nget a\nauth wrong\n")
    assert p.stdout == b"ok\n1\n\n"
    assert "error: invalid password\n" in p.stderr.decode()
    assert p.returncode == 1


# --- built-in procedures -------------------------------------------------------------------
def test_export_import_round_trip(server_factory, tmp_path):
    a = server_factory("a")
    b = server_factory("b")
    c = a.client()
    fill(c, ("set", "k1", "v1"), ("set", b"bin\x00\tkey", b"\x00\x01\xff\n\t'\\"), ("set", "k2", "with space "),
         ("hset", "h1", "f1", "x"), ("hset", "h1", b"f\t2", b"y\n"), ("hset", "h2", "f", "z"),
         ("zset", "z1", "m1", -5), ("zset", "z1", b"m\x002", 1 << 40), ("zset", "z2", "m", 0),
         ("qpush", "q1", "i1", "i2", b"i\x003"), ("qpush", "q2", "x"))
    for i in range(2500):  # more than one batch of each walk
        c.send("hset", "big", f"f{i:05d}", i)
    for _ in range(2500):
        c.read()
    want = snapshot(c)
    c.close()
    f = tmp_path / "export.txt"
    p = cli("-p", str(a.port), stdin=f"export {f}\nexport {f}\n")
    out = p.stdout.decode()
    assert out.count("done.\n") == 1 and "100%\n" in out
    assert f"Error: {f} already exists!\n" in out
    text = f.read_bytes()
    assert b"set\tbin\\x00\\tkey\t\\x00\\x01\\xff\\n\\t\\'\\\\\n" in text
    assert b"zset\tz1\tm1\t-5\n" in text and b"qpush\tq1\ti\\x003\n" in text
    p = cli("-p", str(b.port), stdin=f"import {f}\n")
    assert "done.\n" in p.stdout.decode()
    c = b.client()
    got = snapshot(c)
    c.close()
    assert got == want, describe_difference(want, got)


def test_export_interactive_ranges_and_import_errors(server, tmp_path):
    c = server.client()
    fill(c, *[("set", f"k{i}", i) for i in range(6)], ("hset", "ha", "f", "1"), ("hset", "hb", "f", "2"),
         ("hset", "hc", "f", "3"), ("zset", "z", "m", 1), ("qpush", "q", "i"))
    c.close()
    f = tmp_path / "part.txt"
    answers = "k2\nk4\nhb\nhc\nzz\n\n\n\n"  # kv [k2,k4], hash [hb,hc], zset from zz (none), all queues
    p = cli("-p", str(server.port), stdin=f"export -i {f}\n{answers}")
    assert "input KV range[start, end]: \n  start(inclusive, default none): " in p.stdout.decode()
    assert f.read_text() == "set\tk2\t2\nset\tk3\t3\nset\tk4\t4\nhset\thb\tf\t2\nhset\thc\tf\t3\nqpush\tq\ti\n"
    bad = tmp_path / "bad.txt"
    bad.write_text("set\tx\t1\nbogus\nset\ty\t2\nset\tz\t3\\\nset\tonly_a_key\nset\tw\t4\n")
    p = cli("-p", str(server.port), stdin=f"import {bad}\n")
    # every bad line reported with its number, the others imported, the count at the end (SSDB: abort)
    assert p.returncode == 1
    assert p.stdout.decode().endswith("done.\n")
    lines = p.stderr.decode().splitlines()
    assert [ln[ln.find("Error:"):] if "Error:" in ln else ln for ln in lines
            if "Error:" in ln or "line(s) failed" in ln] == [
        "Error: bad format at line 2 (expected command<TAB>arguments), skipped",
        "Error: bad format at line 4 (Trailing \\ in string), skipped",
        "Error: line 5 refused by the server: client_error: wrong number of arguments",
        "3 line(s) failed: 2 bad format, 1 refused by the server",
    ]
    c = server.client()
    assert [c("get", k) for k in "xyzw"] == [[b"ok", b"1"], [b"ok", b"2"], [b"not_found"], [b"ok", b"4"]]
    c.close()
    p = cli("-p", str(server.port), stdin=f"import {tmp_path / 'missing'}\nimport\n")
    assert f"Error: {tmp_path / 'missing'} not exists!\n" in p.stdout.decode()
    assert "Usage: import in_file\n" in p.stderr.decode()
    assert p.returncode == 1
    good = tmp_path / "good.txt"
    good.write_text("set\tok1\t1\n")
    p = cli("-p", str(server.port), stdin=f"import {good}\n")
    assert p.returncode == 0 and "failed" not in p.stderr.decode()


def test_flushdb(server_factory):
    srv = server_factory("f")
    c = srv.client()
    fill(c, ("set", "a", 1), ("hset", "h", "f", 1), ("zset", "z", "m", 1), ("qpush", "q", "i"))
    p = cli("-p", str(srv.port), stdin="flushdb\nno\n")
    assert "============================ DANGER! ============================" in p.stdout.decode()
    assert "> flushdb? Operation cancelled.\n" in p.stdout.decode()
    assert c("get", "a") == [b"ok", b"1"]
    p = cli("-p", str(srv.port), stdin="flushdb kv\nyes\n")
    out = p.stdout.decode()
    assert "delete[kv  ] 1 key(s).\n" in out and "[kv]          1 key(s).\n" in out and "[hash]" not in out
    assert c("get", "a") == [b"not_found"] and c("hget", "h", "f") == [b"ok", b"1"]
    p = cli("-p", str(srv.port), stdin="flushdb\nyes\n")
    assert "clear binlog\n" in p.stdout.decode() and "compacting...\ndone.\n" in p.stdout.decode()
    assert re.search(r"\(\d+\.\d{3} sec\)\n", p.stderr.decode())
    assert snapshot(c) == {"kv": {}, "hash": {}, "zset": {}, "queue": {}}
    # refused while replicating
    slave = server_factory("s", slaveof=[srv.slaveof()])
    sc = slave.client()
    wait_for(lambda: b"SYNC" in b"".join(sc("info")), timeout=15, what="slave link")
    for node in (srv, slave):
        p = cli("-p", str(node.port), stdin="flushdb\nyes\n")
        assert "error! - flushdb is not allowed when replication is in use!\n" in p.stderr.decode()
    sc.close()
    c.close()


# --- Nagios probes -------------------------------------------------------------------------
def test_nagios_probes(server_factory):
    srv = server_factory("n")
    port = str(srv.port)
    p = cli("-p", port, "-n", "info")
    assert p.returncode == 0 and p.stdout.decode().startswith("version\n\t1.9.8\n")
    assert cli("-p", port, "-n", "dbsize").stdout.decode().startswith("OK: dbsize ")
    p = cli("-p", port, "-n", "dbsize", "-w", "-1", "-c", "1000000000")
    assert p.returncode == 1 and p.stdout.decode().startswith("WARN: dbsize ")
    p = cli("-p", port, "-n", "dbsize", "-w", "-2", "-c", "-1")
    assert p.returncode == 2 and p.stdout.decode().startswith("CRITICAL: dbsize ")
    p = cli("-p", port, "-n", "replication")
    assert p.returncode == 1 and p.stdout.decode().startswith("WARN, is replication configured?")
    p = cli("-p", port, "-n", "write_read")
    assert p.returncode == 0 and p.stdout.decode().startswith("OK: write_read_test_key")
    c = srv.client()
    assert c("keys", "", "", "-1") == [b"ok"]  # the probe cleaned up
    c.close()
    slave = server_factory("s", slaveof=[srv.slaveof()])
    sc = slave.client()
    wait_for(lambda: b"status     : SYNC" in b"".join(sc("info")), timeout=15, what="slave in SYNC")
    sc.close()
    p = cli("-p", str(slave.port), "-n", "replication")
    assert p.returncode == 0 and p.stdout.decode().startswith("OK: \nslaveof 127.0.0.1:")
    srv.stop()
    wait_for(lambda: cli("-p", str(slave.port), "-n", "replication").returncode == 2, timeout=15,
             what="CRITICAL once the master is gone")
    p = cli("-p", port, "-n", "info")
    assert p.returncode == 2 and p.stdout == b"CRITICAL: Failed to connect\n"
    p = cli("-p", str(slave.port), "-n", "nosuchprobe")
    assert p.returncode == 3 and p.stdout.decode().startswith("UNKNOWN:")


# --- a person at a terminal ----------------------------------------------------------------
@pytest.fixture
def terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    inputrc = tmp_path / "inputrc"
    inputrc.write_text("set enable-bracketed-paste off\n")
    env = {**os.environ, "HOME": str(tmp_path), "TERM": "xterm", "INPUTRC": str(inputrc),
           "SSDB_CLI_HISTFILE": str(tmp_path / "history")}
    children = []

    def spawn(*args: str):
        child = pexpect.spawn(sys.executable, [str(TOOL), *args], env=env, encoding="utf-8", timeout=15,
                              dimensions=(40, 160))
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def test_terminal_session(server, terminal, tmp_path):
    import pexpect

    pr = re.escape(prompt(server))
    t = terminal("-p", str(server.port))
    t.expect_exact(WELCOME.replace("\n", "\r\n") + "ssdb-server 1.9.8\r\n\r\n")
    t.expect(pr)
    # line editing: a typo fixed with backspace and Ctrl-A
    t.send("et greeting hi\x7f\x7fhello\x01s\r")
    t.expect("ok\r\n")
    t.expect(r"\(\d\.\d{3} sec\)")
    t.expect(pr)
    # tab completion of a command name
    t.send("mult\t")
    t.expect("mult\x07?i_")  # the common prefix (readline rings: more than one match)
    t.send("ge\t")
    t.expect_exact("get ")  # completed to the single match, with a space
    t.send("greeting\r")
    t.expect(r"greeting       : hello")
    t.expect(pr)
    # binary typed escaped, shown escaped
    t.sendline('set b "\\x00\\x01z"')
    t.expect(pr)
    t.sendline("get b")
    t.expect_exact("\\x00\\x01z\r\n")
    t.expect(pr)
    # history: Ctrl-P recalls the previous line
    t.send("\x10")
    t.expect_exact("get b")
    t.send("\r")
    t.expect_exact("\\x00\\x01z\r\n")
    t.expect(pr)
    # Ctrl-C abandons the line, the shell stays
    t.send("half typed\x03")
    t.expect(pr)
    t.sendline("ping")
    t.expect("ok\r\n")
    t.expect(pr)
    t.sendline("auth secret-not-in-history")
    t.expect(pr)
    # reconnect after the server restarts
    server.restart()
    t.sendline("get greeting")
    t.expect_exact("[1/5] reconnecting to server... done.")
    t.expect("hello\r\n")
    t.expect(pr)
    t.sendline("quit")
    t.expect("bye.")
    t.expect(pexpect.EOF)
    history = (tmp_path / "history").read_text()
    assert "multi_get greeting" in history and "get b" in history
    assert "secret" not in history
    # the history persists into the next session
    t = terminal("-p", str(server.port))
    t.expect(pr)
    t.send("\x10\x10")
    t.expect_exact("get greeting")
    t.sendline("")
    t.expect("hello\r\n")
    t.sendline("exit")
    t.expect(pexpect.EOF)


def test_terminal_messages_for_auth_and_unreachable(server_factory, terminal):
    import pexpect

    srv = server_factory("authed", server={"auth": PW})
    t = terminal("-p", str(srv.port))
    t.expect_exact("noauth: authentication required.")
    t.expect_exact("hint: type 'auth <password>', or start ssdb-cli with -a <password>")
    t.expect(re.escape(prompt(srv)))
    t.sendline("get a")
    t.expect_exact("noauth: authentication required.")
    t.expect_exact("hint: type 'auth")
    t.sendline(f"auth {PW}")
    t.expect("ok\r\n")
    t.sendline("q")
    t.expect(pexpect.EOF)
    t = terminal("-p", str(srv.port), "-a", "wrong" * 8)
    t.expect_exact("auth failed: error: invalid password")
    t.sendline("q")
    t.expect(pexpect.EOF)
    port = free_port()
    t = terminal("-p", str(port))
    t.expect_exact(f"Failed to connect to: 127.0.0.1:{port}")
    t.expect_exact("hint: is ssdb-server running and listening on")
    t.expect(pexpect.EOF)


def test_terminal_help_for_a_command(server, terminal):
    import pexpect

    t = terminal("-p", str(server.port))
    t.expect(re.escape(prompt(server)))
    t.sendline("help hset")
    t.expect_exact("hset name field value")
    t.expect_exact("set a field of hash name; 1 if the field is new, else 0")
    t.sendline("get nope")  # interactive output stays SSDB's: no empty stdout line
    t.expect_exact("not_found")
    t.sendline("q")
    t.expect(pexpect.EOF)
    t.close()
    assert t.exitstatus == 0
