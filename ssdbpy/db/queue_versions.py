"""Versioned queues (convergent mirrors): item identities, local hooks and the merge.

See ``storage/qindex.py`` for the records and docs/replication.md, "Queues",
for the rule: every item has an id ``(pos, origin)`` fixed when it is pushed;
the queue on every node holds its live items in id order, in SSDB's dense
encoding; a pop leaves a tombstone of the popped item, so it never comes back;
``qset`` is last-writer-wins per item on ``(set stamp, set origin)``.

Local pushes always land at an end in id order (a local stamp is above every
stamp seen), so SSDB's own push/pop code does the data part and the hooks here
only add the index records.  A merged item can land inside the queue: the
items after it move one sequence back (and forward again for a removal inside);
the records logged for it are ``QPUSH_BACK``/``QPOP_BACK`` plus a ``QSET`` per
moved sequence, so a plain slave of this node ends with the same queue.
"""

from __future__ import annotations

import struct

from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage import qindex as qi

_BE = struct.Struct(">Q")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_FRONT = _BE.pack(keys.QFRONT_SEQ)
_BACK = _BE.pack(keys.QBACK_SEQ)
_AFTER = b"\xff"


class QueueVersions:
    def __init__(self, engine, binlog: bl.Binlog) -> None:
        self.engine = engine
        self.binlog = binlog

    # --- helpers -----------------------------------------------------------------
    def _side(self, value: bytes) -> None:
        b = self.binlog
        if b.enabled:
            self.engine.put(qi.side_key(b.last_seq), value)

    def _log(self, cmd: int, key: bytes, side: bytes) -> None:
        self.binlog.add(cmd, key)
        self._side(side)

    def _ptr(self, key: bytes) -> int | None:
        raw = self.engine.get(key)
        return None if raw is None or len(raw) != 8 else _U64.unpack(raw)[0]

    def ensure_indexed(self, name: bytes) -> None:
        """Give ids to the items of a queue written before it was versioned (pos 0, origin = seq:
        two nodes holding the same SSDB-replicated queue give its items the same ids)."""
        eng = self.engine
        prefix = keys.queue_prefix(name)
        front = self._ptr(prefix + _FRONT)
        if front is None or eng.get(qi.reverse_key(prefix + _BE.pack(front))) is not None:
            return
        klen = len(prefix) + 8
        items = list(eng.iterate(prefix + _BE.pack(keys.QITEM_MIN_SEQ), prefix + _BE.pack(keys.QITEM_MAX_SEQ),
                                 include_start=False, keys_only=True))
        for k in items:
            if len(k) != klen or eng.get(qi.reverse_key(k)) is not None:
                continue
            seq = _BE.unpack_from(k, klen - 8)[0]
            iid = qi.item_id(0, seq)
            eng.put(qi.reverse_key(k), iid)
            eng.put(qi.live_key(name, iid), qi.LIVE_V.pack(seq, 0, 0))

    def _tomb(self, seq: int, key: bytes, rec: bytes) -> None:
        """Stage a popped item's tombstone, indexed under binlog record ``seq`` (storage/tombstones.py)."""
        self.engine.put(key, rec)
        self.binlog.versions.tombstones.note(seq, key, rec)

    def _tick(self) -> tuple[int, int]:
        v = self.binlog.versions
        return v.clock.tick(), v.node_id

    # --- local writes (called by Queue right after its binlog record) --------------
    def pushed(self, name: bytes, item_key: bytes, seq: int, back: bool) -> None:
        stamp, node = self._tick()
        iid = qi.item_id(stamp if back else -stamp, node)
        self.engine.put(qi.live_key(name, iid), qi.LIVE_V.pack(seq, stamp, node))
        self.engine.put(qi.reverse_key(item_key), iid)
        self._side(iid + name)

    def popped(self, name: bytes, item_key: bytes) -> None:
        eng = self.engine
        iid = eng.get(qi.reverse_key(item_key))
        if iid is None:
            self._side(b"")
            return
        eng.delete(qi.reverse_key(item_key))
        eng.delete(qi.live_key(name, iid))
        self._tomb(self.binlog.last_seq, qi.tomb_key(name, iid), qi.TOMB_V.pack(*self._tick()))
        self._side(iid + name)

    def updated(self, name: bytes, item_key: bytes, seq: int) -> None:
        iid = self.engine.get(qi.reverse_key(item_key))
        if iid is None:
            self._side(b"")
            return
        self.engine.put(qi.live_key(name, iid), qi.LIVE_V.pack(seq, *self._tick()))
        self._side(iid + name)

    # --- state (for the stream and the copy) ---------------------------------------
    def state(self, name: bytes, iid: bytes, get=None) -> tuple[bytes | None, int, int, bool] | None:
        """``(value or None, stamp, origin, tomb)`` of item ``iid``: its value and set version,
        or its pop version; None when this node does not know the item."""
        get = get or self.engine.get
        raw = get(qi.live_key(name, iid))
        if raw is not None:
            seq, s, o = qi.LIVE_V.unpack(raw)
            value = get(keys.queue_prefix(name) + _BE.pack(seq))
            return (value, s, o, False) if value is not None else None
        raw = get(qi.tomb_key(name, iid))
        if raw is not None:
            s, o = qi.TOMB_V.unpack(raw)
            return None, s, o, True
        return None

    # --- merge ---------------------------------------------------------------------
    def merge(self, name: bytes, iid: bytes, value: bytes, stamp: int, origin: int, tomb: bool) -> bool:
        """Apply a received item state; True if it changed anything (and was logged)."""
        if len(name) > keys.MAX_NAME or len(iid) != qi.ID_LEN:
            return False
        eng = self.engine
        self.ensure_indexed(name)
        if eng.get(qi.tomb_key(name, iid)) is not None:
            return False
        live = eng.get(qi.live_key(name, iid))
        if tomb:
            self._tomb(self.binlog.last_seq + 1, qi.tomb_key(name, iid), qi.TOMB_V.pack(stamp, origin))
            if live is None:
                self._log(bl.NONE, keys.queue_prefix(name), iid + name)  # forwarded, nothing to do here
            else:
                eng.delete(qi.live_key(name, iid))
                self._remove(name, iid, qi.LIVE_V.unpack(live)[0])
            return True
        if live is not None:
            seq, s, o = qi.LIVE_V.unpack(live)
            ik = keys.queue_prefix(name) + _BE.pack(seq)
            if (stamp, origin) < (s, o):
                return False
            if (stamp, origin) == (s, o):
                cur = eng.get(ik)
                if (s, o) != (0, 0) or cur is None or value <= cur:
                    return False
            eng.put(ik, value)
            eng.put(qi.live_key(name, iid), qi.LIVE_V.pack(seq, stamp, origin))
            self._log(bl.QSET, ik, iid + name)
            return True
        self._insert(name, iid, value, stamp, origin)
        return True

    def _insert(self, name: bytes, iid: bytes, value: bytes, stamp: int, origin: int) -> None:
        eng = self.engine
        prefix = keys.queue_prefix(name)
        sk = b"Q" + name
        lbase = qi.base(name) + qi.LIVE
        lk = lbase + iid
        front = self._ptr(prefix + _FRONT)
        back = self._ptr(prefix + _BACK)
        raw_size = eng.get(sk)
        size = _I64.unpack(raw_size)[0] if raw_size is not None and len(raw_size) == 8 else 0
        side = iid + name
        if front is None or back is None:
            seq = keys.QITEM_INIT_SEQ
            eng.put(prefix + _FRONT, _U64.pack(seq))
            eng.put(prefix + _BACK, _U64.pack(seq))
            self._place(name, iid, prefix, seq, value, stamp, origin)
            eng.put(sk, _I64.pack(1))
            self._log(bl.QPUSH_BACK, prefix + _BE.pack(seq), side)
            return
        first = eng.first_key(lbase, lbase + _AFTER)
        if first is not None and first > lk:
            seq = front - 1
            eng.put(prefix + _FRONT, _U64.pack(seq))
            self._place(name, iid, prefix, seq, value, stamp, origin)
            eng.put(sk, _I64.pack(size + 1))
            self._log(bl.QPUSH_FRONT, prefix + _BE.pack(seq), side)
            return
        after = list(eng.iterate(lk, lbase + _AFTER, include_start=False))
        new_back = back + 1
        if after:
            # the items after the new one move one sequence back, the last first
            for k, v in reversed(after):
                old, s, o = qi.LIVE_V.unpack(v)
                moved = prefix + _BE.pack(old + 1)
                eng.put(moved, eng.get(prefix + _BE.pack(old)))
                eng.put(qi.reverse_key(moved), k[len(lbase):])
                eng.put(k, qi.LIVE_V.pack(old + 1, s, o))
            seq = qi.LIVE_V.unpack(after[0][1])[0]
        else:
            seq = new_back
        self._place(name, iid, prefix, seq, value, stamp, origin)
        eng.put(prefix + _BACK, _U64.pack(new_back))
        eng.put(sk, _I64.pack(size + 1))
        self._log(bl.QPUSH_BACK, prefix + _BE.pack(new_back), side)
        for s in range(seq, new_back):
            self._log(bl.QSET, prefix + _BE.pack(s), b"")

    def _place(self, name, iid, prefix, seq, value, stamp, origin) -> None:
        ik = prefix + _BE.pack(seq)
        self.engine.put(ik, value)
        self.engine.put(qi.reverse_key(ik), iid)
        self.engine.put(qi.live_key(name, iid), qi.LIVE_V.pack(seq, stamp, origin))

    def _remove(self, name: bytes, iid: bytes, seq: int) -> None:
        """Take the item at ``seq`` (its index entry already gone) out of the queue."""
        eng = self.engine
        prefix = keys.queue_prefix(name)
        sk = b"Q" + name
        front = self._ptr(prefix + _FRONT)
        back = self._ptr(prefix + _BACK)
        raw_size = eng.get(sk)
        size = (_I64.unpack(raw_size)[0] if raw_size is not None and len(raw_size) == 8 else 1) - 1
        side = iid + name
        ik = prefix + _BE.pack(seq)
        eng.delete(qi.reverse_key(ik))
        if front is None or back is None:
            return
        if size <= 0:
            eng.delete(ik)
            eng.delete(sk)
            eng.delete(prefix + _FRONT)
            eng.delete(prefix + _BACK)
            self._log(bl.QPOP_FRONT, name, side)
            return
        eng.put(sk, _I64.pack(size))
        if seq == front:
            eng.delete(ik)
            eng.put(prefix + _FRONT, _U64.pack(front + 1))
            self._log(bl.QPOP_FRONT, name, side)
            return
        lbase = qi.base(name) + qi.LIVE
        after = list(eng.iterate(lbase + iid, lbase + _AFTER, include_start=False))
        for k, v in after:  # the items after it move one sequence forward, the first first
            old, s, o = qi.LIVE_V.unpack(v)
            moved = prefix + _BE.pack(old - 1)
            eng.put(moved, eng.get(prefix + _BE.pack(old)))
            eng.put(qi.reverse_key(moved), k[len(lbase):])
            eng.put(k, qi.LIVE_V.pack(old - 1, s, o))
        last = prefix + _BE.pack(back)
        eng.delete(last)
        if after:
            eng.delete(qi.reverse_key(last))
        eng.put(prefix + _BACK, _U64.pack(back - 1))
        self._log(bl.QPOP_BACK, name, side)
        for s in range(seq, back):
            self._log(bl.QSET, prefix + _BE.pack(s), b"")
