"""LevelDB behind a small typed wrapper; the only importer of plyvel.

Writes are staged in an in-memory overlay (``put``/``delete``) that point reads
(``get``) see at once, and reach LevelDB in ONE atomic write batch on
``commit()``.  The server commits once per batch of pipelined requests, before
any reply of the batch is sent, so a reply always describes data that is in
LevelDB.  ``savepoint()``/``rollback()`` undo the staged writes of a single
command that failed half-way.  Iteration commits the overlay first, so scans
always see every earlier write.

A failed write (disk full, read-only filesystem) fails its batch and every
batch detached after it: their writes may have been computed from the failed
ones (a counter, a hash size), so they are discarded too, with the staged
writes (``on_abort``).  No LevelDB write is attempted after a failure until the
database has been reopened: LevelDB 1.22 goes on appending to its log after a
failed append, but the log's framing is then off, and on the next open it
drops the records written after the failure (measured: 300 of 300 writes
acknowledged after freeing the disk were lost), and a failed compaction makes
every later write fail until a reopen anyway.  ``detach`` reopens once the
filesystem has room and takes a write again (checked at most every
``RETRY_INTERVAL``), with nothing in flight.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from itertools import repeat
from typing import Callable, Iterator

import plyvel

from ssdbpy.errors import StorageError, WriteFailed

log = logging.getLogger("ssdbpy.storage")

_MISSING = object()

#: s between checks whether a failed database can take writes again
RETRY_INTERVAL = 0.1
#: longest wait between two reopen attempts (the wait doubles after a reopen that did not help)
REOPEN_WAIT_MAX = 5.0
#: free bytes wanted beyond the memtable (which a reopen writes out) before reopening
ROOM_MARGIN = 1 << 20
_PROBE = b"x" * (64 << 10)


class _Closed:
    """Stands in for the plyvel DB when reopening it failed: every use tries the reopen
    again (from the main thread, at most every RETRY_INTERVAL) and fails until it works."""

    def __init__(self, engine: "Engine", exc: BaseException) -> None:
        self.engine = engine
        self.exc = exc

    def __getattr__(self, name: str):
        if threading.current_thread() is threading.main_thread():
            self.engine._recover()
            if self.engine._db is not self:
                return getattr(self.engine._db, name)
        raise StorageError(f"database unavailable (reopen failed: {self.exc})")


class Detached:
    """A batch of staged writes on its way to LevelDB (see Engine.detach)."""

    __slots__ = ("writes", "batch", "big", "done", "error")

    def __init__(self, writes: dict[bytes, bytes | None], batch, big: list | None = None) -> None:
        self.writes = writes
        self.batch = batch  # the LevelDB WriteBatch, built by the detaching thread
        #: (key, value) pairs of BIG_VALUE bytes or more, added to the batch by the writing thread
        self.big = big
        self.done = threading.Event()
        self.error: BaseException | None = None


#: values at least this big are copied into the write batch by the thread that writes it:
#: WriteBatch.put runs without the GIL, and copying 100 MB takes ~50 ms
BIG_VALUE = 1 << 20
#: batches of more writes are built by the thread that writes them: building 800,000 puts
#: takes ~100 ms, which would hold the event loop (the build is a Python loop, so the GIL
#: goes back to the event loop every few ms)
BUILD_ON_WRITER = 20_000
#: most keys remembered in Engine.big_keys
MAX_BIG_KEYS = 100_000


#: LevelDB's max_file_size, as SSDB 1.9.8 sets it
MAX_FILE_SIZE = 32 << 20


class Engine:
    def __init__(
        self,
        path: str,
        *,
        cache_size_mb: int = 16,
        block_size_kb: int = 32,
        write_buffer_size_mb: int = 16,
        max_open_files: int = 500,
        compression: bool = True,
    ) -> None:
        self.path = path
        self._options = dict(
            create_if_missing=True,
            lru_cache_size=max(cache_size_mb, 1) << 20,
            block_size=max(block_size_kb, 1) << 10,
            write_buffer_size=max(write_buffer_size_mb, 1) << 20,
            max_open_files=max_open_files,
            # as SSDB 1.9.8 (ssdb_impl.cpp): 32 MB tables, so a big database stays within
            # max_open_files (LevelDB's 2 MB default makes 10M keys ~600 tables, and reads
            # then reopen tables the table cache dropped)
            max_file_size=MAX_FILE_SIZE,
            bloom_filter_bits=10,
            compression="snappy" if compression else None,
        )
        try:
            self._db = plyvel.DB(path, **self._options)
        except (plyvel.Error, OSError) as exc:
            raise StorageError(f"could not open db: {path}: {exc}") from exc
        self._pending: dict[bytes, bytes | None] = {}
        self._undo: list[tuple[bytes, object]] = []
        self._generation = 0  # commits so far
        #: detached batches not yet confirmed written, oldest first (at most one is written at a time)
        self._inflight: list[Detached] = []
        #: called after every commit that wrote something
        self.on_commit: list[Callable[[], None]] = []
        #: called when staged writes become a batch that can no longer be rolled back
        self.on_detach: list[Callable[[], None]] = []
        #: called with (failed batch, error) when a failed write discarded every later write
        self.on_abort: list[Callable[[Detached, BaseException], None]] = []
        #: failures so far (each discards the writes staged or detached after the failed batch)
        self.aborts = 0
        #: the write error of the current episode; while set, no write reaches LevelDB
        self.failure: BaseException | None = None
        self._episode: list = []  # [start (monotonic), failed batches] while failing
        self._retry_at = 0.0
        self._reopen_wait = RETRY_INTERVAL
        self.closed = False
        #: point reads answered from writes not yet in LevelDB (staged or in flight): a
        #: reply that depends on one must wait for their commit, any other may leave at once
        self.overlay_reads = 0
        #: writes staged so far (put and delete calls): a reply given after staging one waits for it
        self.staged_total = 0
        #: an atomic section is open: the layer that is not ``_pending`` now, as (writes, undo)
        self._aside: tuple[dict[bytes, bytes | None], list] | None = None
        self.atomic_active = False  # the section's owner is running (its layer is _pending)
        #: keys last seen with a value of BIG_VALUE bytes or more (written or read; a hint, may be stale)
        self.big_keys: set[bytes] = set()
        #: ``read_off_loop(fn, key)``: run a LevelDB read of a big value where it does not hold
        #: the event loop (set by the server: a worker thread when called from a greenlet)
        self.read_off_loop: Callable[[Callable[[bytes], bytes | None], bytes], bytes | None] | None = None

    # --- point access -------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        if self._pending:
            v = self._pending.get(key, _MISSING)
            if v is not _MISSING:
                self.overlay_reads += 1
                return v  # type: ignore[return-value]
        if self._inflight:
            for d in reversed(self._inflight):
                v = d.writes.get(key, _MISSING)
                if v is not _MISSING:
                    self.overlay_reads += 1
                    return v  # type: ignore[return-value]
        return self._db.get(key)

    def get_value(self, key: bytes) -> bytes | None:
        """``get`` for keys whose values may be big (kv values): a key last seen with a value
        of BIG_VALUE bytes or more is read where the read does not hold the event loop."""
        if key in self.big_keys and self.read_off_loop is not None and not self._staged(key):
            return self.read_off_loop(self._db.get, key)
        v = self.get(key)
        if v is not None and len(v) >= BIG_VALUE:
            self.note_big(key)
        return v

    def _staged(self, key: bytes) -> bool:
        """``key`` has a write staged or in flight (``get`` answers it from the overlay)."""
        return key in self._pending or any(key in d.writes for d in self._inflight)

    def note_big(self, key: bytes) -> None:
        """Remember that ``key`` holds a value of BIG_VALUE bytes or more (see get_value)."""
        big = self.big_keys
        if len(big) >= MAX_BIG_KEYS:
            big.clear()  # a hint only: forgetting costs one read on the event loop
        big.add(key)

    def put(self, key: bytes, value: bytes) -> None:
        p = self._pending
        self._undo.append((key, p.get(key, _MISSING)))
        p[key] = value
        self.staged_total += 1

    def put_many(self, keys_: list[bytes], values: list[bytes]) -> None:
        """``put(keys_[i], values[i])`` for every i in order (a later one wins over an earlier one)."""
        p = self._pending
        self._undo.extend(zip(keys_, map(p.get, keys_, repeat(_MISSING))))  # C loops: copies are big
        p.update(zip(keys_, values))
        self.staged_total += len(keys_)

    def delete(self, key: bytes) -> None:
        p = self._pending
        self._undo.append((key, p.get(key, _MISSING)))
        p[key] = None
        self.staged_total += 1

    # --- staging ------------------------------------------------------------
    def savepoint(self) -> tuple[int, int]:
        return self._generation, len(self._undo)

    def rollback(self, savepoint: tuple[int, int]) -> None:
        """Forget every staged write made after ``savepoint``.

        Writes committed since then (an iteration commits) cannot be undone;
        everything staged after that commit is.
        """
        gen, mark = savepoint
        if gen != self._generation:
            mark = 0
        undo = self._undo
        p = self._pending
        while len(undo) > mark:
            key, prev = undo.pop()
            if prev is _MISSING:
                p.pop(key, None)
            else:
                p[key] = prev  # type: ignore[assignment]

    @property
    def staged_writes(self) -> int:
        """Writes staged and not yet detached."""
        return len(self._pending)

    @property
    def dirty(self) -> bool:
        """True while some write is staged (an atomic section's included) or not yet in LevelDB."""
        return bool(self._pending) or bool(self._inflight) or self._aside is not None

    # --- atomic sections: a long write that yields, all or nothing ---------------------
    #
    # A write over many keys (multi_set of 100,000 pairs) runs in slices that let the
    # other connections run, yet reaches LevelDB in one batch and is seen by nobody
    # before: its writes are staged in a layer of their own.  While its owner runs
    # (``atomic_active``), that layer is ``_pending``; while the owner waits between
    # two slices, the shared overlay is ``_pending`` again and the layer is put aside,
    # so other readers see the data as it was, and commits (group commit, iterate)
    # take only the shared overlay.  At the end the layer becomes part of the shared
    # overlay at once.  The caller holds other writers back meanwhile (the write
    # gate), so the binlog numbers of the section follow each other.

    def begin_atomic(self) -> None:
        """Open an atomic section (nothing may be staged or in flight): its owner is running."""
        if self._aside is not None or self._pending or self._inflight:
            raise RuntimeError("begin_atomic with writes staged, in flight, or another section open")
        self._aside = (self._pending, self._undo)  # the shared overlay, empty
        self._pending, self._undo = {}, []
        self.atomic_active = True

    def pause_atomic(self) -> None:
        """The owner yields: the shared overlay is back, the section's writes hidden."""
        assert self.atomic_active and self._aside is not None
        self._aside, (self._pending, self._undo) = (self._pending, self._undo), self._aside
        self.atomic_active = False

    def resume_atomic(self) -> None:
        """The owner runs again: its layer is ``_pending``, the shared overlay put aside."""
        assert not self.atomic_active and self._aside is not None
        self._aside, (self._pending, self._undo) = (self._pending, self._undo), self._aside
        self.atomic_active = True

    def end_atomic(self, keep: bool) -> None:
        """Close the section (its owner running): its writes join the shared overlay, or are dropped."""
        assert self.atomic_active and self._aside is not None
        shared, shared_undo = self._aside
        self._aside = None
        self.atomic_active = False
        if not keep:
            self._pending, self._undo = shared, shared_undo
        elif shared:  # (not expected: writers are held back) the section's writes come last
            shared.update(self._pending)
            shared_undo.extend(self._undo)
            self._pending, self._undo = shared, shared_undo

    def commit(self) -> None:
        """Write every staged change in one atomic LevelDB batch (after any in-flight one)."""
        if self.atomic_active:
            raise RuntimeError("commit inside an atomic section")
        self._drain()
        if not self._pending:
            self._undo.clear()
            return
        d = self.detach()
        assert d is not None
        self.write_detached(d)
        self.finish(d)

    # --- commits off the calling thread ------------------------------------------
    def detach(self) -> Detached | None:
        """Take the staged writes out of the overlay as one batch, or None if there are none.

        Point reads keep seeing the batch until ``finish``.  The caller writes
        it with ``write_detached`` (from any thread: LevelDB runs without the
        GIL) and then calls ``finish`` on this thread.  Batches must be written
        in detach order, one at a time.
        """
        if not self._pending:
            return None
        if self.atomic_active:
            raise RuntimeError("detach inside an atomic section")
        big = None
        if self.failure is not None:
            self._recover()
        if self.failure is not None:
            wb = None  # refused by write_detached
        elif len(self._pending) > BUILD_ON_WRITER:
            wb = None  # built by write_detached, off the event loop (GIL released every few ms)
        else:
            # built here, on the thread that owns the overlay: the writing thread then
            # only runs LevelDB (no GIL), instead of contending for the GIL per key
            wb = self._db.write_batch()
            put = wb.put
            delete = wb.delete
            for k, v in self._pending.items():
                if v is None:
                    delete(k)
                elif len(v) < BIG_VALUE:
                    put(k, v)
                else:  # copied by the writing thread (no GIL), not here on the event loop
                    big = big or []
                    big.append((k, v))
        d = Detached(self._pending, wb, big)
        self._pending = {}
        self._undo.clear()
        self._generation += 1
        self._inflight.append(d)
        for cb in self.on_detach:
            cb()
        return d

    def write_detached(self, d: Detached) -> None:
        """Write ``d`` (any thread); after a failed write, refuse every batch until the reopen."""
        try:
            failure = self.failure
            if failure is not None:
                d.error = failure  # detached after (or during) a failure: never written
            else:
                if d.batch is None:  # a batch of many writes: built here, not by the detaching thread
                    d.batch = self._build(d.writes)
                if d.big:
                    put = d.batch.put
                    for k, v in d.big:
                        put(k, v)  # keys are unique in a batch: the order of puts does not matter
                d.batch.write()  # atomic; LevelDB runs without the GIL
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            d.error = exc
            self.failure = exc  # the writes after this one must not reach LevelDB
        finally:
            d.done.set()

    def _build(self, writes: dict[bytes, bytes | None]):
        wb = self._db.write_batch()
        put = wb.put
        delete = wb.delete
        for k, v in writes.items():
            if v is None:
                delete(k)
            else:
                put(k, v)
        return wb

    def finish(self, d: Detached) -> None:
        """Retire a written batch; raises WriteFailed if its write failed.

        The first failed batch to be finished discards every write after it:
        the staged ones and the later in-flight batches (refused by
        ``write_detached``), and tells ``on_abort``.
        """
        if d in self._inflight:
            self._inflight.remove(d)
            if d.error is None:
                self._reopen_wait = RETRY_INTERVAL
                for cb in self.on_commit:
                    cb()
            else:
                self._abort(d)
        if d.error is not None:
            raise WriteFailed() from d.error

    def _abort(self, d: Detached) -> None:
        exc = d.error
        assert exc is not None
        if not self._episode:
            self._episode = [time.monotonic(), 0]
            self._retry_at = time.monotonic() + RETRY_INTERVAL
            log.error("LevelDB write failed (%s): %s; writes get error replies until it is writable again",
                      self.path, _describe(exc))
        self._episode[1] += 1
        self.failure = self.failure or exc
        for later in self._inflight:
            later.writes = {}  # refused by write_detached; point reads stop seeing them now
        self._pending = {}
        self._undo.clear()
        self._generation += 1  # a savepoint taken before this undoes nothing
        self.aborts += 1
        for cb in self.on_abort:
            cb(d, exc)

    def _recover(self) -> None:
        """After a failure: reopen the database once the filesystem can take writes again.

        Runs on the hub (from ``detach``) with nothing in flight, so no batch
        built on the old handle is written to the new one.  Iterators and
        snapshots open on the old handle fail from then on.
        """
        now = time.monotonic()
        if self._inflight or now < self._retry_at:
            return
        self._retry_at = now + RETRY_INTERVAL
        if not self._has_room():
            return
        self._retry_at = now + self._reopen_wait
        self._reopen_wait = min(self._reopen_wait * 2, REOPEN_WAIT_MAX)
        try:
            if not isinstance(self._db, _Closed):
                self._db.close()
            self._db = plyvel.DB(self.path, **self._options)
        except Exception as exc:  # noqa: BLE001 - reads fail until a later attempt opens it
            if not isinstance(self._db, _Closed):
                log.error("LevelDB reopen failed (%s): %s", self.path, _describe(exc))
            self._db = _Closed(self, exc)  # type: ignore[assignment]
            return
        start, failed = self._episode or [now, 0]
        log.warning("LevelDB writable again (%s) after %.1f s and %d failed write batches: reopened",
                    self.path, now - start, failed)
        self._episode = []
        self.failure = None

    def _has_room(self) -> bool:
        """Room for the memtable a reopen writes out, and a probe write succeeds."""
        try:
            st = os.statvfs(self.path)
            need = ROOM_MARGIN
            if not isinstance(self._db, _Closed):
                need += int(self._db.get_property(b"leveldb.approximate-memory-usage") or 0)
            if st.f_bavail * st.f_frsize < need:
                return False
            probe = os.path.join(self.path, "ssdbpy-probe.tmp")
            try:
                with open(probe, "wb") as f:
                    f.write(_PROBE)
                    f.flush()
                    os.fsync(f.fileno())
            finally:
                if os.path.exists(probe):
                    os.unlink(probe)
        except (OSError, ValueError):
            return False
        return True

    def _drain(self) -> None:
        """Wait (blocking this thread) until every in-flight batch is written."""
        while self._inflight:
            d = self._inflight[0]
            d.done.wait()
            self.finish(d)

    # --- iteration ----------------------------------------------------------
    def iterate(
        self,
        start: bytes | None = None,
        stop: bytes | None = None,
        *,
        include_start: bool = True,
        include_stop: bool = False,
        reverse: bool = False,
        keys_only: bool = False,
        snapshot: object = None,
    ) -> Iterator:
        """Keys in the range between ``start`` and ``stop`` (None = unbounded).

        Bounds are as in plyvel: ``[start, stop)`` by default, adjustable with
        ``include_start``/``include_stop``; ``reverse`` walks from the high end.
        Yields ``(key, value)`` pairs, or keys with ``keys_only``.
        """
        if self._pending or self._inflight:
            self.commit()
        src = snapshot if snapshot is not None else self._db
        if reverse:
            # plyvel 1.5's reverse iterator misses a lone key equal to an inclusive start
            return _reverse(src, start, stop, include_start, include_stop, keys_only)
        return src.iterator(  # type: ignore[attr-defined]
            start=start,
            stop=stop,
            include_start=include_start,
            include_stop=include_stop,
            include_value=not keys_only,
        )

    def raw_iterator(self, snapshot: object = None):
        """A movable plyvel raw iterator (seek/next/prev) over committed data."""
        if self._pending or self._inflight:
            self.commit()
        src = snapshot if snapshot is not None else self._db
        return src.raw_iterator()  # type: ignore[attr-defined]

    def snapshot(self):
        if self._pending or self._inflight:
            self.commit()
        return self._db.snapshot()

    def first_key(self, start: bytes, stop: bytes) -> bytes | None:
        for k in self.iterate(start, stop, keys_only=True):
            return k
        return None

    def last_key(self, start: bytes, stop: bytes) -> bytes | None:
        for k in self.iterate(start, stop, keys_only=True, reverse=True):
            return k
        return None

    # --- maintenance --------------------------------------------------------
    def approximate_size(self, start: bytes, stop: bytes) -> int:
        return int(self._db.approximate_size(start, stop))

    def property(self, name: bytes) -> bytes:
        v = self._db.get_property(name)
        return v if v is not None else b""

    def compact(self) -> None:
        """Full manual compaction (blocking; call it from a thread)."""
        self._db.compact_range()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.commit()
        finally:
            if not isinstance(self._db, _Closed):
                self._db.close()
            self.closed = True


def _describe(exc: BaseException) -> str:
    msg = exc.args[0] if exc.args else exc
    return msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)


def _reverse(src, start, stop, include_start: bool, include_stop: bool, keys_only: bool) -> Iterator:
    """Descending walk over ``start..stop`` with a raw iterator."""
    it = src.raw_iterator()
    if stop is None:
        it.seek_to_last()
    else:
        it.seek(stop)  # first key >= stop
        if not it.valid():
            it.seek_to_last()
        else:
            k = it.key()
            if k > stop or (k == stop and not include_stop):
                it.prev()
    while it.valid():
        k = it.key()
        if start is not None and (k < start or (k == start and not include_start)):
            return
        yield k if keys_only else (k, it.value())
        it.prev()


def destroy(path: str) -> None:
    if os.path.isdir(path):
        plyvel.destroy_db(path)


def repair(path: str) -> None:
    plyvel.repair_db(path, max_file_size=MAX_FILE_SIZE)  # as SSDB's ssdb-repair
