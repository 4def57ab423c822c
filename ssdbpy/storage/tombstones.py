"""The tombstone index of a node that versions its writes, and its collection (docs/replication.md,
"Tombstone collection").

Every plain tombstone written (a deleted kv key, hash field or zset member, whose version
record then has the tombstone flag and no counter state, and a popped queue item's
``0x03 Q .. T id`` record) gets an index entry in the same batch:

``GC + BE64(binlog seq) + <the tombstone's key>`` -> the tombstone record as written

where ``seq`` is the binlog record of the write that made it.  The collector walks the
index in sequence order: an entry whose tombstone was since overwritten (the item was
written again, or deleted again later, which has an entry of its own) is dropped; a
tombstone at or below the bound the caller gives (the position every peer acknowledged,
replication/manager.py) is deleted with its entry; the rest are held and counted.

A deleted item that was incremented (its record holds counter state, storage/crdt.py) is
indexed the same way each time its deleted state is written; it is collected only when the
caller's ``collectable`` says so (this node's total in it restarted at zero), and ``forget``
stages what goes with it.
"""

from __future__ import annotations

import struct
from typing import Callable

from ssdbpy.storage.engine import Engine

GC = b"\x03G"
GC_END = b"\x03H"
#: meta flag: every tombstone has an index entry (set once the index was built from the records)
INDEXED_KEY = b"ssdbpy.tombstones.indexed"
#: meta flag: every deleted counter's record has an index entry (indexed at write since then)
COUNTERS_INDEXED_KEY = b"ssdbpy.tombstones.counters_indexed"
_BE = struct.Struct(">Q")
_HEAD = len(GC) + 8


def entry_key(seq: int, key: bytes) -> bytes:
    return GC + _BE.pack(seq) + key


def decode_entry(k: bytes) -> tuple[int, bytes]:
    """``(seq, tombstone key)`` of an index entry key."""
    return _BE.unpack_from(k, len(GC))[0], k[_HEAD:]


class Tombstones:
    """The index (``note``), the count of tombstones held and the collection pass (``step``)."""

    def __init__(self, engine: Engine, collectable: Callable[[bytes, bytes], bool] | None = None,
                 forget: Callable[[bytes, bytes], None] | None = None) -> None:
        self.engine = engine
        #: ``(key, record) -> may it go`` (default: yes) and what else to stage when it goes
        self._collectable = collectable
        self._forget = forget
        #: tombstones found held by the last complete pass
        self._held = 0
        #: index entries written since the last complete pass began to be counted
        self._added = 0
        #: tombstones deleted since start
        self.collected = 0
        self._cursor: bytes | None = None  # the last entry a pass in progress looked at
        self._pass_held = 0

    def note(self, seq: int, key: bytes, record: bytes) -> None:
        """Stage the index entry of tombstone ``key`` (record ``record``) made by binlog record ``seq``."""
        self.engine.put(GC + _BE.pack(seq) + key, record)
        self._added += 1

    @property
    def held(self) -> int:
        """Tombstones held: as the last complete pass counted them, plus those written since."""
        return self._held + self._added

    def build(self, meta: Engine, seq: int, records: Callable[[], object], flag: bytes = INDEXED_KEY) -> int:
        """Index the tombstones ``records()`` yields (``(key, record)``) under ``seq``, once per
        database and meta ``flag`` (a node that versioned its writes before the index, or the
        index of deleted counters, existed); the count."""
        if meta.get(flag) is not None:
            return 0
        n = 0
        for key, rec in records():  # type: ignore[attr-defined]
            self.engine.put(GC + _BE.pack(seq) + key, rec)
            n += 1
            if n % 10000 == 0:
                self.engine.commit()
        self.engine.commit()
        meta.put(flag, b"1")
        meta.commit()
        self._added += n
        return n

    def step(self, upto: int, limit: int) -> bool:
        """Look at up to ``limit`` index entries after the pass's cursor: drop the stale ones,
        delete the tombstones made at sequence ``upto`` or before, count the others; commit.
        True while the pass has more to look at; a pass that ends has set ``held``."""
        eng = self.engine
        start = GC if self._cursor is None else self._cursor
        n = 0
        last = None
        for k, v in eng.iterate(start, GC_END, include_start=self._cursor is None):
            last = k
            n += 1
            seq = _BE.unpack_from(k, len(GC))[0]
            key = k[_HEAD:]
            if eng.get(key) != v:
                eng.delete(k)  # written again since: not a tombstone, or indexed under a later seq
            elif seq <= upto and (self._collectable is None or self._collectable(key, v)):
                eng.delete(key)
                eng.delete(k)
                if self._forget is not None:
                    self._forget(key, v)
                self.collected += 1
            else:
                self._pass_held += 1
            if n >= limit:
                break
        eng.commit()
        if n >= limit:
            self._cursor = last
            return True
        # the end of the index: nothing was written between the read above and here
        self._held, self._added = self._pass_held, 0
        self._cursor, self._pass_held = None, 0
        return False
