"""What one hostile client costs everybody else: ssdbpy trees and the reference SSDB side by side.

For each attack (issue "hardening": a 13-byte huge RESP count, 100 MB requests
with a bad end, a client that never reads 20,000 replies of 1 MB, ``*`` then
16 MB of CRLF; long commands: ``keys`` over 300,000 keys, ``hclear`` of 200,000
fields, ``flushdb``, a 200,000-key ``multi_set``, ``set`` + ``get`` of 100 MB),
a second client pings every 10 ms; printed per server: the
longest ping wait, the server's peak RSS during the attack, its RSS a few
seconds after, and the CPU time the server spent.  Servers are measured one
after the other, each attack in turn (interleaved), on fresh processes.

Usage: python benchmarks/hostile.py [TREE ...] [--ssdb PATH] [--only NAME,...]
(a tree is an ssdbpy checkout; default: this one; --ssdb defaults to
../shared/reference/ssdb-1.9.8/ssdb-server when present)
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_redis import free_port, start_ssdbpy, wait_port  # noqa: E402
from tests.harness.attack import Pinger, rss_mb  # noqa: E402

MB = 1 << 20
DEFAULT_SSDB = REPO.parent / "shared" / "reference" / "ssdb-1.9.8" / "ssdb-server"


def ssdb(*args: bytes) -> bytes:
    return b"".join(b"%d\n%s\n" % (len(a), a) for a in args) + b"\n"


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def cpu_seconds(pid: int) -> float:
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_reference(binary: Path, workdir: Path, port: int) -> subprocess.Popen:
    (workdir / "var").mkdir(parents=True)
    conf = workdir / "ssdb.conf"
    conf.write_text(f"work_dir = ./var\npidfile = ./var/ssdb.pid\n\nserver:\n\tip: 127.0.0.1\n\tport: {port}\n\n"
                    "replication:\n\tbinlog: yes\n\t\tcapacity: 20000000\n\tsync_speed: -1\n\n"
                    "logger:\n\tlevel: error\n\toutput: log.txt\n\nleveldb:\n\tcache_size: 500\n"
                    "\twrite_buffer_size: 64\n\tcompression: yes\n")
    p = subprocess.Popen([str(binary), str(conf)], cwd=workdir, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def call(port: int, *args: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(ssdb(*args))
        got = b""
        while not got.endswith(b"\n\n"):
            chunk = s.recv(MB)
            if not chunk:
                break
            got += chunk
        return got


class Peak(threading.Thread):
    """Samples a process's RSS every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            self._done.wait(0.02)

    def finish(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def drain_closed(s: socket.socket, timeout: float) -> None:
    s.settimeout(timeout)
    try:
        while s.recv(MB):
            pass
    except OSError:
        pass


# --- the attacks (each returns when done; the pinger runs meanwhile) -------------------
def huge_count(port: int) -> None:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        socks = []
        try:
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                socks.append(s)
                s.sendall(b"*2000000000\r\n")
        except OSError:
            pass  # a server that stopped accepting: the pinger shows it
        for s in socks:
            s.close()


def _bad_framing(port: int, parts: tuple[bytes, ...]) -> None:
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        try:
            for part in parts:
                s.sendall(part)
        except OSError:
            pass
        drain_closed(s, 30)
        s.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i in range(1000):
            s.sendall(ssdb(b"set", b"k%d" % i, b"v"))
            s.recv(100)


def framing_ssdb(port: int) -> None:
    body = b"v" * (100 * MB)
    _bad_framing(port, (b"%d\n" % len(body), body, b"XX"))


def framing_resp(port: int) -> None:
    body = b"v" * (100 * MB)
    _bad_framing(port, (b"*3\r\n$3\r\nset\r\n$%d\r\n" % len(body), body, b"\r\n$-5\r\n"))


def _unread(port: int, req: bytes) -> None:
    call(port, b"set", b"big", b"x" * MB)
    s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    data = memoryview(req * 20000)
    deadline = time.monotonic() + 5
    try:
        while data and time.monotonic() < deadline:
            data = data[s.send(data[:65536]):]
    except OSError:
        pass
    time.sleep(max(0.0, deadline - time.monotonic()))
    s.close()


def unread_ssdb(port: int) -> None:
    _unread(port, ssdb(b"get", b"big"))


def unread_resp(port: int) -> None:
    _unread(port, resp(b"GET", b"big"))


def crlf(port: int) -> None:
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    chunk = b"\r\n" * (32 * 1024)
    try:
        s.sendall(b"*")
        for _ in range(16 * MB // len(chunk)):
            s.sendall(chunk)
    except OSError:
        pass
    drain_closed(s, 60)
    s.close()


def _pipeline(port: int, reqs: list[bytes]) -> None:
    """Send requests (SSDB framing) 100 at a time and read their replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        for i in range(0, len(reqs), 100):
            chunk = reqs[i : i + 100]
            s.sendall(b"".join(chunk))
            got = 0
            buf = b""
            while got < len(chunk):
                data = s.recv(MB)
                if not data:
                    raise ConnectionError("closed")
                buf += data
                got = buf.count(b"\n\n")


def _load_keys(port: int, n: int = 300_000) -> None:
    _pipeline(port, [ssdb(b"multi_set", *[x for i in range(lo, min(lo + 1000, n)) for x in (b"key%08d" % i, b"v")])
                     for lo in range(0, n, 1000)])


def _load_hash(port: int, n: int = 200_000) -> None:
    _pipeline(port, [ssdb(b"multi_hset", b"h", *[x for i in range(lo, min(lo + 1000, n))
                                                 for x in (b"f%08d" % i, b"v")]) for lo in range(0, n, 1000)])


def _read_reply(s: socket.socket) -> int:
    n = 0
    tail = b""
    while not tail.endswith(b"\n\n"):
        data = s.recv(4 * MB)
        if not data:
            break
        n += len(data)
        tail = (tail + data)[-2:]
    return n


def _one(port: int, req: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        s.sendall(req)
        _read_reply(s)


def keys_2m(port: int) -> None:
    _one(port, ssdb(b"keys", b"", b"", b"2000000"))


def hclear(port: int) -> None:
    _one(port, ssdb(b"hclear", b"h"))


def flushdb(port: int) -> None:
    _one(port, ssdb(b"flushdb"))


_MULTI = ssdb(b"multi_set", *[x for i in range(200_000) for x in (b"m%08d" % i, b"v")])
_BIG = ssdb(b"set", b"big", b"v" * (100 * MB))


def multi_set_200k(port: int) -> None:
    _one(port, _MULTI)


def set_get_100mb(port: int) -> None:
    _one(port, _BIG)
    _one(port, ssdb(b"get", b"big"))


keys_2m.setup = _load_keys  # type: ignore[attr-defined]
hclear.setup = _load_hash  # type: ignore[attr-defined]
flushdb.setup = lambda port: (_load_keys(port), _load_hash(port))  # type: ignore[attr-defined]

ATTACKS = {f.__name__: f for f in (huge_count, framing_ssdb, framing_resp, unread_ssdb, unread_resp, crlf,
                                   keys_2m, hclear, flushdb, multi_set_200k, set_get_100mb)}


def measure(name: str, pid: int, port: int) -> str:
    setup = getattr(ATTACKS[name], "setup", None)
    if setup is not None:
        setup(port)
    rss0 = rss_mb(pid)
    cpu0 = cpu_seconds(pid)
    peak = Peak(pid)
    note = ""
    with Pinger(port, timeout=120) as pinger:
        t0 = time.monotonic()
        try:
            ATTACKS[name](port)
        except OSError as exc:
            note = f"  (attack cut short: {exc!r})"
        took = time.monotonic() - t0
        time.sleep(0.2)
    top = peak.finish()
    time.sleep(3)
    try:
        ok = call(port, b"ping") == b"2\nok\n\n"
    except OSError:
        ok = False
    return (f"worst ping {pinger.worst * 1000:8.1f} ms  peak RSS {top:7.0f} MB  RSS {rss0:5.0f} -> "
            f"{rss_mb(pid):5.0f} MB  server CPU {cpu_seconds(pid) - cpu0:6.2f} s  attack {took:5.1f} s"
            f"{'' if ok else '  (no longer answers)'}{'  ping failures: ' + str(len(pinger.failures)) if pinger.failures else ''}"
            f"{note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("trees", nargs="*", type=Path)
    ap.add_argument("--ssdb", type=Path, default=DEFAULT_SSDB if DEFAULT_SSDB.exists() else None)
    ap.add_argument("--only", default="", help="comma-separated attack names: " + ",".join(ATTACKS))
    a = ap.parse_args(argv)
    names = [n for n in a.only.split(",") if n] or list(ATTACKS)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-hostile-"))
    targets: list[tuple[str, object]] = [(f"ssdbpy {t}", t.resolve()) for t in (a.trees or [REPO])]
    if a.ssdb is not None:
        targets.append(("SSDB 1.9.8", a.ssdb.resolve()))
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {subprocess.getoutput('nproc')} cores", flush=True)
    try:
        for name in names:
            for i, (label, what) in enumerate(targets):
                port = free_port()
                work = tmp / f"{name}-{i}"
                proc = (start_reference(what, work, port) if label.startswith("SSDB")
                        else start_ssdbpy(work, port, repo=what))
                try:
                    print(f"{name:13s} {label:28s} {measure(name, proc.pid, port)}", flush=True)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                        print(f"{'':13s} {label:28s} ignored SIGTERM for 30 s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
