"""ssdb-server command-line paths (config.md §3), with the real server where one starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
BANNER = "ssdb-server 1.9.8\nCopyright (c) 2012-2015 ssdb.io\n\n"
USAGE_LINE = "    ssdb-server [-d] /path/to/ssdb.conf [-s start|stop|restart]\n"
PW = "p" * 32


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ssdbpy.apps.server", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    print("rc:", proc.returncode, "\nstdout:\n", proc.stdout, "\nstderr:\n", proc.stderr)
    return proc


def write_conf(tmp_path: Path, body: str, name: str = "ssdb.conf") -> Path:
    conf = tmp_path / name
    conf.write_text(body)
    return conf


def test_help() -> None:
    p = run("-h")
    assert p.returncode == 0
    assert p.stderr == BANNER
    assert p.stdout.startswith("Usage:\n") and USAGE_LINE in p.stdout
    assert "-d    run as daemon" in p.stdout


def test_version() -> None:
    p = run("-v")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", BANNER)


def test_long_version_names_ssdbpy() -> None:
    from ssdbpy import __version__

    p = run("--version")
    assert (p.returncode, p.stdout) == (0, f"ssdbpy {__version__} (SSDB 1.9.8 compatible)\n")
    assert __version__.count(".") == 2 and run("-h").stdout.count("--version") == 1


def test_no_config_prints_usage() -> None:
    p = run()
    assert p.returncode == 1
    assert p.stderr == BANNER
    assert USAGE_LINE in p.stdout


def test_only_daemon_flag_prints_usage() -> None:
    p = run("-d")
    assert p.returncode == 1 and USAGE_LINE in p.stdout


def test_bad_start_option(tmp_path: Path) -> None:
    p = run(str(tmp_path / "x.conf"), "-s", "reload")
    assert p.returncode == 1
    assert USAGE_LINE in p.stdout
    assert p.stderr == BANNER + "Error: bad argument: 'reload'\n"


def test_s_without_value(tmp_path: Path) -> None:
    p = run(str(tmp_path / "x.conf"), "-s")
    assert p.returncode == 1
    assert USAGE_LINE in p.stdout


def test_options_are_scanned_in_order(tmp_path: Path) -> None:
    # like SSDB, -v exits as soon as it is seen
    assert run("-v", "-s", "bad").returncode == 0
    assert run("-s", "bad", "-v").returncode == 1


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    p = run(str(missing))
    assert p.returncode == 1
    assert f"'{missing}' is not a file or not exists!" in p.stderr


def test_config_is_a_directory(tmp_path: Path) -> None:
    p = run(str(tmp_path))
    assert p.returncode == 1
    assert f"'{tmp_path}' is not a file or not exists!" in p.stderr


@pytest.mark.parametrize(
    "body,line,fragment",
    [
        ("server:\n    port: 8888\n", 2, "whitespace"),
        ("# c\nserver:\n\t\tport: 8888\n", 3, "indent"),
        ("server:\n\tport 8888\n", 2, "key: value"),
        ("server:\n\tip: 127.0.0.1\n\tport: eighty\n", 3, "server.port"),
        ("server:\n\tport: 70000\n", 2, "server.port"),
        # unknown keys and bad values: refused with line, key, value and what is allowed
        ("server:\n\tip: 127.0.0.1\n\tprot: 39313\n", 3,
         "unknown key 'server.prot' (prot: '39313'); did you mean 'port'?"),
        ("server:\n\treadonly: maybe\n", 2,
         "invalid value 'maybe' for server.readonly: expected yes/no, true/false, on/off or 1/0"),
        ("logger:\n\tlevel: verbose\n", 2, "invalid value 'verbose' for logger.level"),
        ("leveldb:\n\tcache_size: lots\n", 2, "invalid value 'lots' for leveldb.cache_size"),
        ("replication:\n\tslaveof:\n\t\thost: h\n\t\tport: 1\n\t\ttype: sink\n", 5,
         "invalid value 'sink' for replication.slaveof.type: expected one of sync, mirror"),
    ],
)
def test_config_errors_report_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    conf = write_conf(tmp_path, body)
    p = run(str(conf))
    assert p.returncode == 1
    assert f"error loading conf file: '{conf}'" in p.stderr
    assert f"line {line}:" in p.stderr and fragment in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("pw", ["very-strong-password", "short", "x" * 31])
def test_weak_password_refused(tmp_path: Path, pw: str) -> None:
    conf = write_conf(tmp_path, f"server:\n\tport: 0\n\tauth: {pw}\n")
    p = run(str(conf))
    assert p.returncode == 1
    assert "Weak password is not allowed" in p.stderr
    assert "line 3:" in p.stderr


def test_empty_auth_refused(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "server:\n\tport: 0\n\tauth:\n")
    p = run(str(conf))
    assert p.returncode == 1
    assert "line 3:" in p.stderr and "empty" in p.stderr and "refuses to start" in p.stderr


def test_pidfile_of_a_live_process_refused(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    pidfile = tmp_path / "var" / "ssdb.pid"
    live = str(os.getpid())  # this test process: certainly running
    pidfile.write_text(live)
    conf = write_conf(tmp_path, "work_dir = ./var\npidfile = ./var/ssdb.pid\n")
    p = run(str(conf))
    assert p.returncode == 1
    assert (
        "Fatal error!\n"
        f"Pidfile {pidfile} already exists!\n"
        "Kill the running process before you run this command,\n"
        "or use '-s restart' option to restart the server.\n"
    ) in p.stderr
    assert pidfile.read_text() == live


def test_stale_pidfile_left_by_a_crash_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    pidfile = tmp_path / "var" / "ssdb.pid"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    pidfile.write_text(str(gone.pid))
    conf = write_conf(tmp_path, START_CONF)
    proc = subprocess.Popen(_server(str(conf)), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        log = tmp_path / "var" / "log.txt"
        wait_for(lambda: log.exists() and "ssdb server started." in log.read_text())
        assert pidfile.read_text() == str(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert f"removing stale pidfile {pidfile} (process {gone.pid} is not running)" in err
    assert not pidfile.exists()


def test_missing_work_dir(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "work_dir = ./missing\npidfile = ./ssdb.pid\n")
    p = run(str(conf))
    assert p.returncode == 1
    assert f"'{tmp_path / 'missing'}' is not a directory or not exists!" in p.stderr
    assert not (tmp_path / "ssdb.pid").exists()


def test_relative_config_path_resolves_against_its_directory(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    write_conf(sub, "work_dir = ./var\n")
    p = run("etc/ssdb.conf", cwd=tmp_path)
    assert p.returncode == 1
    assert f"'{sub / 'var'}' is not a directory or not exists!" in p.stderr


def test_stop_without_pidfile(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
    p = run(str(conf), "-s", "stop")
    assert p.returncode == 1
    assert f"could not read pidfile: {tmp_path / 'ssdb.pid'}" in p.stderr


def test_stop_without_pidfile_configured(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "server:\n\tport: 0\n")
    p = run(str(conf), "-s", "stop")
    assert p.returncode == 1
    assert "could not read pidfile" in p.stderr


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stop_stale_pidfile(tmp_path: Path) -> None:
    pid = _dead_pid()
    pidfile = tmp_path / "ssdb.pid"
    pidfile.write_text(str(pid))
    conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
    p = run(str(conf), "-s", "stop")
    assert p.returncode == 0
    assert f"process: {pid} not running" in p.stderr
    assert not pidfile.exists()


FAKE_SERVER = """
import os, signal, sys, time
pidfile = sys.argv[1]
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))
def on_term(signum, frame):
    os.unlink(pidfile)
    sys.exit(0)
if sys.argv[2] == "clean":
    signal.signal(signal.SIGTERM, on_term)
elif sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _fake_server(pidfile: Path, mode: str, conf: Path | None = None) -> subprocess.Popen[str]:
    """A process looking like ``ssdb-server <conf>`` to ``-s stop`` (its script is called so)."""
    script = pidfile.parent / "ssdb-server"
    script.write_text(FAKE_SERVER)
    conf = conf or pidfile.parent / "ssdb.conf"
    child = subprocess.Popen(
        [sys.executable, str(script), str(pidfile), mode, str(conf)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    return child


def test_stop_running_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "ssdb.pid"
    child = _fake_server(pidfile, "clean")
    try:
        conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
        p = run(str(conf), "-s", "stop")
        assert p.returncode == 0
        assert child.wait(timeout=10) == 0
        assert not pidfile.exists()
    finally:
        child.kill()
        child.wait()


def test_stop_process_that_dies_without_removing_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "ssdb.pid"
    child = _fake_server(pidfile, "crash")
    try:
        conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
        stopper = subprocess.Popen(
            [sys.executable, "-m", "ssdbpy.apps.server", str(conf), "-s", "stop"],
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.wait(timeout=10) == -signal.SIGTERM  # reaped, so it no longer exists
        _, err = stopper.communicate(timeout=10)
        assert stopper.returncode == 0, err
        assert not pidfile.exists()
    finally:
        child.kill()
        child.wait()


def test_tools_wrapper(tmp_path: Path) -> None:
    wrapper = REPO / "tools" / "ssdb-server"
    assert os.access(wrapper, os.X_OK)
    p = subprocess.run(
        [sys.executable, str(wrapper), "-h"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0 and USAGE_LINE in p.stdout and p.stderr == BANNER


# --- start-up and shutdown of the real server ----------------------------------


def _server(*args: str) -> list[str]:
    return [sys.executable, "-m", "ssdbpy.apps.server", *args]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


START_CONF = (
    "work_dir = ./var\n"
    "pidfile = ./var/ssdb.pid\n"
    "server:\n\tport: 0\n\tallow: 127.0.0.1\n"
    "logger:\n\tlevel: info\n\toutput: ./var/log.txt\n"
)


@pytest.fixture
def start_dir(tmp_path: Path) -> Path:
    (tmp_path / "var").mkdir()
    write_conf(tmp_path, START_CONF)
    return tmp_path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_start_and_graceful_stop(start_dir: Path, sig: int) -> None:
    pidfile = start_dir / "var" / "ssdb.pid"
    log = start_dir / "var" / "log.txt"
    proc = subprocess.Popen(
        _server(str(start_dir / "ssdb.conf")),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: log.exists() and "ssdb server started." in log.read_text())
        assert pidfile.read_text() == str(proc.pid)  # decimal, no newline
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    print(out, err, log.read_text())
    assert proc.returncode == 0
    assert out == ""
    assert err == BANNER
    assert not pidfile.exists()
    text = log.read_text()
    for fragment in (
        "[INFO ] server.py(",
        "ssdb-server 1.9.8",
        f"main_db          : {start_dir / 'var' / 'data'}",
        "server listen on 127.0.0.1:",
        "    allow   : 127.0.0.1",
        "    auth    : off",
        f"pidfile: {pidfile}, pid: {proc.pid}",
        "ssdb server started.",
    ):
        assert fragment in text
    assert text.rstrip().endswith("ssdb-server exit.")


def test_bind_failure(start_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        write_conf(start_dir, START_CONF.replace("port: 0", f"port: {port}"))
        p = subprocess.run(
            _server(str(start_dir / "ssdb.conf")),
            env=_env(), capture_output=True, text=True, timeout=30,
        )
    assert p.returncode == 1
    assert "error opening server socket! Address already in use" in p.stderr
    assert not (start_dir / "var" / "ssdb.pid").exists()


def test_storage_failure(start_dir: Path) -> None:
    (start_dir / "var" / "data").write_text("not a LevelDB directory")
    p = subprocess.run(
        _server(str(start_dir / "ssdb.conf")),
        env=_env(), capture_output=True, text=True, timeout=30,
    )
    assert p.returncode == 1
    assert f"could not open data db: {start_dir / 'var'}/data" in p.stderr
    assert not (start_dir / "var" / "ssdb.pid").exists()


def test_daemon_and_stop(start_dir: Path) -> None:
    conf = str(start_dir / "ssdb.conf")
    pidfile = start_dir / "var" / "ssdb.pid"
    log = start_dir / "var" / "log.txt"
    p = subprocess.run(_server("-d", conf), env=_env(), capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == BANNER
    wait_for(lambda: log.exists() and "ssdb server started." in log.read_text())
    pid = int(pidfile.read_text())
    try:
        assert os.getsid(pid) != os.getsid(0)  # detached into its own session
        p = run(conf, "-s", "stop")
        assert p.returncode == 0
        assert not pidfile.exists()
        assert log.read_text().rstrip().endswith("ssdb-server exit.")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- -s stop checks what it signals; SIGHUP reopens the log; -d waits until listening ---------


def _sleeper() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_stop_refuses_a_process_that_is_not_ssdb_server(tmp_path: Path) -> None:
    pidfile = tmp_path / "ssdb.pid"
    other = _sleeper()  # e.g. the pid was reused after a crash
    try:
        pidfile.write_text(str(other.pid))
        conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
        p = run(str(conf), "-s", "stop")
        assert p.returncode == 1
        assert f"refusing to stop it: process {other.pid} is not ssdb-server" in p.stderr
        assert f"if the pidfile {pidfile} is left over from an earlier run, delete it" in p.stderr
        assert other.poll() is None  # not signalled
        assert pidfile.exists()
    finally:
        other.kill()
        other.wait()


def test_stop_refuses_a_server_of_another_config(tmp_path: Path) -> None:
    pidfile = tmp_path / "ssdb.pid"
    conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
    other_conf = write_conf(tmp_path, "pidfile = ./other.pid\n", name="other.conf")
    child = _fake_server(pidfile, "clean", conf=other_conf)
    try:
        p = run(str(conf), "-s", "stop")
        assert p.returncode == 1
        assert f"is an ssdb-server, but not for {conf}" in p.stderr
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_stop_gives_up_after_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "ssdb.pid"
    conf = write_conf(tmp_path, "pidfile = ./ssdb.pid\n")
    child = _fake_server(pidfile, "stubborn", conf=conf)
    try:
        env = {**_env(), "SSDBPY_STOP_TIMEOUT": "1"}
        t0 = time.monotonic()
        p = subprocess.run(_server(str(conf), "-s", "stop"), env=env, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1
        assert f"process: {child.pid} did not stop within 1 s" in p.stderr
        assert 1 <= time.monotonic() - t0 < 10
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_sighup_reopens_the_log_file(start_dir: Path) -> None:
    log = start_dir / "var" / "log.txt"
    rotated = start_dir / "var" / "log.txt.1"
    proc = subprocess.Popen(_server(str(start_dir / "ssdb.conf")), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: log.exists() and "ssdb server started." in log.read_text())
        log.rename(rotated)  # what logrotate does before its postrotate kill -HUP
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: log.exists() and "log file reopened" in log.read_text())
        assert proc.poll() is None
        assert f"received SIGHUP, log file reopened: {log}" in log.read_text()
        assert rotated.read_text().rstrip().endswith("received SIGHUP, reopening the log file")
        assert (start_dir / "var" / "ssdb.pid").exists()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert log.read_text().rstrip().endswith("ssdb-server exit.")
    assert "ssdb-server exit." not in rotated.read_text()


def test_daemon_reports_a_port_in_use(start_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        write_conf(start_dir, START_CONF.replace("port: 0", f"port: {port}"))
        p = subprocess.run(_server("-d", str(start_dir / "ssdb.conf")), env=_env(), capture_output=True,
                           text=True, timeout=30)
    assert p.returncode == 1
    assert "error opening server socket! Address already in use" in p.stderr
    assert not (start_dir / "var" / "ssdb.pid").exists()


def test_daemon_returns_once_listening(start_dir: Path) -> None:
    import socket

    from tests.harness.server import free_port

    port = free_port()
    conf = write_conf(start_dir, START_CONF.replace("port: 0", f"port: {port}"))
    pidfile = start_dir / "var" / "ssdb.pid"
    p = subprocess.run(_server("-d", str(conf)), env=_env(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stderr == BANNER
    pid = int(pidfile.read_text())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # no waiting needed
            s.sendall(b"4\nping\n\n")
            assert s.recv(100) == b"2\nok\n\n"
        assert run(str(conf), "-s", "stop").returncode == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
