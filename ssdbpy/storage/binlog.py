"""The binlog: one record per touched item, in the same batch as the data.

Record key ``0x01 + BE64(seq)``, value ``LE64(seq) + u8(type) + u8(cmd) + key``
(spec/storage.md §8).  Sequence numbers are contiguous; after a restart they
continue from the highest stored record.  Only ``SYNC`` and ``MIRROR`` records
are stored; the other types exist on the replication wire only.
"""

from __future__ import annotations

import operator
import struct
from collections import deque
from itertools import repeat
from typing import Callable, NamedTuple

from ssdbpy.storage import keys, qindex
from ssdbpy.storage.engine import Engine

# record types
NOOP, SYNC, MIRROR, COPY, CTRL = 0, 1, 2, 3, 4
# commands
NONE, KSET, KDEL, HSET, HDEL, ZSET, ZDEL, BEGIN, END = 0, 1, 2, 3, 4, 5, 6, 7, 8
QPUSH_BACK, QPUSH_FRONT, QPOP_BACK, QPOP_FRONT, QSET = 10, 11, 12, 13, 14

_HDR = struct.Struct("<QBB")
_KEY = struct.Struct(">BQ")  # the record's key: 0x01 + BE64(seq), as keys.encode_binlog_key
_END = b"\x02"  # first key after every binlog key


def encode_header(seq: int, btype: int, cmd: int, key: bytes) -> bytes:
    return _HDR.pack(seq, btype, cmd) + key


class Record(NamedTuple):
    """One binlog record (a tuple: the replication stream builds one per packet)."""

    seq: int
    type: int
    cmd: int
    key: bytes

    @classmethod
    def decode(cls, raw: bytes) -> "Record":
        if len(raw) < 10:
            raise ValueError("binlog record too short")
        seq, t, c = _HDR.unpack_from(raw)
        return cls(seq, t, c, raw[10:])

    def encode(self) -> bytes:
        return _HDR.pack(self.seq, self.type, self.cmd) + self.key


class Binlog:
    """Sequence counter and record writer over the data engine."""

    TRIM_SLACK = 10000
    TRIM_BATCH = 1000

    #: meta db key remembering the sequence across clear_binlog/flushdb and restarts
    SEQ_MARKER = b"ssdbpy.binlog.last_seq"

    def __init__(self, engine: Engine, *, enabled: bool, capacity: int, meta: Engine | None = None) -> None:
        self.engine = engine
        self.meta = meta
        self.enabled = enabled
        self.capacity = max(int(capacity), 1)
        #: type stamped on new records; replication sets MIRROR while applying
        self.type = SYNC
        self.min_seq = 0
        self.last_seq = 0
        #: an atomic section is open: the records numbered after this one are not visible yet
        self.hidden_after: int | None = None
        self._recover()
        #: highest sequence detached into a batch (a rollback never goes below it)
        self.committed_seq = self.last_seq
        #: highest sequence known to be in LevelDB (a failed batch goes back to it)
        self.durable_seq = self.last_seq
        self._batch_seqs: deque[int] = deque()  # last sequence of each batch in flight, oldest first
        #: called after a commit that added records (replication wakes up)
        self.listeners: list[Callable[[], None]] = []
        #: item versions (storage.versions.Versions) when this node versions its writes, else None
        self.versions = None
        #: lowest sequence a reader (a replication session) still needs, or None
        self.hold: Callable[[], int | None] = lambda: None
        self._written = False  # records staged since the last detach
        self._unannounced = False  # records detached but not yet announced to listeners
        engine.on_detach.append(self._detached)
        engine.on_commit.append(self._committed)
        engine.on_abort.append(self._aborted)

    def _recover(self) -> None:
        first = self.engine.first_key(keys.BINLOG, _END)
        last = self.engine.last_key(keys.BINLOG, _END)
        if first is not None and last is not None:
            self.min_seq = keys.decode_binlog_key(first)
            self.last_seq = keys.decode_binlog_key(last)
        if self.meta is not None:
            # unlike SSDB, numbering never restarts after clear_binlog/flushdb + restart,
            # so a slave's position can never silently point into a new history
            marker = self.meta.get(self.SEQ_MARKER)
            if marker and int(marker) > self.last_seq:
                self.last_seq = int(marker)
                self.min_seq = self.last_seq if first is None else self.min_seq

    @property
    def max_seq(self) -> int:
        """The last record the others may read: during an atomic section (Engine), the
        last one before it, since the section's records stay hidden until it ends."""
        hidden = self.hidden_after
        return self.last_seq if hidden is None else hidden

    def add(self, cmd: int, key: bytes) -> None:
        """Stage a record for ``key`` (the encoded data key, or a raw queue name).

        When the node versions its writes, the item's version is staged too.
        """
        versions = self.versions
        if versions is not None:
            versions.stamp(cmd, key)
        if not self.enabled:
            return
        seq = self.last_seq + 1
        self.last_seq = seq
        self.engine.put(_KEY.pack(1, seq), _HDR.pack(seq, self.type, cmd) + key)
        self._written = True

    def add_many(self, cmd: int, keys_: list[bytes]) -> None:
        """``add(cmd, key)`` for every key in order, on a node that does not version its writes."""
        if self.versions is not None:
            raise RuntimeError("add_many on a versioned node: every write needs its version")
        if not self.enabled or not keys_:
            return
        first, n = self.last_seq + 1, len(keys_)
        seqs = range(first, first + n)
        # (C loops: a slave stages a full copy's records this way)
        values = map(operator.add, map(_HDR.pack, seqs, repeat(self.type, n), repeat(cmd, n)), keys_)
        self.engine.put_many(list(map(_KEY.pack, repeat(1, n), seqs)), list(values))
        self.last_seq = first + n - 1
        self._written = True

    def _detached(self) -> None:
        # every record staged so far is now on its way to LevelDB: never renumber it
        self.committed_seq = self.last_seq
        self._batch_seqs.append(self.last_seq)
        if self._written:
            self._written = False
            self._unannounced = True

    def _committed(self) -> None:
        if self._batch_seqs:
            self.durable_seq = self._batch_seqs.popleft()
        if self._unannounced:
            self._unannounced = False
            for cb in self.listeners:
                cb()

    def _aborted(self, _batch, _exc) -> None:
        # the failed batch and everything after it is gone: number the next record
        # right after the last one in LevelDB (no gap, and no number used twice)
        self._batch_seqs.clear()
        self.last_seq = self.committed_seq = self.durable_seq
        self._written = False

    # --- reading --------------------------------------------------------------
    def get(self, seq: int) -> Record | None:
        raw = self.engine.get(keys.encode_binlog_key(seq))
        return Record.decode(raw) if raw is not None else None

    def find_next(self, seq: int) -> Record | None:
        """The first record with sequence >= ``seq``."""
        for _k, v in self.engine.iterate(keys.encode_binlog_key(seq), _END):
            return Record.decode(v)
        return None

    def find_last(self) -> Record | None:
        for _k, v in self.engine.iterate(keys.BINLOG, _END, reverse=True):
            return Record.decode(v)
        return None

    # --- maintenance ------------------------------------------------------------
    def needs_trim(self) -> bool:
        return self.enabled and self.last_seq - self.min_seq >= self.capacity + self.TRIM_SLACK

    #: however far behind a reader is, no more than this many capacities are kept
    HOLD_LIMIT = 4

    def trim_upto(self) -> int:
        """Highest sequence that may be deleted now."""
        upto = self.last_seq - self.capacity
        needed = self.hold()
        if needed is not None:
            upto = max(min(upto, needed - 1), self.last_seq - self.HOLD_LIMIT * self.capacity)
        return upto

    def trim_step(self) -> bool:
        """Delete up to TRIM_BATCH of the oldest records beyond capacity; True if more remain.

        Records a connected replication session still needs (``hold``) are
        kept, up to HOLD_LIMIT capacities.
        """
        upto = self.trim_upto()  # delete [min_seq, upto]
        start = max(self.min_seq, 0)
        stop = min(upto, start + self.TRIM_BATCH - 1)
        if stop < start:
            return False
        side = self.versions is not None
        for seq in range(start, stop + 1):
            self.engine.delete(keys.encode_binlog_key(seq))
            if side:
                self.engine.delete(qindex.side_key(seq))  # a queue record's item (convergent mirrors)
        self.engine.commit()
        self.min_seq = stop + 1
        return self.min_seq <= upto

    def save_marker(self) -> None:
        """Persist the current sequence (before its records are deleted wholesale)."""
        if self.meta is not None:
            self.meta.put(self.SEQ_MARKER, str(self.last_seq).encode())
            self.meta.commit()

    def clear(self) -> int:
        """Delete every record; the sequence continues (also across a restart)."""
        self.save_marker()
        n = 0
        for k in list(self.engine.iterate(keys.BINLOG, _END, keys_only=True)):
            self.engine.delete(k)
            n += 1
        for k in list(self.engine.iterate(qindex.SIDE, qindex.SIDE_END, keys_only=True)):
            self.engine.delete(k)
        self.engine.commit()
        self.min_seq = self.last_seq  # nothing older is left to trim
        return n

    def info_text(self) -> bytes:
        return (
            f"    capacity : {self.capacity}\n    min_seq  : {self.min_seq}\n    max_seq  : {self.last_seq}"
        ).encode()
