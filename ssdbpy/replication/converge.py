"""Convergent mirror links: per-item state shipping and the merge rule (docs/replication.md,
"Convergent mirrors").

A packet on a convergent stream for a kv key, hash field or zset member is
``[header, value, version]``: the item's state when it was sent (its value,
or a tombstone with an empty value and a KDEL/HDEL/ZDEL cmd) and the version
``(stamp, origin)`` that wrote it.  The receiver keeps whichever state has the
higher version; equal versions are the same write, except for never-stamped
(``(0, 0)``, pre-versioning) values, which are ordered by their bytes so that
such differences converge too.  Applying is idempotent and order-free.
"""

from __future__ import annotations

from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.replication import wire
from ssdbpy.replication.apply import APPLY
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import crdt
from ssdbpy.storage.versions import DEL_CMD, SET_CMD, VERSIONED_CMDS, ZERO, Version

#: the request that offers a convergent link, and its protocol version
OFFER = b"ssdbpy_mirror"
PROTO = b"1"
#: rank of an item that has neither a value nor a version (never written here)
_NEVER = (-1, -1)


def is_versioned(cmd: int) -> bool:
    return cmd in VERSIONED_CMDS


def state_of(db, key: bytes, snapshot=None) -> tuple[bytes | None, Version]:
    """``(value or None, version)`` of the item with data key ``key``, now or in ``snapshot``."""
    if snapshot is None:
        value = db.engine.get_value(key)
    else:
        value = snapshot.get(key)
    return value, db.binlog.versions.get(key, snapshot)


def state_packet(seq: int, btype: int, key: bytes, value: bytes | None, version: Version) -> bytes | None:
    """The packet carrying one item's state, or None when there is nothing to tell."""
    if value is None:
        if version.order() == (0, 0) and version.counter is None:
            return None  # never written, or deleted before versioning: nothing to ship
        cmd = DEL_CMD.get(key[0])
        if version.counter is None:
            version = version._replace(tomb=True)
        value = b""
    else:
        cmd = SET_CMD.get(key[0])
        if version.counter is None:
            version = version._replace(tomb=False)
    if cmd is None:
        return None
    return encode_ssdb([bl.encode_header(seq, btype, cmd, key), value, version.encode()])


def merge(db, rec: bl.Record, value: bytes, raw_version: bytes) -> bool:
    """Apply one received item state if it is newer than the local one; True if applied.

    The caller sets the binlog type the applied records are logged with.
    """
    version = Version.decode(raw_version)
    versions = db.binlog.versions
    versions.clock.observe(version.stamp)
    key = rec.key
    first = key[:1]
    if first not in (b"k", b"h", b"s"):
        return False
    local = versions.get(key)
    local_value = db.engine.get(key)
    if version.counter is not None or local.counter is not None:
        return _merge_counter(db, rec, value, version, local, local_value)
    mine = local.order() if (local is not ZERO or local_value is not None) else _NEVER
    theirs = version.order()
    if theirs < mine:
        return False
    if theirs == mine:
        # the same write, unless neither side was ever stamped: then the larger value wins
        if theirs != (0, 0) or version.tomb or local_value is None or value <= local_value:
            return False
    cmd = DEL_CMD[key[0]] if version.tomb else SET_CMD[key[0]]
    with db.stamped(version.stamp, version.origin):
        APPLY[cmd](db, rec, None if version.tomb else value)
    return True


def _merge_counter(db, rec: bl.Record, value: bytes, version: Version, local: Version,
                   local_value: bytes | None) -> bool:
    """Join two states of which at least one carries increments (storage/crdt.py)."""
    versions = db.binlog.versions
    theirs = version.as_counter(None if version.tomb else value)
    for _s, t in theirs.totals.values():
        versions.clock.observe(t)
    mine = local.as_counter(local_value)
    (stamp, origin), c = crdt.join(local.order(), mine, version.order(), theirs)
    merged = Version(stamp, origin, c.base is None, c)
    if merged == local:
        return False
    new_value = crdt.value((stamp, origin), c)
    key = rec.key
    versions.next_record = merged.encode()
    try:
        if new_value is None:
            APPLY[DEL_CMD[key[0]]](db, rec, None)
        else:
            APPLY[SET_CMD[key[0]]](db, rec, new_value)
    finally:
        versions.next_record = None
    return True


def copy_records(data_it, version_it, seq: int, peer_id: int):
    """``(data key, packet)`` of a convergent copy, in data-key order (so a broken copy resumes
    after the last key sent, as a plain one does).

    ``data_it`` yields the snapshot's data records, ``version_it`` its version records from
    the same position on.  Live kv/hash/zset items go with their versions, tombstones
    interleaved at their data keys, queue records as plain COPY records; items whose
    version came from ``peer_id`` are left out (the peer has them, or newer).
    """
    cmds = wire.COPY_CMDS
    encode = wire.copy_encoder(seq)
    vnext = next(version_it, None)

    def tombstone(dk: bytes, version: Version):
        if version.tomb and (version.origin != peer_id or version.counter is not None):
            return state_packet(seq, bl.COPY, dk, None, version)
        return None

    for k, v in data_it:
        cmd = cmds.get(k[0])
        if cmd is None:  # the 'z' score index and anything unknown
            continue
        ver = ZERO
        while vnext is not None and vnext[0][1:] <= k:
            dk = vnext[0][1:]
            version = Version.decode(vnext[1])
            if dk == k:
                ver = version
            else:
                pkt = tombstone(dk, version)
                if pkt is not None:
                    yield dk, pkt
            vnext = next(version_it, None)
        if cmd == bl.QPUSH_BACK:
            yield k, encode(cmd, k, v)
        elif ver.origin != peer_id or ver.counter is not None:
            pkt = state_packet(seq, bl.COPY, k, v, ver)
            if pkt is not None:
                yield k, pkt
    while vnext is not None:
        pkt = tombstone(vnext[0][1:], Version.decode(vnext[1]))
        if pkt is not None:
            yield vnext[0][1:], pkt
        vnext = next(version_it, None)
