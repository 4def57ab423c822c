"""The record-apply step of a slave link, as a table: binlog cmd -> how the record changes the db.

Each entry is ``apply(db, rec, value)`` where ``value`` is the packet's
second block (None when absent).  The caller stamps the records the apply
writes with the link's binlog type (SYNC or MIRROR).  Keys that do not decode
as their cmd's type are ignored, as SSDB's slave ignores them.
"""

from __future__ import annotations

import logging
from typing import Callable

from ssdbpy.cnum import int64
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys

log = logging.getLogger("ssdbpy.repl.slave")


def _kset(db, rec: bl.Record, value: bytes) -> None:
    if rec.key[:1] == b"k":
        db.kv.set(rec.key[1:], value)


def _kdel(db, rec: bl.Record, value: bytes | None) -> None:
    if rec.key[:1] == b"k":
        db.kv.delete(rec.key[1:])


def _hset(db, rec: bl.Record, value: bytes) -> None:
    hk = keys.decode_hash(rec.key)
    if hk is not None:
        db.hash.set(hk[0], hk[1], value)


def _hdel(db, rec: bl.Record, value: bytes | None) -> None:
    hk = keys.decode_hash(rec.key)
    if hk is not None:
        db.hash.delete(hk[0], hk[1])


def _zset(db, rec: bl.Record, value: bytes) -> None:
    zk = keys.decode_zset(rec.key)
    if zk is not None:
        db.zset.set(zk[0], zk[1], int64(value))


def _zdel(db, rec: bl.Record, value: bytes | None) -> None:
    zk = keys.decode_zset(rec.key)
    if zk is not None:
        db.zset.delete(zk[0], zk[1])


def _qitem(rec: bl.Record) -> tuple[bytes, int] | None:
    qk = keys.decode_qitem(rec.key)
    if qk is None or not (keys.QITEM_MIN_SEQ <= qk[1] < keys.QITEM_MAX_SEQ):
        return None  # e.g. the copied front/back pointer records
    return qk


def _qpush(db, rec: bl.Record, value: bytes) -> None:
    qk = _qitem(rec)
    if qk is None:
        return
    name, seq = qk
    if rec.type == bl.COPY and db.queue.get_by_seq(name, seq) == value:
        # already held, same item at the same sequence: a mirror peer copying
        # back what it got from here (SSDB pushes it a second time)
        return
    # onto an empty queue the item keeps the master's sequence (SSDB's slave
    # restarts at 0x3FFFFFFFFFFFFFFF): a later QSET, which names the item by
    # sequence, then finds it even if the copied queue did not start there
    db.queue.push(name, [value], rec.cmd == bl.QPUSH_BACK, first_seq=seq)


def _qset(db, rec: bl.Record, value: bytes) -> None:
    qk = _qitem(rec)
    if qk is not None:
        db.queue.set_by_seq(qk[0], qk[1], value)


def _qpop_front(db, rec: bl.Record, value: bytes | None) -> None:
    db.queue.pop_front(rec.key)


def _qpop_back(db, rec: bl.Record, value: bytes | None) -> None:
    db.queue.pop_back(rec.key)


Apply = Callable[..., None]

#: binlog cmd -> apply(db, rec, value); the cmds in ``wire.SET_LIKE`` need a value
APPLY: dict[int, Apply] = {
    bl.KSET: _kset,
    bl.KDEL: _kdel,
    bl.HSET: _hset,
    bl.HDEL: _hdel,
    bl.ZSET: _zset,
    bl.ZDEL: _zdel,
    bl.QPUSH_BACK: _qpush,
    bl.QPUSH_FRONT: _qpush,
    bl.QSET: _qset,
    bl.QPOP_FRONT: _qpop_front,
    bl.QPOP_BACK: _qpop_back,
}
