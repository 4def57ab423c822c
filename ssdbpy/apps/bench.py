"""``ssdb-bench [ip] [port] [requests] [clients] [-a password]``: SSDB's benchmark against any server.

The password may also come from ``$SSDB_AUTH`` (as ssdb-cli's); with one,
every connection sends ``auth`` before the first phase (SSDB's has no
password option, so it cannot benchmark a server with ``server.auth``).

As SSDB's, it always prints its banner and usage first, and ``-v`` stops
there.  Unlike SSDB's, a failure (connect error, an answer other than ``ok``)
is reported on stderr with exit status 1.
"""

from __future__ import annotations

import os
import sys

from ssdbpy.cli.bench import BANNER, USAGE, Bench, BenchError


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        sys.stderr.write(f"invalid {what}: {text}\n")
        raise SystemExit(1) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    out = sys.stdout
    out.write(BANNER)
    out.write(USAGE.format(prog=os.path.basename(sys.argv[0]) or "ssdb-bench"))
    out.flush()
    if "-v" in argv or "-h" in argv or "--help" in argv:
        return 0
    password = os.environ.get("SSDB_AUTH")
    if "-a" in argv:
        i = argv.index("-a")
        if i + 1 >= len(argv):
            sys.stderr.write("-a needs a password\n")
            return 1
        password = argv[i + 1]
        del argv[i : i + 2]
    host = argv[0] if len(argv) > 0 else "127.0.0.1"
    port = _int(argv[1], "port") if len(argv) > 1 else 8888
    requests = _int(argv[2], "requests") if len(argv) > 2 else 10000
    clients = _int(argv[3], "clients") if len(argv) > 3 else 50
    try:
        Bench(host, port, requests, clients, out,
              password=None if password is None else os.fsencode(password)).run()
    except BenchError as exc:
        out.flush()
        sys.stderr.write(f"{exc}\n")
        return 1
    except OSError as exc:
        out.flush()
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
