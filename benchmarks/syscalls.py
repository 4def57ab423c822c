"""System calls per request: ssdbpy against the reference SSDB 1.9.8, under the same load.

Starts both servers as benchmarks/compare_ssdb.py does, and for each test runs
``redis-benchmark -c 50 -n N -d 100 -r 100000 -P P -t TEST`` against each server
while ``strace -c -f`` is attached to it (every thread), then prints the calls
per request of each system call (strace's counts divided by N), and the
context switches of the server's threads per request (voluntary + involuntary,
from /proc/PID/task/*/status) over a second run of the same load without
strace.  strace slows the servers down: only the counts mean something here,
not the speed.

Usage: python benchmarks/syscalls.py [--tests set,get] [--pipeline 1] [--requests 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_redis import bench, free_port, start_ssdbpy, stop  # noqa: E402
from compare_ssdb import SSDB_BINARY, start_ssdb  # noqa: E402

_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def switches(pid: int) -> int:
    """Context switches (voluntary + involuntary) of every thread of ``pid`` so far."""
    n = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if "ctxt_switches" in line:
                n += int(line.split()[1])
    return n


def traced(pid: int, port: int, test: str, pipeline: int, n: int, out: Path) -> tuple[dict[str, int], int]:
    """(syscall -> calls, context switches) of server ``pid`` over two redis-benchmark runs:
    the calls counted by strace in one, the context switches in the other (without strace)."""
    c0 = switches(pid)
    bench(port, test, pipeline, n)
    c1 = switches(pid)
    st = subprocess.Popen(["strace", "-c", "-f", "-o", str(out), "-p", str(pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached to every thread
    bench(port, test, pipeline, n)
    st.send_signal(signal.SIGINT)
    st.wait(30)
    calls: dict[str, int] = {}
    for line in out.read_text().splitlines():
        m = _ROW.match(line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1))
    return calls, c1 - c0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--requests", type=int, default=20000)
    a = ap.parse_args(argv)
    if not shutil.which("strace") or not SSDB_BINARY.is_file():
        print(f"needs strace and {SSDB_BINARY}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-syscalls-"))
    ports = {"ssdbpy": free_port(), "ssdb": free_port()}
    procs: list[subprocess.Popen] = []
    try:
        procs.append(start_ssdbpy(tmp / "ssdbpy", ports["ssdbpy"]))
        procs.append(start_ssdb(tmp / "ssdb", ports["ssdb"]))
        pids = {"ssdbpy": procs[0].pid, "ssdb": procs[1].pid}
        print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, "
              f"redis-benchmark -c 50 -n {a.requests} -d 100 -r 100000 -P {a.pipeline}, strace -c -f attached")
        for test in a.tests.split(","):
            bench(ports["ssdbpy"], test, a.pipeline, 2000)  # warm up (first connections, imports)
            bench(ports["ssdb"], test, a.pipeline, 2000)
            res = {name: traced(pids[name], ports[name], test, a.pipeline, a.requests, tmp / f"{name}-{test}.txt")
                   for name in ("ssdbpy", "ssdb")}
            names = sorted(set(res["ssdbpy"][0]) | set(res["ssdb"][0]),
                           key=lambda s: -(res["ssdbpy"][0].get(s, 0) + res["ssdb"][0].get(s, 0)))
            print(f"\n{test} -P {a.pipeline}: calls per request\n{'syscall':16s} {'ssdbpy':>8s} {'SSDB':>8s}")
            for s in names:
                py, c = (res[k][0].get(s, 0) / a.requests for k in ("ssdbpy", "ssdb"))
                if py >= 0.005 or c >= 0.005:
                    print(f"{s:16s} {py:8.3f} {c:8.3f}")
            tot = [sum(res[k][0].values()) / a.requests for k in ("ssdbpy", "ssdb")]
            cs = [res[k][1] / a.requests for k in ("ssdbpy", "ssdb")]
            print(f"{'total':16s} {tot[0]:8.3f} {tot[1]:8.3f}\n{'ctx switches':16s} {cs[0]:8.3f} {cs[1]:8.3f}")
    finally:
        stop(procs, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
