"""LevelDB side of the backup tools (ssdb-dump, its restore, ssdb-repair).

Everything here works on directories of a *stopped* node or on a backup
folder; none of it may touch a database a live server has open, which
:func:`is_locked` tells (LevelDB holds an fcntl lock on ``<dir>/LOCK`` while
a database is open).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import plyvel

from ssdbpy.errors import StorageError
from ssdbpy.storage import keys
from ssdbpy.storage.engine import MAX_FILE_SIZE, Engine
from ssdbpy.storage.engine import repair as _repair

#: meta hash holding a slave's replication position (replication.md §2.1)
SLAVE_STATUS_PREFIX = b"slave.status."


def is_locked(path: str) -> bool:
    """True if a running process holds the LevelDB lock of the database at ``path``.

    A directory without a ``LOCK`` file (not a LevelDB, or never opened) is
    not locked.
    """
    lock = os.path.join(path, "LOCK")
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: be safe
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
            raise
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def is_leveldb(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "CURRENT"))


#: LevelDB options of SSDB's tools for the databases they write (ssdb-dump's destination,
#: ssdb-repair's compaction): 32 MB write buffer and tables, snappy
TOOL_OPTIONS = dict(write_buffer_size=32 << 20, max_file_size=MAX_FILE_SIZE, compression="snappy")


class BackupWriter:
    """A new LevelDB filled in key order by a dump stream (as SSDB's ssdb-dump:
    snappy, 32 MB write buffer, 32 MB tables).  Refuses to open an existing database."""

    BATCH = 10000

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._db = plyvel.DB(path, create_if_missing=True, error_if_exists=True, **TOOL_OPTIONS)
        except (plyvel.Error, OSError) as exc:
            raise StorageError(f"could not create db: {path}: {exc}") from exc
        self._pending: list[tuple[bytes, bytes]] = []
        self.count = 0

    def put(self, key: bytes, value: bytes) -> None:
        self._pending.append((key, value))
        if len(self._pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self._db.write_batch() as wb:
            for k, v in self._pending:
                wb.put(k, v)
        self.count += len(self._pending)
        self._pending.clear()

    def stats(self) -> str:
        v = self._db.get_property(b"leveldb.stats")
        return v.decode("latin-1") if v else ""

    def compact(self) -> None:
        self.flush()
        self._db.compact_range()

    def close(self) -> None:
        if not self._db.closed:
            self.flush()
            self._db.close()


def copy_db(src: str, dst: str) -> None:
    """Copy the LevelDB at ``src`` to the new directory ``dst`` (which must not exist).

    The lock file and LevelDB's info logs are not copied.
    """
    if not is_leveldb(src):
        raise StorageError(f"not a LevelDB directory: {src}")
    skip = shutil.ignore_patterns("LOCK", "LOG", "LOG.old")
    shutil.copytree(src, dst, ignore=skip)


def write_slave_position(meta_path: str, slave_id: str, last_seq: int, last_key: bytes = b"") -> None:
    """Store a slave position in the meta db at ``meta_path`` (created if missing).

    Same layout as the slave link persists it: hash ``slave.status.<id>``
    with fields ``last_seq`` (decimal) and ``last_key``.
    """
    name = SLAVE_STATUS_PREFIX + slave_id.encode()
    meta = Engine(meta_path)
    try:
        meta.put(keys.encode_hash(name, b"last_key"), last_key)
        meta.put(keys.encode_hash(name, b"last_seq"), str(int(last_seq)).encode())
        meta.put(keys.encode_hsize(name), keys.pack_i64le(2))
        meta.commit()
    finally:
        meta.close()


def read_slave_position(meta_path: str, slave_id: str) -> tuple[int, bytes] | None:
    name = SLAVE_STATUS_PREFIX + slave_id.encode()
    meta = Engine(meta_path)
    try:
        seq = meta.get(keys.encode_hash(name, b"last_seq"))
        key = meta.get(keys.encode_hash(name, b"last_key"))
    finally:
        meta.close()
    if seq is None:
        return None
    return int(seq), key or b""


def repair(path: str) -> None:
    """LevelDB's RepairDB on ``path`` (the caller checks :func:`is_locked` first)."""
    try:
        _repair(path)
    except (plyvel.Error, OSError) as exc:
        raise StorageError(f"repair failed: {path}: {exc}") from exc


def compact_and_stats(path: str) -> str:
    """Open the database at ``path``, compact it fully, return its ``leveldb.stats``
    (with the options of SSDB's ssdb-repair: 32 MB write buffer and tables, snappy)."""
    try:
        db = plyvel.DB(path, **TOOL_OPTIONS)
    except (plyvel.Error, OSError) as exc:
        raise StorageError(f"could not open db: {path}: {exc}") from exc
    try:
        db.compact_range()
        v = db.get_property(b"leveldb.stats")
        return v.decode("latin-1") if v else ""
    finally:
        db.close()
