"""The Database facade: the data engine, the meta engine, the binlog, and one
object per data type (``db.kv``, ``db.hash``, ``db.zset``, ``db.queue``,
``db.ttl``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from ssdbpy.storage.binlog import Binlog
from ssdbpy.storage.engine import Engine
from ssdbpy.storage.hlc import wall_clock
from ssdbpy.storage import qindex
from ssdbpy.storage.tombstones import COUNTERS_INDEXED_KEY
from ssdbpy.storage.versions import PREFIX, PREFIX_END, TOMBSTONE, ZERO, Versions, load_clock, load_node_id

#: length of a version record's head (stamp, origin, flags); a counter state follows it
COUNTER_HEAD = len(ZERO.encode())


class Database:
    def __init__(self, data: Engine, meta: Engine, binlog: Binlog) -> None:
        from ssdbpy.db.hash import Hash
        from ssdbpy.db.kv import KV
        from ssdbpy.db.queue import Queue
        from ssdbpy.db.ttl import TTL
        from ssdbpy.db.zset import ZSet

        self.engine = data
        self.meta = meta
        self.binlog = binlog
        self._engine_savepoint = data.savepoint
        self.kv = KV(self)
        self.hash = Hash(self)
        self.zset = ZSet(self)
        self.queue = Queue(self)
        self.ttl = TTL(self)

    @classmethod
    def open(
        cls,
        work_dir: str,
        *,
        binlog: bool = True,
        binlog_capacity: int = 20000000,
        cache_size_mb: int = 16,
        block_size_kb: int = 32,
        write_buffer_size_mb: int = 16,
        max_open_files: int = 500,
        compression: bool = True,
    ) -> "Database":
        """Open (creating if needed) ``work_dir/data`` and ``work_dir/meta``."""
        data = Engine(
            os.path.join(work_dir, "data"),
            cache_size_mb=cache_size_mb,
            block_size_kb=block_size_kb,
            write_buffer_size_mb=write_buffer_size_mb,
            max_open_files=max_open_files,
            compression=compression,
        )
        try:
            meta = Engine(os.path.join(work_dir, "meta"))
        except Exception:
            data.close()
            raise
        return cls(data, meta, Binlog(data, enabled=binlog, capacity=binlog_capacity, meta=meta))

    # --- staging ---------------------------------------------------------------
    def savepoint(self) -> tuple[tuple[int, int], int]:
        return self._engine_savepoint(), self.binlog.last_seq

    def rollback(self, sp: tuple[tuple[int, int], int]) -> None:
        self.engine.rollback(sp[0])
        # records committed mid-command (a scan commits staged writes) stay numbered;
        # after a failed write (engine abort) the sequence is already back, never forward
        binlog = self.binlog
        binlog.last_seq = min(binlog.last_seq, max(sp[1], binlog.committed_seq))

    def commit(self) -> None:
        self.engine.commit()

    @contextmanager
    def origin(self, btype: int) -> Iterator[None]:
        """Stamp binlog records written inside the block with ``btype`` (SYNC/MIRROR)."""
        prev = self.binlog.type
        self.binlog.type = btype
        try:
            yield
        finally:
            self.binlog.type = prev

    # --- versions (convergent mirrors) ---------------------------------------------
    @property
    def versioned(self) -> bool:
        return self.binlog.versions is not None

    def enable_versions(self, offset_ms: int = 0) -> Versions:
        """Version every kv/hash/zset write from now on (a node with mirror links).

        ``offset_ms`` skews the clock's wall time (tests only).
        """
        if self.binlog.versions is None:
            clock = load_clock(self.meta, wall_clock(offset_ms))
            versions = Versions(self.engine, clock, load_node_id(self.meta), self.meta)
            versions.binlog = self.binlog
            self.binlog.versions = versions
            versions.tombstones.build(self.meta, self.binlog.last_seq, self._tombstone_records)
            versions.tombstones.build(self.meta, self.binlog.last_seq, self._deleted_counter_records,
                                      COUNTERS_INDEXED_KEY)
        return self.binlog.versions

    def _tombstone_records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every plain tombstone record: items' (no counter state) and popped queue items'."""
        size = len(ZERO.encode())
        for k, v in self.engine.iterate(PREFIX, PREFIX_END):
            if k[1:2] in (b"k", b"h", b"s") and len(v) == size and v[-1] == TOMBSTONE:
                yield k, v
            elif k[:2] == qindex.PREFIX:
                d = qindex.decode_index_key(k)
                if d is not None and not d[1]:
                    yield k, v

    def _deleted_counter_records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every deleted counter's record (a counter marker's item whose data key is absent)."""
        for vk in sorted(self.binlog.versions.counter_keys or ()):
            rec = self.engine.get(vk)
            if (rec is not None and len(rec) > COUNTER_HEAD and rec[COUNTER_HEAD - 1] & TOMBSTONE
                    and self.engine.get(vk[len(PREFIX):]) is None):
                yield vk, rec

    @contextmanager
    def stamped(self, stamp: int, origin: int) -> Iterator[None]:
        """Writes inside the block carry version ``(stamp, origin)`` (a replicated change)."""
        versions = self.binlog.versions
        assert versions is not None
        prev = versions.override
        versions.override = (stamp, origin)
        try:
            yield
        finally:
            versions.override = prev

    def close(self) -> None:
        self.engine.close()
        self.meta.close()

