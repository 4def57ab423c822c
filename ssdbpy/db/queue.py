"""Queue (list) semantics (SSDB 1.9.8 t_queue).

Records (storage.md §7), with ``P = b"q" + u8(len(name)) + name``:

* items ``P + BE64(seq)`` -> item bytes, seqs in ``(10000, 2**63-1)``;
* front/back pointers ``P + BE64(2)`` / ``P + BE64(3)`` -> uint64 LE seq of the
  first/last item;
* size ``b"Q" + name`` -> int64 LE item count.

The first item of a new queue gets seq 0x3FFFFFFFFFFFFFFF and both pointers
point at it; ``push_back`` uses back+1, ``push_front`` front-1; a push that would
reach seq <= 10000 or >= 2**63-1 fails ("queue is full").  When the size
reaches 0 the size record and both pointers are deleted.  Sequence arithmetic is
uint64 modulo 2**64, as in C.

Binlog (storage.md §8): ``QPUSH_BACK``/``QPUSH_FRONT`` + item key per pushed
item, ``QPOP_BACK``/``QPOP_FRONT`` + the *raw queue name* per popped item,
``QSET`` + item key; ``fix`` logs nothing.

A pointer that is not 8 bytes, or a size record that is not 8 bytes or is
negative, makes the operation fail with ServerError (``["error"]``) before it
writes anything.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ssdbpy import errors
from ssdbpy.db.queue_versions import QueueVersions
from ssdbpy.db.slices import STEP, Cooperate, noop
from ssdbpy.db.zset import list_names
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

_LEN = [bytes((i,)) for i in range(256)]
_MAX = keys.MAX_NAME
_BE = struct.Struct(">Q")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_be = _BE.pack
_pack_u64 = _U64.pack
_unpack_u64 = _U64.unpack
_pack_i64 = _I64.pack
_unpack_i64 = _I64.unpack

MASK64 = (1 << 64) - 1
SEQ_MIN = keys.QITEM_MIN_SEQ  # 10000
SEQ_MAX = keys.QITEM_MAX_SEQ  # 2**63 - 1
SEQ_INIT = keys.QITEM_INIT_SEQ  # 0x3FFFFFFFFFFFFFFF
_FRONT = _be(keys.QFRONT_SEQ)
_BACK = _be(keys.QBACK_SEQ)
_QPUSH_BACK, _QPUSH_FRONT = bl.QPUSH_BACK, bl.QPUSH_FRONT
_QPOP_BACK, _QPOP_FRONT = bl.QPOP_BACK, bl.QPOP_FRONT
#: slices longer than this read with an iterator instead of point gets
_SLICE_ITER_MIN = 32


def _prefix(name: bytes) -> bytes:
    return b"q" + _LEN[len(name)] + name


#: pops between two cooperate() calls in pop_many
_POP_SLICE = 256

class Queue:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog
        #: item ids, tombstones and merges when the node versions its writes (convergent mirrors)
        self.versions = QueueVersions(db.engine, db.binlog)

    # --- records ----------------------------------------------------------------
    def _seq(self, key: bytes) -> int | None:
        """A front/back pointer: None when missing, ServerError when not 8 bytes."""
        raw = self.engine.get(key)
        if raw is None:
            return None
        if len(raw) != 8:
            raise errors.ServerError()
        return _unpack_u64(raw)[0]

    def _size(self, sk: bytes) -> int:
        raw = self.engine.get(sk)
        if raw is None:
            return 0
        if len(raw) != 8:
            raise errors.ServerError()
        n = _unpack_i64(raw)[0]
        if n < 0:
            raise errors.ServerError()
        return n

    def size(self, name: bytes) -> int:
        """Item count (0 for a missing queue); ServerError for a corrupt size record."""
        return self._size(b"Q" + name)

    # --- push / pop -------------------------------------------------------------
    def push(self, name: bytes, items: list[bytes], back: bool = True, first_seq: int | None = None) -> int:
        """Push ``items`` one after the other; returns the new size.

        Each item is pushed as SSDB pushes it in its own transaction: if the
        queue fills up (or the name is > 255 bytes) ServerError is raised and
        the items pushed before stay pushed.  ``first_seq`` (replication: the
        master's sequence of the item) is the sequence the first item gets
        when the queue is empty, instead of 0x3FFFFFFFFFFFFFFF; it must lie in
        ``(10000, 2**63-1)``, else it is ignored.
        """
        if len(name) > _MAX:
            raise errors.ServerError()
        eng = self.engine
        put = eng.put
        add = self.binlog.add
        prefix = b"q" + _LEN[len(name)] + name
        pk = prefix + (_BACK if back else _FRONT)
        sk = b"Q" + name
        seq = self._seq(pk)
        size = self._size(sk)
        if back:
            step, cmd = 1, _QPUSH_BACK
        else:
            step, cmd = -1, _QPUSH_FRONT
        start_size = size
        full = False
        qv = self.versions if self.binlog.versions is not None else None
        if qv is not None:
            qv.ensure_indexed(name)
        for item in items:
            if seq is None:
                seq = first_seq if first_seq is not None and SEQ_MIN < first_seq < SEQ_MAX else SEQ_INIT
                init = _pack_u64(seq)
                put(prefix + _FRONT, init)
                put(prefix + _BACK, init)
            else:
                nxt = (seq + step) & MASK64
                if nxt <= SEQ_MIN or nxt >= SEQ_MAX:
                    full = True
                    break
                seq = nxt
            ik = prefix + _be(seq)
            put(ik, item)
            add(cmd, ik)
            if qv is not None:
                qv.pushed(name, ik, seq, back)
            size += 1
        if size != start_size:
            put(pk, _pack_u64(seq))  # type: ignore[arg-type]
            put(sk, _pack_i64(size))
        if full:
            raise errors.ServerError()
        return size

    def push_back(self, name: bytes, item: bytes) -> int:
        return self.push(name, [item], True)

    def push_front(self, name: bytes, item: bytes) -> int:
        return self.push(name, [item], False)

    def pop(self, name: bytes, back: bool = False) -> bytes | None:
        """Pop one item from the front (or back); None when there is nothing to pop."""
        if len(name) > _MAX:
            return None
        eng = self.engine
        prefix = b"q" + _LEN[len(name)] + name
        pk = prefix + (_BACK if back else _FRONT)
        seq = self._seq(pk)
        if seq is None:
            return None
        versioned = self.binlog.versions is not None
        if versioned:
            self.versions.ensure_indexed(name)
        ik = prefix + _be(seq)
        item = eng.get(ik)
        if item is None:
            return None
        sk = b"Q" + name
        size = self._size(sk) - 1
        eng.delete(ik)
        self.binlog.add(_QPOP_BACK if back else _QPOP_FRONT, name)
        if versioned:
            self.versions.popped(name, ik)
        if size <= 0:
            eng.delete(sk)
            eng.delete(prefix + _FRONT)
            eng.delete(prefix + _BACK)
        else:
            eng.put(sk, _pack_i64(size))
            eng.put(pk, _pack_u64((seq - 1 if back else seq + 1) & MASK64))
        return item

    def pop_front(self, name: bytes) -> bytes | None:
        return self.pop(name, False)

    def pop_back(self, name: bytes) -> bytes | None:
        return self.pop(name, True)

    def pop_many(self, name: bytes, count: int, back: bool = False, cooperate: Cooperate = noop) -> list[bytes]:
        """Pop up to ``count`` items; stops quietly at the end or at an error (as SSDB's qpop/qtrim).

        ``cooperate()`` between slices of pops (each pop is SSDB's own transaction anyway).
        """
        out: list[bytes] = []
        pop = self.pop
        try:
            while len(out) < count:
                item = pop(name, back)
                if item is None:
                    break
                out.append(item)
                if len(out) % _POP_SLICE == 0:
                    cooperate()
        except errors.ServerError:
            pass
        return out

    def clear(self, name: bytes, cooperate: Cooperate = noop) -> int:
        """Pop every item from the front (one QPOP_FRONT record each); returns the count.

        ``cooperate()`` runs after every STEP pops; each pop reads the pointers
        afresh, so pushes and pops by other clients meanwhile are taken in turn
        (clear ends when it finds the queue empty).
        """
        n = 0
        pop = self.pop
        while pop(name, False) is not None:
            n += 1
            if not n % STEP:
                cooperate()
        return n

    # --- reads -----------------------------------------------------------------
    def front(self, name: bytes) -> bytes | None:
        if len(name) > _MAX:
            return None
        prefix = _prefix(name)
        seq = self._seq(prefix + _FRONT)
        return None if seq is None else self.engine.get(prefix + _be(seq))

    def back(self, name: bytes) -> bytes | None:
        if len(name) > _MAX:
            return None
        prefix = _prefix(name)
        seq = self._seq(prefix + _BACK)
        return None if seq is None else self.engine.get(prefix + _be(seq))

    def _index_seq(self, prefix: bytes, index: int) -> int | None:
        """Seq of 0-based ``index`` (negative from the back), unchecked against the size."""
        if index >= 0:
            seq = self._seq(prefix + _FRONT)
            return None if seq is None else (seq + index) & MASK64
        seq = self._seq(prefix + _BACK)
        return None if seq is None else (seq + index + 1) & MASK64

    def get(self, name: bytes, index: int) -> bytes | None:
        """The item at ``index``; None when the position holds nothing."""
        if len(name) > _MAX:
            return None
        prefix = _prefix(name)
        seq = self._index_seq(prefix, index)
        return None if seq is None else self.engine.get(prefix + _be(seq))

    def set(self, name: bytes, index: int, item: bytes) -> bool:
        """Overwrite the item at ``index`` (logs QSET); False when out of range."""
        size = self.size(name)
        if index >= size or index < -size or len(name) > _MAX:
            return False
        prefix = _prefix(name)
        seq = self._index_seq(prefix, index)
        if seq is None:
            return False
        ik = prefix + _be(seq)
        if self.binlog.versions is not None:
            self.versions.ensure_indexed(name)
        self.engine.put(ik, item)
        self.binlog.add(bl.QSET, ik)
        if self.binlog.versions is not None:
            self.versions.updated(name, ik, seq)
        return True

    def get_by_seq(self, name: bytes, seq: int) -> bytes | None:
        """The item stored with sequence ``seq`` (None if there is none)."""
        if len(name) > _MAX:
            return None
        return self.engine.get(_prefix(name) + _be(seq))

    def set_by_seq(self, name: bytes, seq: int, item: bytes) -> bool:
        """Overwrite the item with sequence ``seq`` if ``front <= seq <= front + size`` (replicated QSET)."""
        if len(name) > _MAX:
            return False
        size = self.size(name)
        prefix = _prefix(name)
        front = self._seq(prefix + _FRONT) or 0
        if seq < front or seq > front + size:
            return False
        ik = prefix + _be(seq)
        if self.binlog.versions is not None:
            self.versions.ensure_indexed(name)
        self.engine.put(ik, item)
        self.binlog.add(bl.QSET, ik)
        if self.binlog.versions is not None:
            self.versions.updated(name, ik, seq)
        return True

    def slice(self, name: bytes, begin: int, end: int, cooperate: Cooperate = noop) -> list[bytes]:
        """Items at positions ``begin..end`` inclusive (negatives count from the back).

        As SSDB: the positions are turned into seqs via the front/back pointers
        and the items are read in seq order until the first missing seq.
        ``cooperate()`` runs between slices of the walk (one iterator: the same
        items as at once).
        """
        if len(name) > _MAX:
            return []
        prefix = _prefix(name)
        if begin >= 0 and end >= 0:
            f = self._seq(prefix + _FRONT)
            if f is None:
                return []
            s, e = f + begin, f + end
        elif begin < 0 and end < 0:
            b = self._seq(prefix + _BACK)
            if b is None:
                return []
            s, e = b + begin + 1, b + end + 1
        else:
            f = self._seq(prefix + _FRONT)
            if f is None:
                return []
            b = self._seq(prefix + _BACK)
            if b is None:
                return []
            s = f + begin if begin >= 0 else b + begin + 1
            e = f + end if end >= 0 else b + end + 1
        s &= MASK64
        e &= MASK64
        out: list[bytes] = []
        if s > e:
            return out
        if e - s < _SLICE_ITER_MIN:
            get = self.engine.get
            for seq in range(s, e + 1):
                v = get(prefix + _be(seq))
                if v is None:
                    break
                out.append(v)
            return out
        want = s
        klen = len(prefix) + 8
        for k, v in self.engine.iterate(prefix + _be(s), prefix + _be(e), include_stop=True):
            if len(k) != klen or _BE.unpack_from(k, klen - 8)[0] != want:
                break
            out.append(v)
            want += 1
            if not want % STEP:
                cooperate()
        return out

    # --- maintenance --------------------------------------------------------------
    def fix(self, name: bytes) -> None:
        """Rebuild size and front/back pointers from the stored items (no binlog)."""
        if len(name) > _MAX:
            return
        prefix = _prefix(name)
        klen = len(prefix) + 8
        first = last = None
        count = 0
        for k in self.engine.iterate(prefix + _be(SEQ_MIN - 1), prefix + _be(SEQ_MAX),
                                     include_start=False, include_stop=True, keys_only=True):
            if len(k) != klen:
                raise errors.ServerError()
            last = k[-8:]
            if first is None:
                first = last
            count += 1
        eng = self.engine
        sk = b"Q" + name
        if first is None or last is None:
            eng.delete(sk)
            eng.delete(prefix + _FRONT)
            eng.delete(prefix + _BACK)
        else:
            eng.put(sk, _pack_i64(count))
            eng.put(prefix + _FRONT, _pack_u64(_BE.unpack(first)[0]))
            eng.put(prefix + _BACK, _pack_u64(_BE.unpack(last)[0]))

    def list_names(self, start: bytes, end: bytes, limit: int, reverse: bool = False,
                   cooperate: Cooperate = noop) -> list[bytes]:
        """Queue names in ``(start, end]`` ascending, or descending from ``start`` (exclusive) to ``end``."""
        return list_names(self.engine, keys.QSIZE, start, end, limit, reverse, cooperate)
