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
from ssdbpy.storage import crdt, keys
from ssdbpy.storage import qindex as qi
from ssdbpy.storage.versions import DEL_CMD, SET_CMD, VERSIONED_CMDS, ZERO, Version

#: the request that offers a convergent link, and its protocol version
OFFER = b"ssdbpy_mirror"
PROTO = b"1"
#: a master that reads its convergent slaves' acks adds this word to its answer; a slave
#: acknowledges only then (an older master never reads them: they would fill the socket)
ACKS = b"acks"
#: rank of an item that has neither a value nor a version (never written here)
_NEVER = (-1, -1)


#: queue binlog cmds (and NONE: a forwarded tombstone of an item unknown here) whose records
#: carry an item state on a convergent link when a side record names the item
QUEUE_CMDS = frozenset((bl.QPUSH_BACK, bl.QPUSH_FRONT, bl.QPOP_BACK, bl.QPOP_FRONT, bl.QSET, bl.NONE))
#: what ``queue_packet`` returns for a record to send as on a plain link
PLAIN = object()


def is_versioned(cmd: int) -> bool:
    return cmd in VERSIONED_CMDS


def forwarded(cmd: int) -> bool:
    """Records of this cmd applied from a peer are forwarded on convergent links."""
    return cmd in VERSIONED_CMDS or cmd in QUEUE_CMDS


_LEGACY_QUEUE_CMDS = frozenset((bl.QPUSH_BACK, bl.QPUSH_FRONT, bl.QSET))


def carries_state(cmd: int, blocks: int) -> bool:
    """A packet received on a convergent link goes to ``apply_packet``: an item state, or a
    queue item written on the master before it versioned its writes."""
    return (blocks == 3 and (cmd in VERSIONED_CMDS or cmd in QUEUE_CMDS)) or (
        blocks == 2 and cmd in _LEGACY_QUEUE_CMDS)


def apply_packet(db, rec: bl.Record, pkt: list[bytes]) -> bool:
    """Merge one packet for which ``carries_state`` holds.  A queue item the master wrote
    before versioning (a plain record) gets the id the master gives it, ``(0, its sequence)``
    (QueueVersions.ensure_indexed), so that both place and count it alike."""
    if len(pkt) == 3:
        return merge(db, rec, pkt[1], pkt[2])
    qk = keys.decode_qitem(rec.key)
    if qk is None or not keys.QITEM_MIN_SEQ < qk[1] < keys.QITEM_MAX_SEQ:
        return False
    return db.queue.versions.merge(qk[0], qi.item_id(0, qk[1]), pkt[1], 0, 0, False)


def index_queues(db) -> None:
    """Give every queue item written before versioning its id (before a convergent copy)."""
    qv = db.queue.versions
    for name in db.queue.list_names(b"", b"", 1 << 62):
        qv.ensure_indexed(name)
    db.commit()


def queue_state_packet(seq: int, btype: int, name: bytes, iid: bytes, state, peer_id: int) -> bytes | None:
    """The packet of one queue item's state ``(value, stamp, origin, tomb)``; None when the
    peer wrote that state itself.  Header key ``q u8(len) name id`` (an item key has 8 bytes
    after the name, this one 16)."""
    value, stamp, origin, tomb = state
    if origin == peer_id:
        return None
    cmd = bl.QPOP_FRONT if tomb else bl.QPUSH_BACK
    key = keys.queue_prefix(name) + iid
    return encode_ssdb([bl.encode_header(seq, btype, cmd, key), b"" if tomb else value,
                        Version(stamp, origin, tomb).encode()])


def queue_packet(db, rec: bl.Record, peer_id: int):
    """The packet a convergent link sends for queue record ``rec``: the state of the item its
    side record names, None (nothing to send), or PLAIN (no side record: written before
    versioning, send as on a plain link)."""
    side = db.engine.get(qi.side_key(rec.seq))
    if side is None:
        return PLAIN
    if len(side) < qi.ID_LEN:
        return None  # keeps plain slaves in step only
    iid, name = side[:qi.ID_LEN], side[qi.ID_LEN:]
    state = db.queue.versions.state(name, iid)
    if state is None:
        return None
    return queue_state_packet(rec.seq, rec.type, name, iid, state, peer_id)


def merge_queue(db, rec: bl.Record, value: bytes, version: Version) -> bool:
    key = rec.key
    if len(key) < 2 or key[1] + 2 + qi.ID_LEN != len(key):
        return False
    name = key[2:2 + key[1]]
    return db.queue.versions.merge(name, key[2 + key[1]:], value, version.stamp, version.origin, version.tomb)


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
    if first == b"q" and rec.cmd in QUEUE_CMDS:
        return merge_queue(db, rec, value, version)
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


def _kv_versions(version_it):
    """Only the version records of kv keys, hash fields and zset members."""
    for k, v in version_it:
        if k[1:2] in (b"k", b"h", b"s"):
            yield k, v


def _queue_states(queue_it, get, seq: int, peer_id: int):
    """``(b"q", packet)`` of every queue item state (live and tombstones) in the order index."""
    for k, v in queue_it:
        d = qi.decode_index_key(k)
        if d is None:
            continue
        name, live, iid = d
        if live:
            iseq, s, o = qi.LIVE_V.unpack(v)
            value = get(keys.queue_prefix(name) + qi.be64(iseq))
            if value is None:
                continue
            state = (value, s, o, False)
        else:
            s, o = qi.TOMB_V.unpack(v)
            state = (None, s, o, True)
        pkt = queue_state_packet(seq, bl.COPY, name, iid, state, peer_id)
        if pkt is not None:
            yield b"q", pkt


def copy_records(data_it, version_it, seq: int, peer_id: int, queue_it=None, get=None):
    """``(data key, packet)`` of a convergent copy, in data-key order (so a broken copy resumes
    after the last key sent, as a plain one does).

    ``data_it`` yields the snapshot's data records, ``version_it`` its version records from
    the same position on.  Live kv/hash/zset items go with their versions, tombstones
    interleaved at their data keys; then, where the queue items end, every queue item
    state of ``queue_it()`` (the order index; ``get`` reads the snapshot), queue items
    written before versioning as plain COPY records; items whose version came from
    ``peer_id`` are left out (the peer has them, or newer).
    """
    cmds = wire.COPY_CMDS
    encode = wire.copy_encoder(seq)
    version_it = _kv_versions(version_it)
    vnext = next(version_it, None)
    queues_sent = queue_it is None

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
        if not queues_sent and k[0] > 0x71:  # past the queue items: every queue item state
            queues_sent = True
            yield from _queue_states(queue_it(), get, seq, peer_id)
        if cmd == bl.QPUSH_BACK:
            if get is None or get(qi.reverse_key(k)) is None:  # not versioned: as on a plain link
                yield k, encode(cmd, k, v)
        elif ver.origin != peer_id or ver.counter is not None:
            pkt = state_packet(seq, bl.COPY, k, v, ver)
            if pkt is not None:
                yield k, pkt
    if not queues_sent:
        yield from _queue_states(queue_it(), get, seq, peer_id)
    while vnext is not None:
        pkt = tombstone(vnext[0][1:], Version.decode(vnext[1]))
        if pkt is not None:
            yield vnext[0][1:], pkt
        vnext = next(version_it, None)
