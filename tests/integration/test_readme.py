"""The README's commands, run as a reader pastes them: the Quick start's server on the
shipped ssdb.conf, the line to try while it runs, and the ``sh`` examples of the Tools
section (ssdb-cli scripts, ssdb-dump backup and restore, ssdb-bench, ssdb-repair,
ssdb-compare), with the installed console scripts.

Each command is taken from README.md itself; only what cannot run here is replaced,
and every replacement must find its text (so a README that changes breaks this test
instead of leaving it testing something else): port 8888 by a free port, the example
folders by temporary ones, the example hosts by local servers, a smaller request
count for ssdb-bench.  Where the README says what a command prints (``# prints: …``)
that is what is asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.server import REPO, free_port

pytestmark = pytest.mark.timeout(120)

README = (REPO / "README.md").read_text()
BIN = Path(sys.executable).parent  # the venv's console scripts (pip install puts them beside python)


def section(heading: str) -> str:
    """The README text from ``heading`` (a whole line) to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = README.index("\n" + heading + "\n")
    rest = README[start + len(heading) + 2:]
    ends = [m.start() for m in re.finditer(r"^#{1,%d} " % len(level), rest, re.M)]
    return rest[: ends[0]] if ends else rest


def sh_lines(text: str) -> list[str]:
    """The command lines of the ```sh blocks in ``text``."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines += [ln for ln in block.splitlines() if ln.strip()]
    return lines


def command(line: str) -> str:
    """A README line without its trailing comment and its ``[optional]`` parts."""
    cmd = re.sub(r"\s+#\s.*$", "", line)
    return re.sub(r"\s*\[[^\]]*\]", "", cmd).strip()


def replace(cmd: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        assert old in cmd, f"README command {cmd!r} no longer contains {old!r}"
        cmd = cmd.replace(old, new)
    return cmd


def run(cmd: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSDB_AUTH", "SSDB_PASSWORD")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    p = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    print(f"$ {cmd}\nrc: {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def printed(line: str) -> list[str] | None:
    """The lines a README comment ``# prints: a, (empty line), b`` promises, None without one."""
    m = re.search(r"#\s*prints:\s*(.*)$", line)
    if not m:
        return None
    return ["" if w.strip() == "(empty line)" else w.strip() for w in m.group(1).split(",")]


class Node:
    """``ssdb-server ssdb.conf`` as the Quick start runs it, in a directory of its own."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        (root / "var").mkdir(parents=True, exist_ok=True)  # a clone has var/ (var/.gitignore)
        assert (REPO / "var" / ".gitignore").is_file()
        conf = (REPO / "ssdb.conf").read_text()
        assert "\tport: 8888\n" in conf
        (root / "ssdb.conf").write_text(conf.replace("\tport: 8888\n", f"\tport: {port}\n"))
        self.proc: subprocess.Popen | None = None

    def start(self, line: str) -> None:
        self.proc = subprocess.Popen(["bash", "-c", line], cwd=self.root, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"{line!r} exited with {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < deadline, f"{line!r} does not listen on {self.port} after 30 s"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


@pytest.fixture
def nodes(tmp_path):
    made: list[Node] = []

    def make(name: str) -> Node:
        n = Node(tmp_path / name, free_port())
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()


def quick_start_server_line() -> str:
    """The part of the Quick start's first command that runs the server (the install before it
    is what .ci/run does for this test run)."""
    first = sh_lines(section("## Quick start"))[0]
    assert first.startswith("python3 -m venv .venv && .venv/bin/pip install -q . && ")
    run_part = first.rsplit(" && ", 1)[1]
    assert run_part == ".venv/bin/ssdb-server ssdb.conf"
    return "ssdb-server ssdb.conf"  # the same program, from this run's venv


def test_quick_start_and_the_shell_examples(nodes, tmp_path):
    node = nodes("quick")
    node.start(quick_start_server_line())
    port = str(node.port)
    # "its log goes to ./var/log.txt" and the data to ./var
    assert (node.root / "var" / "log.txt").is_file()
    assert (node.root / "var" / "data").is_dir()

    # "While the server runs, from another terminal in the same directory: ..."
    try_line = re.search(r"`(\.venv/bin/ssdb-cli -p 8888 set hello world)`", README).group(1)
    p = run(replace(try_line.replace(".venv/bin/", ""), {"8888": port}), node.root)
    assert (p.returncode, p.stdout) == (0, "ok\n")
    redis_line = re.search(r"`(redis-cli -p 8888 get hello)`", README).group(1)
    if shutil.which("redis-cli"):
        p = run(replace(redis_line, {"8888": port}), node.root)
        assert (p.returncode, p.stdout) == (0, "world\n")

    # the ssdb-cli examples: scripts, one-shot, the password from the environment, help
    lines = sh_lines(section("### ssdb-cli: the shell"))
    scripts = [ln for ln in lines if "printf" in ln or "SSDB_AUTH" in ln or " help " in ln or ln.startswith(
        "ssdb-cli -p 8888 get a")]
    assert len(scripts) == 4, scripts
    for line in scripts:
        cmd = command(line)
        if "8888" in cmd:
            cmd = replace(cmd, {"8888": port})
        p = run(cmd, tmp_path)
        assert p.returncode == 0
        want = printed(line)
        if want is not None:
            assert p.stdout.split("\n")[:-1] == want, line
        elif "info" in cmd:
            assert "version" in p.stdout
        else:  # help zscan
            assert "zscan" in p.stdout and "key_start" in p.stdout


def test_backup_restore_bench_repair_compare(nodes, tmp_path):
    src = nodes("source")
    src.start("ssdb-server ssdb.conf")
    port = str(src.port)
    assert run(f"ssdb-cli -p {port} set greeting hello && ssdb-cli -p {port} hset h f v", tmp_path).returncode == 0

    dump_lines = sh_lines(section("### ssdb-dump: online backup and restore"))
    backup = tmp_path / "backup" / "ssdb-2024-06-01"
    backup.parent.mkdir()
    for line in dump_lines[:2]:  # the two ways to back up: options, then SSDB's positional form
        if backup.exists():
            shutil.rmtree(backup)
        p = run(replace(command(line), {"8888": port, "/backup/ssdb-2024-06-01": str(backup)}), tmp_path)
        assert p.returncode == 0 and (backup / "backup.json").is_file()

    # restore into a stopped node's work_dir, start it, and compare both nodes' content
    restored = nodes("restored")
    p = run(replace(command(dump_lines[2]), {"/backup/ssdb-2024-06-01": str(backup),
                                             "/var/lib/ssdb": str(restored.root / "var")}), tmp_path)
    assert p.returncode == 0
    restored.start("ssdb-server ssdb.conf")
    p = run(f"ssdb-cli -p {restored.port} get greeting", tmp_path)
    assert p.stdout == "hello\n"
    compare = sh_lines(section("### ssdb-compare"))[0]
    p = run(replace(command(compare), {"10.0.0.1:8888 10.0.0.2:8888 10.0.0.3:8888":
                                       f"127.0.0.1:{port} 127.0.0.1:{restored.port}"}), tmp_path)
    assert p.returncode == 0  # identical
    assert run(f"ssdb-cli -p {restored.port} set greeting changed", tmp_path).returncode == 0
    p = run(replace(command(compare), {"10.0.0.1:8888 10.0.0.2:8888 10.0.0.3:8888":
                                       f"127.0.0.1:{port} 127.0.0.1:{restored.port}"}), tmp_path)
    assert p.returncode == 1 and "greeting" in p.stdout

    # ssdb-bench, SSDB's phases, with fewer requests
    bench = sh_lines(section("### ssdb-bench"))[1]
    p = run(replace(command(bench), {"8888": port, "10000 50": "300 5", " -a PASSWORD": ""}), tmp_path)
    assert p.returncode == 0 and p.stdout.count("qps:") == 11

    # ssdb-repair on the stopped restored node
    restored.stop()
    repair = sh_lines(section("### ssdb-repair"))[0]
    p = run(replace(command(repair), {"/var/lib/ssdb/data": str(restored.root / "var" / "data")}), tmp_path)
    assert p.returncode == 0
    restored.start("ssdb-server ssdb.conf")
    assert run(f"ssdb-cli -p {restored.port} get greeting", tmp_path).stdout == "changed\n"
