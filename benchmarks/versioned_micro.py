"""In-process cost of versioned writes (no sockets): µs per set/hset/incr on a Database
without and with versions (the latter a node that has counters), second pass over the same
20,000 items (so version records exist), commit every 16 writes; median of 3.

Usage: PYTHONPATH=<tree> python benchmarks/versioned_micro.py   (a tree: a checkout to measure)
Note: a plain hset of the value already held writes nothing (as SSDB); a versioned node
stamps it (docs/replication.md), so the hset row compares unequal work.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time

from ssdbpy.db.database import Database


def run(versioned: bool, op: str, n: int = 40000) -> float:
    d = tempfile.mkdtemp(prefix="ssdbpy-vmicro-")
    db = Database.open(d)
    try:
        if versioned:
            db.enable_versions()
            db.kv.incr(b"some-counter", 1)  # a node that has counters
            db.commit()
        rnd = random.Random(1)
        keys = [b"key:%06d" % rnd.randrange(20000) for _ in range(n)]
        val = b"x" * 100
        took = 0.0
        for _pass in range(2):  # the second pass rewrites existing items
            t = time.perf_counter()
            for i, k in enumerate(keys):
                if op == "set":
                    db.kv.set(k, val)
                elif op == "hset":
                    db.hash.set(b"myhash", k, val)
                else:
                    db.kv.incr(b"counter:" + k[-4:], 1)
                if i % 16 == 15:
                    db.commit()
            db.commit()
            took = time.perf_counter() - t
        return took / n * 1e6
    finally:
        db.close()
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    for op in ("set", "hset", "incr"):
        p = statistics.median(run(False, op) for _ in range(3))
        v = statistics.median(run(True, op) for _ in range(3))
        print(f"{op:5}: plain {p:5.1f} us/op, versioned {v:5.1f} us/op, ratio {p / v:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
