"""The cost of versioned writes: the same tree as a plain node and as a node with a mirror block.

A node with a ``type: mirror`` block versions every write (docs/replication.md,
"Convergent mirrors"); here its peer is a free port nobody listens on, so only
versioning is measured, not the replication stream.  Runs redis-benchmark rows
against both nodes in alternation and prints the median req/s of each and the
median ratio versioned/plain.  The machines are noisy: compare ratios from the
same minutes only.

Usage: python benchmarks/versioned_writes.py [--tree DIR] [--tests set,hset,incr] [--pipelines 1,16]
       [--reps 3] [-n 100000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_redis import REPO, bench, free_port, stop, wait_port  # noqa: E402


def start(workdir: Path, port: int, tree: Path, mirror_port: int | None) -> subprocess.Popen:
    (workdir / "var").mkdir(parents=True)
    slaveof = ""
    if mirror_port is not None:
        slaveof = ("\tslaveof:\n\t\tid: peer\n\t\ttype: mirror\n\t\tip: 127.0.0.1\n\t\tport: %d\n" % mirror_port)
    (workdir / "ssdb.conf").write_text(
        "work_dir = ./var\n\nserver:\n\tip: 127.0.0.1\n\tport: %d\n\nreplication:\n\tbinlog: yes\n"
        "\t\tcapacity: 20000000\n%s\nlogger:\n\tlevel: error\n\toutput: log.txt\n\n"
        "leveldb:\n\tcache_size: 500\n\twrite_buffer_size: 64\n\tcompression: yes\n" % (port, slaveof))
    p = subprocess.Popen([sys.executable, "-m", "ssdbpy.apps.server", str(workdir / "ssdb.conf")],
                         env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, cwd=workdir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tree", type=Path, default=REPO)
    ap.add_argument("--tests", default="set,hset,incr")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("-n", type=int, default=100000)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-versioned-"))
    ports = {"plain": free_port(), "versioned": free_port()}
    procs = [start(tmp / "plain", ports["plain"], a.tree, None),
             start(tmp / "versioned", ports["versioned"], a.tree, free_port())]
    try:
        print(f"tree {a.tree}; redis-benchmark -c 50 -d 100 -r 100000 -n {a.n}; median of {a.reps}")
        for test in a.tests.split(","):
            for pl in (int(x) for x in a.pipelines.split(",")):
                runs: dict[str, list[float]] = {"plain": [], "versioned": []}
                ratios = []
                for _ in range(a.reps):
                    for kind in ("plain", "versioned"):
                        runs[kind].append(bench(ports[kind], test, pl, a.n))
                    ratios.append(runs["versioned"][-1] / runs["plain"][-1])
                print(f"{test:5} -P {pl:2}: plain {statistics.median(runs['plain']):9.0f} req/s, versioned "
                      f"{statistics.median(runs['versioned']):9.0f} req/s, ratio {statistics.median(ratios):.2f}",
                      flush=True)
    finally:
        stop(procs, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
