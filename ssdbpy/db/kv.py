"""Key-value semantics (SSDB 1.9.8 t_kv)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ssdbpy import errors
from ssdbpy.cnum import stored_int64, wrap_int64
from ssdbpy.storage import binlog as bl
from ssdbpy.storage.engine import BIG_VALUE
from ssdbpy.storage.versions import incrementing

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

_KV_END = b"l"  # first key after every kv key


class KV:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog

    def get(self, key: bytes) -> bytes | None:
        return self.engine.get_value(b"k" + key)

    def exists(self, key: bytes) -> bool:
        return self.engine.get(b"k" + key) is not None

    def set(self, key: bytes, value: bytes) -> None:
        """Store ``value`` (caller checked the key length) and log KSET."""
        ek = b"k" + key
        self.engine.put(ek, value)
        self.binlog.add(bl.KSET, ek)
        if len(value) >= BIG_VALUE:
            self.engine.note_big(ek)

    def delete(self, key: bytes) -> None:
        """Delete ``key`` and log KDEL whether or not it existed (as SSDB does)."""
        ek = b"k" + key
        self.engine.delete(ek)
        self.binlog.add(bl.KDEL, ek)

    def incr(self, key: bytes, by: int) -> int:
        """Add ``by`` to an int64 value (missing = 0, empty = 0, see ``stored_int64``); wraps on overflow as SSDB does."""
        old = self.engine.get(b"k" + key)
        if old is None:
            new = by
        else:
            cur = stored_int64(old)
            if cur is None:
                raise errors.ServerError(errors.MSG_NOT_INTEGER)
            new = wrap_int64(cur + by)
        versions = self.binlog.versions
        if versions is None:
            self.set(key, str(new).encode())
        else:
            with incrementing(versions, by, old):
                self.set(key, str(new).encode())
        return new

    def scan(self, start: bytes, end: bytes, limit: int) -> Iterator[tuple[bytes, bytes]]:
        """Ascending ``(key, value)`` with key in ``(start, end]`` (empty end = unbounded)."""
        if limit <= 0:
            return
        it = self.engine.iterate(
            b"k" + start,
            (b"k" + end) if end else _KV_END,
            include_start=False,
            include_stop=bool(end),
        )
        n = 0
        for k, v in it:
            yield k[1:], v
            n += 1
            if n >= limit:
                break

    def rscan(self, start: bytes, end: bytes, limit: int) -> Iterator[tuple[bytes, bytes]]:
        """Descending ``(key, value)`` with key in ``[end, start)`` (empty start = from the last key)."""
        if limit <= 0:
            return
        it = self.engine.iterate(
            b"k" + end,
            (b"k" + start) if start else _KV_END,
            include_start=True,
            include_stop=False,
            reverse=True,
        )
        n = 0
        for k, v in it:
            yield k[1:], v
            n += 1
            if n >= limit:
                break

    def first_last(self) -> tuple[bytes, bytes]:
        """First and last kv key (for ``info``'s data_key_range); empty when none."""
        first = self.engine.first_key(b"k", _KV_END)
        last = self.engine.last_key(b"k", _KV_END)
        return (first[1:] if first else b""), (last[1:] if last else b"")

