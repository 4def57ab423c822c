"""Hash semantics (SSDB 1.9.8 t_hash).

Every field is one record ``h<len(name)><name>=<field>`` -> value; the size
record ``H<name>`` holds the field count as int64 LE and is deleted when the
count reaches 0, so a hash exists iff its size record does (storage.md §4).
Names and fields are 1..255 bytes for writes; reads with longer names simply
find nothing (SSDB truncates the length byte, which can never match a stored key).

Binlog (storage.md §8): ``HSET`` + field key when a field is created or its value
changes (an identical value writes and logs nothing), ``HDEL`` + field key for
each field that existed and was deleted.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import TYPE_CHECKING, Iterator

from ssdbpy import errors
from ssdbpy.cnum import stored_int64, wrap_int64
from ssdbpy.db.slices import Cooperate, noop
from ssdbpy.db.zset import list_names
from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.versions import incrementing

if TYPE_CHECKING:
    from ssdbpy.db.database import Database

_LEN = [bytes((i,)) for i in range(256)]
_MAX = keys.MAX_NAME
_HSET = bl.HSET
_HDEL = bl.HDEL
_pack_size = keys.pack_i64le
_unpack_size = keys.unpack_size
#: fields removed between two ``cooperate()`` calls by clear()
CLEAR_BATCH = 256


class Hash:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog

    # --- point operations ------------------------------------------------------
    def get(self, name: bytes, field: bytes) -> bytes | None:
        if len(name) > _MAX:
            return None
        return self.engine.get(b"h" + _LEN[len(name)] + name + b"=" + field)

    def exists(self, name: bytes, field: bytes) -> bool:
        return self.get(name, field) is not None

    def size(self, name: bytes) -> int:
        """Field count; 0 when missing, negative or not 8 bytes long."""
        return _unpack_size(self.engine.get(b"H" + name))

    def _add_size(self, name: bytes, delta: int) -> None:
        # As SSDB's incr_hsize: delete only at exactly 0 (a corrupt record can go negative).
        sk = b"H" + name
        eng = self.engine
        n = _unpack_size(eng.get(sk)) + delta
        if n == 0:
            eng.delete(sk)
        else:
            eng.put(sk, _pack_size(n))

    def set(self, name: bytes, field: bytes, value: bytes) -> int:
        """Store ``value``; 1 if the field is new, 0 if it existed (changed or not).

        Raises ServerError (``["error"]``) for an empty or > 255-byte name or field.
        """
        if not name or not field or len(name) > _MAX or len(field) > _MAX:
            raise errors.ServerError()
        hk = b"h" + _LEN[len(name)] + name + b"=" + field
        eng = self.engine
        old = eng.get(hk)
        if old is None:
            eng.put(hk, value)
            self.binlog.add(_HSET, hk)
            sk = b"H" + name  # _add_size(name, 1), inlined: hset is a hot path
            n = _unpack_size(eng.get(sk)) + 1
            if n == 0:
                eng.delete(sk)
            else:
                eng.put(sk, _pack_size(n))
            return 1
        if old != value:
            eng.put(hk, value)
            self.binlog.add(_HSET, hk)
        elif self.binlog.versions is not None:
            self.binlog.add(_HSET, hk)  # versioned: the write is newer even with the same value
        return 0

    def delete(self, name: bytes, field: bytes) -> int:
        """Remove a field; 1 if it existed, else 0.  > 255-byte name/field: ServerError."""
        if len(name) > _MAX or len(field) > _MAX:
            raise errors.ServerError()
        hk = b"h" + _LEN[len(name)] + name + b"=" + field
        eng = self.engine
        if eng.get(hk) is None:
            if self.binlog.versions is not None:
                self.binlog.add(_HDEL, hk)  # versioned: a tombstone beats older writes elsewhere
            return 0
        eng.delete(hk)
        self.binlog.add(_HDEL, hk)
        self._add_size(name, -1)
        return 1

    def incr(self, name: bytes, field: bytes, by: int) -> int:
        """Add ``by`` to an int64 field (missing = 0); wraps on overflow like ``incr``.

        A stored value that ``stored_int64`` does not read raises
        ServerError("value is not an integer or out of range"); an invalid
        name/field then raises plain ServerError, in SSDB's order.
        """
        old = self.get(name, field)
        if old is None:
            new = by
        else:
            cur = stored_int64(old)
            if cur is None:
                raise errors.ServerError(errors.MSG_NOT_INTEGER)
            new = wrap_int64(cur + by)
        versions = self.binlog.versions
        if versions is None:
            self.set(name, field, str(new).encode())
        else:
            with incrementing(versions, by, old):
                self.set(name, field, str(new).encode())
        return new

    # --- ordered iteration -------------------------------------------------------
    def scan(self, name: bytes, start: bytes, end: bytes, limit: int) -> Iterator[tuple[bytes, bytes]]:
        """Ascending ``(field, value)`` with field in ``(start, end]`` (empty end = unbounded)."""
        if limit <= 0 or len(name) > _MAX:
            return iter(())
        prefix = b"h" + _LEN[len(name)] + name + b"="
        plen = len(prefix)
        it = self.engine.iterate(
            prefix + start,
            (prefix + end) if end else prefix[:-1] + b">",
            include_start=False,
            include_stop=bool(end),
        )
        return ((k[plen:], v) for k, v in islice(it, min(limit, sys.maxsize)))

    def rscan(self, name: bytes, start: bytes, end: bytes, limit: int) -> Iterator[tuple[bytes, bytes]]:
        """Descending ``(field, value)`` with field in ``[end, start)`` (empty start = from the last field).

        Unlike SSDB 1.9.8 (which starts below ``start + b"\\xff"`` when ``start``
        is empty), fields beginning with byte 0xFF are included.
        """
        if limit <= 0 or len(name) > _MAX:
            return iter(())
        prefix = b"h" + _LEN[len(name)] + name + b"="
        plen = len(prefix)
        it = self.engine.iterate(
            prefix + end,
            (prefix + start) if start else prefix[:-1] + b">",
            include_start=True,
            include_stop=False,
            reverse=True,
        )
        return ((k[plen:], v) for k, v in islice(it, min(limit, sys.maxsize)))

    def items(self, name: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(field, value)`` in ascending field order."""
        if len(name) > _MAX:
            return iter(())
        prefix = b"h" + _LEN[len(name)] + name + b"="
        plen = len(prefix)
        it = self.engine.iterate(prefix, prefix[:-1] + b">", include_start=False)
        return ((k[plen:], v) for k, v in it)

    # --- whole-hash operations ----------------------------------------------------
    def clear(self, name: bytes, cooperate: Cooperate = noop) -> int:
        """Delete every field, one ``HDEL`` record each (SSDB's hclear); returns the count.

        One walk over the fields that existed when it started (its iterator's
        snapshot), ``cooperate()`` after every slice of CLEAR_BATCH fields.  When
        ``cooperate`` lets other clients run (it commits this command's writes
        first), what they do to the hash meanwhile stays consistent: a field
        they deleted is skipped (not counted, the size not decremented twice),
        a field they added survives, and the size record counts the fields left.
        """
        if len(name) > _MAX:
            return 0
        prefix = b"h" + _LEN[len(name)] + name + b"="
        eng = self.engine
        get = eng.get
        delete = eng.delete
        add = self.binlog.add
        it = eng.iterate(prefix, prefix[:-1] + b">", include_start=False, keys_only=True)
        total = 0
        while True:
            batch = list(islice(it, CLEAR_BATCH))
            n = 0
            for hk in batch:
                if get(hk) is None:  # deleted by another client while this one yielded
                    continue
                delete(hk)
                add(_HDEL, hk)
                n += 1
            if n:
                self._add_size(name, -n)
                total += n
            if len(batch) < CLEAR_BATCH:
                return total
            cooperate()

    def fix(self, name: bytes) -> int:
        """Recount the fields and rewrite (or delete) the size record; no binlog."""
        if len(name) > _MAX:
            return 0
        prefix = b"h" + _LEN[len(name)] + name + b"="
        n = sum(1 for _ in self.engine.iterate(prefix, prefix[:-1] + b">", include_start=False, keys_only=True))
        sk = b"H" + name
        if n == 0:
            self.engine.delete(sk)
        else:
            self.engine.put(sk, _pack_size(n))
        return n

    def list_names(self, start: bytes, end: bytes, limit: int, reverse: bool = False,
                   cooperate: Cooperate = noop) -> list[bytes]:
        """Hash names in ``(start, end]`` ascending, or descending from ``start`` (exclusive) to ``end``."""
        return list_names(self.engine, keys.HSIZE, start, end, limit, reverse, cooperate)
