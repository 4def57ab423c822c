"""The master's side of a full copy alone: how fast an ssdbpy master streams a copy.

Loads ``--keys`` kv keys (100-byte values) into a fresh ssdbpy, then sends
``sync140 0 "" sync`` on a raw socket that only reads, and times the stream up
to ``copy_end``.  Compared with the copy phase of ``repl_lag.py`` (a real
slave), it tells which side of the link limits a copy.

Usage: python benchmarks/copy_master.py [--keys 200000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_redis import free_port, start_ssdbpy, stop  # noqa: E402
from ssdbpy.client import Client  # noqa: E402
from ssdbpy.protocol.ssdb import encode_ssdb  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=200_000)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-copy-"))
    port = free_port()
    proc = start_ssdbpy(tmp / "master", port)
    try:
        with Client("127.0.0.1", port, timeout=60) as c:
            value = b"v" * 100
            for start in range(0, a.keys, 200):
                pairs = [x for i in range(start, min(start + 200, a.keys)) for x in (b"key:%010d" % i, value)]
                if c.request(b"multi_set", *pairs)[0] != b"ok":
                    raise RuntimeError("multi_set failed")
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(encode_ssdb([b"sync140", b"0", b"", b"sync"]))
        t0 = time.perf_counter()
        total = 0
        tail = b""
        while b"copy_end" not in tail:
            data = s.recv(1 << 20)
            if not data:
                raise ConnectionError("master closed the link before copy_end")
            total += len(data)
            tail = (tail + data)[-64:]
        took = time.perf_counter() - t0
        s.close()
        print(f"master copy stream alone: {a.keys} keys in {took:.2f} s = {a.keys / took:,.0f} keys/s "
              f"({total / took / 1e6:.0f} MB/s)")
    finally:
        stop([proc], tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
