"""Start real ssdbpy server processes on 127.0.0.1, each with its own directory.

``ServerProcess`` writes a TAB-indented config, starts ``python -m
ssdbpy.apps.server`` on a free port, waits until it accepts connections, and
can stop, kill -9 and restart it keeping its data.  Its log is attached to a
failing test's report by the ``server_factory`` fixture.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"  # beside the project: the reference SSDB binary only
DATA = REPO / "tests" / "data"  # facts recorded from SSDB 1.9.8 (vectors, an SSDB-written data dir)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Poll ``cond`` until it returns a truthy value; raise AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def render_config(work_dir: str, port: int, server: dict | None = None, extra: str = "", binlog: bool = True,
                  log_output: str = "log.txt", log_level: str = "info", slaveof: list[dict] | None = None,
                  replication: dict | None = None) -> str:
    lines = [f"work_dir = {work_dir}", "pidfile = ./ssdb.pid", "", "server:", "\tip: 127.0.0.1", f"\tport: {port}"]
    for k, v in (server or {}).items():
        for item in v if isinstance(v, list) else [v]:
            lines.append(f"\t{k}: {item}")
    repl = {"capacity": 20000000, "sync_speed": -1, **(replication or {})}
    lines += ["", "replication:", f"\tbinlog: {'yes' if binlog else 'no'}", f"\t\tcapacity: {repl['capacity']}",
              f"\tsync_speed: {repl['sync_speed']}"]
    for so in slaveof or []:
        lines.append("\tslaveof:")
        lines += [f"\t\t{k}: {v}" for k, v in so.items()]
    lines += ["", "logger:", f"\tlevel: {log_level}", f"\toutput: {log_output}", "",
              "leveldb:", "\tcache_size: 16", "\twrite_buffer_size: 4", "\tcompression: yes", ""]
    text = "\n".join(lines)
    if extra:
        text += extra if extra.endswith("\n") else extra + "\n"
    return text


class ServerProcess:
    def __init__(self, root: Path, name: str = "node", server: dict | None = None, extra: str = "",
                 binlog: bool = True, port: int | None = None, slaveof: list[dict] | None = None,
                 replication: dict | None = None) -> None:
        self.root = Path(root) / name
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "var").mkdir(exist_ok=True)
        self.port = port or free_port()
        self.conf = self.root / "ssdb.conf"
        self._conf_args = dict(server=server, extra=extra, binlog=binlog, replication=replication)
        self.write_config(slaveof)
        self.proc: subprocess.Popen | None = None
        self.name = name

    def write_config(self, slaveof: list[dict] | None = None) -> None:
        """(Re)write the config; ``slaveof`` is a list of slaveof blocks (dicts of options)."""
        self.conf.write_text(render_config("./var", self.port, slaveof=slaveof, **self._conf_args))

    def slaveof(self, type_: str = "sync", id_: str | None = None) -> dict:
        """A slaveof block that points at this server."""
        block = {"type": type_, "ip": "127.0.0.1", "port": self.port}
        if id_:
            block = {"id": id_, **block}
        return block

    @property
    def work_dir(self) -> Path:
        return self.root / "var"

    @property
    def log_path(self) -> Path:
        return self.root / "log.txt"

    def _accepting(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True

    def start(self, timeout: float = 15.0) -> "ServerProcess":
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.stderr_path = self.root / "stderr.txt"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ssdbpy.apps.server", str(self.conf)],
            cwd=str(self.root), env=env, stdin=subprocess.DEVNULL,
            stdout=open(self.root / "stdout.txt", "ab"), stderr=open(self.stderr_path, "ab"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if self._accepting():
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"server {self.name} did not start in {timeout}s:\n{self.logs()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"server {self.name} ignored SIGTERM for {timeout}s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> "ServerProcess":
        self.stop()
        return self.start()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        parts = []
        for p in (self.log_path, self.root / "stdout.txt", self.root / "stderr.txt"):
            if p.exists():
                parts.append(f"--- {p.name} ---\n" + p.read_text(errors="replace")[-6000:])
        return "\n".join(parts)

    def client(self, timeout: float = 10.0):
        from ssdbpy.client import Client

        return Client("127.0.0.1", self.port, timeout=timeout)

    def raw(self, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s
