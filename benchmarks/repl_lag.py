"""Replication lag and copy-phase speed between two ssdbpy processes on loopback.

Starts a master and a sync slave (real ``python -m ssdbpy.apps.server``
processes, each in its own temporary directory) and measures:

(a) lag: on an idle master, one ``set`` is sent; a second connection polls
    the slave with ``get`` in a tight loop until the value is visible.  Lag =
    time from sending the write to the slave returning it.  For reference, the
    round trip of a ``set`` on the master alone.
(b) copy: the master holds N small kv keys; a fresh slave is started; time
    from starting the slave process to its link reporting status SYNC with all
    N keys copied (``copy_count``), and keys/s.  The copy alone (first COPY
    status seen -> SYNC) is shown too.

Usage: python benchmarks/repl_lag.py [--samples 100] [--keys 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness.replication import slave_link  # noqa: E402
from tests.harness.server import ServerProcess, wait_for  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ms(v: float) -> str:
    return f"{v * 1000:.2f} ms"


def measure_lag(master: ServerProcess, slave: ServerProcess, samples: int) -> dict[str, list[float]]:
    """Lag samples (s) and, for reference, the master's own ``set`` round trip (s)."""
    m, s = master.client(), slave.client()
    lags, rtts = [], []
    for i in range(-5, samples):  # 5 warm-up writes
        key, value = f"lag:{i}", f"v{i}:{time.time_ns()}".encode()
        time.sleep(0.02)  # an idle master: its sessions wait for the next commit
        t0 = time.perf_counter()
        m.send("set", key, value)
        while s("get", key) != [b"ok", value]:  # tight poll on a separate connection
            pass
        t_vis = time.perf_counter()
        assert m.read()[0] == b"ok"
        time.sleep(0.02)
        t1 = time.perf_counter()
        assert m("set", key, value)[0] == b"ok"
        rtt = time.perf_counter() - t1
        if i >= 0:
            lags.append(t_vis - t0)
            rtts.append(rtt)
    m.close()
    s.close()
    return {"lag": lags, "rtt": rtts}


def load(master: ServerProcess, n: int) -> float:
    c = master.client(timeout=60)
    t0 = time.perf_counter()
    per_req, pipeline = 200, 50
    reqs = []
    for start in range(0, n, per_req):
        args = []
        for i in range(start, min(start + per_req, n)):
            args += [f"key:{i:09d}", f"value-{i:09d}"]
        reqs.append(("multi_set", *args))
    for start in range(0, len(reqs), pipeline):
        chunk = reqs[start : start + pipeline]
        c.send_many(chunk)
        for _ in chunk:
            assert c.read()[0] == b"ok"
    c.close()
    return time.perf_counter() - t0


def measure_copy(root: Path, master: ServerProcess, n: int) -> dict[str, float]:
    slave = ServerProcess(root, "copy-slave", slaveof=[{"id": "bench", **master.slaveof()}])
    t0 = time.perf_counter()
    try:
        slave.start(timeout=30)
        c = slave.client(timeout=60)
        seen_copy: list[float] = []

        def synced() -> bool:
            link = slave_link(c)
            if link["status"] == "COPY" and not seen_copy:
                seen_copy.append(time.perf_counter())
            return link["status"] == "SYNC" and int(link["copy_count"]) >= n

        wait_for(synced, timeout=600, interval=0.05, what="the copy to finish")
        t_end = time.perf_counter()
        assert c("get", f"key:{n - 1:09d}") == [b"ok", f"value-{n - 1:09d}".encode()]
        c.close()
    finally:
        slave.stop()
    total = t_end - t0
    copy = t_end - seen_copy[0] if seen_copy else float("nan")
    return {"total_s": total, "copy_s": copy, "keys_per_s": n / total, "copy_keys_per_s": n / copy}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100, help="lag samples (default 100)")
    ap.add_argument("--keys", type=int, default=200000, help="kv keys for the copy phase (default 200000)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="repl_lag.") as tmp:
        root = Path(tmp)
        master = ServerProcess(root, "master").start()
        slave = ServerProcess(root, "slave", slaveof=[{"id": "bench", **master.slaveof()}]).start()
        try:
            with slave.client() as c:
                wait_for(lambda: slave_link(c)["status"] == "SYNC", timeout=30, what="the slave link")
            r = measure_lag(master, slave, args.samples)
            slave.stop()
            lag, rtt = r["lag"], r["rtt"]
            print(f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}")
            print(f"(a) replication lag, {len(lag)} single writes on an idle master, visible on the slave:")
            print(f"    median {ms(statistics.median(lag))}  p90 {ms(pct(lag, 90))}  "
                  f"min {ms(min(lag))}  max {ms(max(lag))}")
            print(f"    (for reference, a set's round trip on the master: median {ms(statistics.median(rtt))}"
                  f"  p90 {ms(pct(rtt, 90))})")

            t_load = load(master, args.keys)
            print(f"(b) loaded {args.keys} kv keys into the master in {t_load:.2f} s")
            cr = measure_copy(root, master, args.keys)
            print(f"    slave start -> SYNC with all keys: {cr['total_s']:.2f} s = {cr['keys_per_s']:,.0f} keys/s")
            if cr["copy_s"] == cr["copy_s"]:  # not NaN: the COPY status was seen
                print(f"    copy phase alone (COPY seen -> SYNC): {cr['copy_s']:.2f} s"
                      f" = {cr['copy_keys_per_s']:,.0f} keys/s")
        finally:
            slave.stop()
            master.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
