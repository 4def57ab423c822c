"""Item versions for convergent mirrors: ``(stamp, origin)`` per kv key, hash field and zset member.

On disk (data db, written in the batch of the change it describes):
``0x03 + <the item's SSDB data key>`` -> ``LE64(stamp) + LE64(origin) + u8(flags)``,
flag bit 0 = tombstone (the data key is then absent).  SSDB 1.9.8 reads data
only under its type prefixes (``H Q Z h k q s z``) and ``dump`` starts at
``A``, so these records are invisible to it (docs/replication.md, "Convergent
mirrors").  An item without a record reads as ``ZERO``, below every stamped write.

Versions are compared as ``(stamp, origin)`` tuples; a higher one wins.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from ssdbpy.storage import binlog as bl
from ssdbpy.storage.crdt import Counter, bump, normalize, restart, restarted
from ssdbpy.storage.engine import Engine
from ssdbpy.storage.hlc import HLC
from ssdbpy.storage.tombstones import Tombstones

PREFIX = b"\x03"
PREFIX_END = b"\x04"
_V = struct.Struct("<QQB")
TOMBSTONE = 1  # flag: the base write deleted the item
COUNTER = 2  # flag: a crdt.Counter follows (the item was incremented)

#: binlog cmd -> does it leave a tombstone (only these cmds' items are versioned)
VERSIONED_CMDS: dict[int, bool] = {
    bl.KSET: False, bl.KDEL: True, bl.HSET: False, bl.HDEL: True, bl.ZSET: False, bl.ZDEL: True,
}
#: tombstone cmd of a data key's first byte
DEL_CMD = {ord("k"): bl.KDEL, ord("h"): bl.HDEL, ord("s"): bl.ZDEL}
SET_CMD = {ord("k"): bl.KSET, ord("h"): bl.HSET, ord("s"): bl.ZSET}

NODE_ID_KEY = b"ssdbpy.node_id"
COUNTERS_KEY = b"ssdbpy.versions.counters"
#: meta flag: the counter markers (below) name every item holding counter state
MARKERS_KEY = b"ssdbpy.versions.counter_markers"
#: ``MARKER + data key`` -> b"": the item holds counter state (loaded at start into memory, so
#: that a plain write of any other item need not read its old version record)
MARKER = b"\x03C"
MARKER_END = b"\x03D"
CEILING_KEY = b"ssdbpy.hlc.ceiling"


class Version(NamedTuple):
    """An item's version record: the version of its base write, and its counter state if any."""

    stamp: int
    origin: int
    tomb: bool = False
    counter: Counter | None = None

    def order(self) -> tuple[int, int]:
        return self.stamp, self.origin

    def encode(self) -> bytes:
        flags = (TOMBSTONE if self.tomb else 0) | (COUNTER if self.counter is not None else 0)
        head = _V.pack(self.stamp, self.origin, flags)
        return head if self.counter is None else head + self.counter.encode()

    @classmethod
    def decode(cls, raw: bytes) -> "Version":
        if len(raw) < _V.size:
            raise ValueError("bad version record")
        s, o, f = _V.unpack_from(raw)
        counter = Counter.decode(raw[_V.size:]) if f & COUNTER else None
        if counter is None and len(raw) != _V.size:
            raise ValueError("bad version record")
        return cls(s, o, bool(f & TOMBSTONE), counter)

    def as_counter(self, value: bytes | None) -> Counter:
        """The counter state, or that of a plain item holding ``value`` (no increments)."""
        if self.counter is not None:
            return self.counter
        return Counter(None if self.tomb else value)


ZERO = Version(0, 0, False)


def version_key(data_key: bytes) -> bytes:
    return PREFIX + data_key


def load_node_id(meta: Engine) -> int:
    """This node's origin id: random, non-zero, created once and kept in the meta db."""
    raw = meta.get(NODE_ID_KEY)
    if raw is not None and raw.isdigit() and int(raw) > 0:
        return int(raw)
    while True:
        nid = int.from_bytes(os.urandom(8), "little")
        if nid:
            break
    meta.put(NODE_ID_KEY, str(nid).encode())
    meta.commit()
    return nid


def load_clock(meta: Engine, now_ms) -> HLC:
    """The node's HLC, its ceiling persisted in the meta db."""
    raw = meta.get(CEILING_KEY)
    ceiling = int(raw) if raw is not None and raw.isdigit() else 0

    def save(c: int) -> None:
        meta.put(CEILING_KEY, str(c).encode())
        meta.commit()

    return HLC(now_ms, ceiling, save)


class incrementing:  # noqa: N801 - used as a context manager, like contextlib's
    """``with incrementing(versions, by, value_before):`` the write inside the block is an
    increment by ``by`` of an item holding ``value_before`` (a class: cheaper per incr than a
    generator-based context manager)."""

    __slots__ = ("versions",)

    def __init__(self, versions: "Versions", by: int, value_before: bytes | None) -> None:
        self.versions = versions
        versions.pending_incr = by
        versions._value_before = value_before

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        self.versions.pending_incr = None


class Versions:
    """Writes and reads item versions; ``Binlog.add`` calls ``stamp`` for every record."""

    def __init__(self, engine: Engine, clock: HLC, node_id: int, meta: Engine | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.node_id = node_id
        self._meta = meta
        #: some item of this node may hold counter state (a meta db flag, set before the
        #: first counter record is staged): until then a plain write need not read the
        #: item's old record to keep its counter totals
        self.counters = meta is None or meta.get(COUNTERS_KEY) is not None
        #: version keys of the items holding counter state (None: unknown, read the old record)
        self.counter_keys: set[bytes] | None = None if meta is None else self._load_markers(meta)
        #: while set, writes carry this version instead of a new local one (replicated applies)
        self.override: tuple[int, int] | None = None
        #: while set, the next write stores this version record as is (a merged counter state)
        self.next_record: bytes | None = None
        self.pending_incr: int | None = None
        self._value_before: bytes | None = None
        self.tombstones_written = 0
        #: the tombstone index (storage/tombstones.py) and the binlog whose records make them
        self.tombstones = Tombstones(engine, self._collectable, self._forget)
        self.binlog = None

    def _tomb(self, vk: bytes, rec: bytes) -> None:
        """Stage plain tombstone ``rec`` at ``vk`` with its index entry (the binlog record that
        makes it is staged next: ``Binlog.add`` stamps before it numbers)."""
        self.engine.put(vk, rec)
        b = self.binlog
        self.tombstones.note(0 if b is None else b.last_seq + 1, vk, rec)
        self.tombstones_written += 1

    def stamp(self, cmd: int, data_key: bytes) -> None:
        """Stage the version record of a write of ``data_key`` (its value already staged).

        A replicated change (``override``) carries its own version, or a whole record
        (``next_record``); a local one takes a new stamp.  A local ``incr`` (announced
        with ``pending_incr``) adds to this node's counter total; a plain write of an
        incremented item becomes its new base, having seen every total known here.
        """
        tomb = VERSIONED_CMDS.get(cmd)
        if tomb is None:
            return
        vk = PREFIX + data_key
        ck = self.counter_keys
        if (self.override is None and self.next_record is None and self.pending_incr is None
                and (not self.counters or (ck is not None and vk not in ck))):
            # the common case, a local plain write of an item without counter state
            if tomb:
                self._tomb(vk, _V.pack(self.clock.tick(), self.node_id, TOMBSTONE))
            else:
                self.engine.put(vk, _V.pack(self.clock.tick(), self.node_id, 0))
            return
        rec = self.next_record
        if rec is not None:
            self.next_record = None
            if rec[_V.size - 1] & COUNTER:
                self._note_counters(vk)
                if tomb:  # a merged state that deletes the item: restart this node's total
                    v = Version.decode(rec)
                    assert v.counter is not None
                    if not restarted(v.counter, self.node_id):
                        restart(v.counter, self.node_id, self.clock.tick())
                        rec = v.encode()
                    self._tomb(vk, rec)
                    return
            self.engine.put(vk, rec)
            return
        o = self.override
        if o is not None:
            if tomb:
                self._tomb(vk, _V.pack(o[0], o[1], TOMBSTONE))
            else:
                self.engine.put(vk, _V.pack(o[0], o[1], 0))
            return
        stamp = self.clock.tick()
        incr = self.pending_incr
        if incr is None and (not self.counters or (ck is not None and vk not in ck)):
            if tomb:
                self._tomb(vk, _V.pack(stamp, self.node_id, TOMBSTONE))
            else:
                self.engine.put(vk, _V.pack(stamp, self.node_id, 0))
            return
        self.pending_incr = None
        old_raw = self.engine.get(vk)
        if incr is None and (old_raw is None or len(old_raw) == _V.size):
            if tomb:
                self._tomb(vk, _V.pack(stamp, self.node_id, TOMBSTONE))
            else:
                self.engine.put(vk, _V.pack(stamp, self.node_id, 0))
            return
        if incr is not None and old_raw is not None and len(old_raw) > _V.size:
            # a counter record: try the in-place raise before decoding the whole state
            s0, o0, f0 = _V.unpack_from(old_raw)
            if f0 & COUNTER:
                self._note_counters(vk)
                patched = bump(old_raw, _V.size, self.node_id, incr, stamp, (s0, o0))
                if patched is not None:
                    self._value_before = None
                    self.engine.put(vk, patched)
                    return
        old = Version.decode(old_raw) if old_raw is not None else ZERO
        if incr is None:  # a plain write of an incremented item: the new base
            c = old.counter
            assert c is not None
            new = Counter(None if tomb else self.engine.get(data_key), dict(c.totals), dict(c.totals))
            if tomb:  # every total is observed: this node's total restarts at zero (crdt.py, "Epochs")
                if not restarted(new, self.node_id):
                    restart(new, self.node_id, self.clock.tick())
                self._tomb(vk, Version(stamp, self.node_id, tomb, new).encode())
            else:
                self.engine.put(vk, Version(stamp, self.node_id, tomb, new).encode())
            return
        # an increment: the base stays, this node's total grows (the value was written by
        # the caller as the old value + incr, which is what the state now computes)
        self._note_counters(vk)
        c = old.as_counter(self._value_before)
        self._value_before = None
        normalize(old.order(), c)
        total = c.totals.get(self.node_id, (0, 0))[0]
        c.totals[self.node_id] = (total + incr, stamp)
        self.engine.put(vk, Version(old.stamp, old.origin, old.tomb, c).encode())

    def _collectable(self, key: bytes, rec: bytes) -> bool:
        """Tombstone ``key`` (record ``rec``) may go once every peer holds it: a plain one, or a
        deleted counter in which this node's total restarted (crdt.py, "Epochs"), so that an
        increment here from an empty state counts what the record would have counted."""
        if len(rec) <= _V.size or not rec[_V.size - 1] & COUNTER or key[1:2] not in (b"k", b"h", b"s"):
            return True
        c = Version.decode(rec).counter
        return c is not None and restarted(c, self.node_id)

    def _forget(self, key: bytes, rec: bytes) -> None:
        """Stage what goes with collected tombstone ``key`` beside its record: a counter's marker."""
        if len(rec) > _V.size and rec[_V.size - 1] & COUNTER and key[1:2] in (b"k", b"h", b"s"):
            self.engine.delete(MARKER + key[len(PREFIX):])
            ck = self.counter_keys
            if ck is not None:
                ck.discard(key)

    def _note_counters(self, vk: bytes) -> None:
        """The item of version key ``vk`` holds counter state (its record is being staged)."""
        if not self.counters:
            self.counters = True
            if self._meta is not None:
                self._meta.put(COUNTERS_KEY, b"1")
                self._meta.commit()
        ck = self.counter_keys
        if ck is not None and vk not in ck:
            ck.add(vk)
            self.engine.put(MARKER + vk[len(PREFIX):], b"")  # in the batch of the record

    def _load_markers(self, meta: Engine) -> set[bytes]:
        """The counter items' version keys, from the markers; on a database versioned before
        markers existed, built once from the version records."""
        eng = self.engine
        if meta.get(MARKERS_KEY) is None:
            if self.counters:
                for k, v in eng.iterate(PREFIX, PREFIX_END):
                    if k[1:2] in (b"k", b"h", b"s") and len(v) > _V.size and v[_V.size - 1] & COUNTER:
                        eng.put(MARKER + k[len(PREFIX):], b"")
                eng.commit()
            meta.put(MARKERS_KEY, b"1")
            meta.commit()
        return {PREFIX + k[len(MARKER):] for k in eng.iterate(MARKER, MARKER_END, keys_only=True)}

    def announce_incr(self, by: int, value_before: bytes | None) -> None:
        """The next ``stamp`` records an increment by ``by`` of an item that held ``value_before``."""
        self.pending_incr = by
        self._value_before = value_before

    def get(self, data_key: bytes, snapshot=None) -> Version:
        """The item's version (``ZERO`` when it has none)."""
        if snapshot is not None:
            raw = snapshot.get(PREFIX + data_key)
        else:
            raw = self.engine.get(PREFIX + data_key)
        return Version.decode(raw) if raw is not None else ZERO
