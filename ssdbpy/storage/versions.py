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
from ssdbpy.storage.engine import Engine
from ssdbpy.storage.hlc import HLC

PREFIX = b"\x03"
PREFIX_END = b"\x04"
_V = struct.Struct("<QQB")
TOMBSTONE = 1

#: binlog cmd -> does it leave a tombstone (only these cmds' items are versioned)
VERSIONED_CMDS: dict[int, bool] = {
    bl.KSET: False, bl.KDEL: True, bl.HSET: False, bl.HDEL: True, bl.ZSET: False, bl.ZDEL: True,
}
#: tombstone cmd of a data key's first byte
DEL_CMD = {ord("k"): bl.KDEL, ord("h"): bl.HDEL, ord("s"): bl.ZDEL}
SET_CMD = {ord("k"): bl.KSET, ord("h"): bl.HSET, ord("s"): bl.ZSET}

NODE_ID_KEY = b"ssdbpy.node_id"
CEILING_KEY = b"ssdbpy.hlc.ceiling"


class Version(NamedTuple):
    stamp: int
    origin: int
    tomb: bool = False

    def order(self) -> tuple[int, int]:
        return self.stamp, self.origin

    def encode(self) -> bytes:
        return _V.pack(self.stamp, self.origin, TOMBSTONE if self.tomb else 0)

    @classmethod
    def decode(cls, raw: bytes) -> "Version":
        if len(raw) != _V.size:
            raise ValueError("bad version record")
        s, o, f = _V.unpack(raw)
        return cls(s, o, bool(f & TOMBSTONE))


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


class Versions:
    """Writes and reads item versions; ``Binlog.add`` calls ``stamp`` for every record."""

    def __init__(self, engine: Engine, clock: HLC, node_id: int) -> None:
        self.engine = engine
        self.clock = clock
        self.node_id = node_id
        #: while set, writes carry this version instead of a new local one (replicated applies)
        self.override: tuple[int, int] | None = None
        self.tombstones_written = 0

    def stamp(self, cmd: int, data_key: bytes) -> None:
        tomb = VERSIONED_CMDS.get(cmd)
        if tomb is None:
            return
        o = self.override
        if o is None:
            v = _V.pack(self.clock.tick(), self.node_id, TOMBSTONE if tomb else 0)
        else:
            v = _V.pack(o[0], o[1], TOMBSTONE if tomb else 0)
        if tomb:
            self.tombstones_written += 1
        self.engine.put(PREFIX + data_key, v)

    def get(self, data_key: bytes, snapshot=None) -> Version:
        """The item's version (``ZERO`` when it has none)."""
        if snapshot is not None:
            raw = snapshot.get(PREFIX + data_key)
        else:
            raw = self.engine.get(PREFIX + data_key)
        return Version.decode(raw) if raw is not None else ZERO
