"""``ssdb-repair <leveldb_folder>``: LevelDB's RepairDB on a stopped node's database.

As SSDB's: banner, usage without an argument (exit 0), then repair,
``leveldb repaired.``, a full compaction and the LevelDB stats.  Beyond it:
a folder locked by a running server is refused, a node's work_dir repairs
both its ``data`` and ``meta`` databases, and failures exit with status 1.
"""

from __future__ import annotations

import os
import sys

from ssdbpy.errors import StorageError
from ssdbpy.storage import backup as store

BANNER = "ssdb-repair - SSDB repair tool\nCopyright (c) 2013-2014 ssdb.io\n\n"
USAGE = """Usage:
    {prog} leveldb_folder

    leveldb_folder  a stopped node's <work_dir>/data (or meta), or its work_dir
                    to repair both

"""


def _targets(folder: str) -> list[str]:
    if store.is_leveldb(folder) or not os.path.isdir(os.path.join(folder, "data")):
        return [folder]
    return [p for p in (os.path.join(folder, "data"), os.path.join(folder, "meta")) if os.path.isdir(p)]


def _looks_like_leveldb(path: str) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(n == "CURRENT" or n.startswith("MANIFEST-") or n.endswith((".ldb", ".sst", ".log")) for n in names)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    out = sys.stdout
    out.write(BANNER)
    if not argv or argv[0] in ("-h", "--help", "-v"):
        out.write(USAGE.format(prog=os.path.basename(sys.argv[0]) or "ssdb-repair"))
        return 0
    folder = argv[0]
    if not os.path.exists(folder):
        out.write(f"leveldb_folder[{folder}] not exists!\n")
        return 1
    targets = _targets(folder)
    for path in targets:
        if store.is_locked(path):
            sys.stderr.write(f"ERROR: leveldb_folder[{path}] is in use by a running server; stop it first!\n")
            return 1
        if not _looks_like_leveldb(path):
            sys.stderr.write(f"ERROR: leveldb_folder[{path}] holds no LevelDB files!\n")
            return 1
    for path in targets:
        out.write(f"repairing {path} (repair log: {os.path.join(path, 'LOG')})\n")
        out.flush()
        try:
            store.repair(path)
            out.write("leveldb repaired.\n")
            out.flush()
            out.write(store.compact_and_stats(path) + "\n")
        except StorageError as exc:
            out.flush()
            sys.stderr.write(f"repair leveldb: {path} error! ({exc})\n")
            return 1
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
