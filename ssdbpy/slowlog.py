"""The slow log: requests that took at least ``server.slowlog_timeout`` ms (pure: no IO but the log line).

SSDB 1.9.8 compares ``time_wait + time_proc`` of each request with
``slowlog_timeout`` (milliseconds) and logs the slow ones at WARN, in this
line format (src/net/server.cpp ``proc_result``, ``serialize_req`` in
src/net/proc.h)::

    slowlog w:0.002,p:12.345, req: multi_set k1 v1 k2 v2 [96 more...], resp: ok 50

ssdbpy writes the same line (SSDB writes it only when ``logger.level`` is
debug or trace; ssdbpy whatever the level, as SSDB's ssdb.conf documents it)
and also keeps the last ``server.slowlog_max_len`` entries (128 by default)
in memory for the ``slowlog`` command, with Redis's SLOWLOG truncation: at
most :data:`MAX_ARGS` arguments (the last one then says ``... (N more
arguments)``) and :data:`MAX_ARG_BYTES` bytes per argument (followed by
``... (N more bytes)``).

Times: ``wait_ms``/``proc_ms`` are milliseconds (floats), an entry's
``duration_us`` is their sum in whole microseconds, ``time`` whole Unix
seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass

from ssdbpy.info import escape

log = logging.getLogger("ssdbpy.slowlog")

MAX_ARGS = 32  # Redis's SLOWLOG_ENTRY_MAX_ARGC
MAX_ARG_BYTES = 128  # Redis's SLOWLOG_ENTRY_MAX_STRING
DEFAULT_MAX_LEN = 128  # Redis's slowlog-max-len default


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    time: int  # Unix seconds
    duration_us: int
    args: tuple[bytes, ...]  # truncated as Redis does
    client: bytes  # b"ip:port"
    name: bytes = b""  # client name (ssdbpy has none: always empty)


def truncate_args(args: list[bytes]) -> tuple[bytes, ...]:
    """Redis's slowlogCreateEntry: at most MAX_ARGS arguments, each cut at MAX_ARG_BYTES bytes."""
    argc = len(args)
    n = min(argc, MAX_ARGS)
    out = []
    for j in range(n):
        if n != argc and j == n - 1:
            out.append(b"... (%d more arguments)" % (argc - n + 1))
            break
        a = args[j]
        if len(a) > MAX_ARG_BYTES:
            a = a[:MAX_ARG_BYTES] + b"... (%d more bytes)" % (len(a) - MAX_ARG_BYTES)
        out.append(bytes(a))
    return tuple(out)


def serialize(blocks) -> str:
    """SSDB's serialize_req: blocks escaped and space-separated, ``""`` for an empty one,
    ``[N]`` for a block of 50 bytes or more, ``[N more...]`` after the fifth of a long list."""
    parts = []
    size = len(blocks)
    for i, b in enumerate(blocks):
        if 5 <= i < size - 1:
            parts.append(b"[%d more...]" % (size - i))
            break
        if len(b) >= 50:
            parts.append(b"[%d]" % len(b))
        else:
            parts.append(escape(b) if b else b'""')
    return b" ".join(parts).decode("latin-1")


class SlowLog:
    """A bounded ring of :class:`Entry`, newest first, and the WARN line for each slow request.

    ``threshold`` is what the dispatcher compares (ms; ``inf`` when
    ``slowlog_timeout`` is 0, i.e. off).  ``max_len`` 0 keeps no entries but
    still logs the line.
    """

    __slots__ = ("threshold", "max_len", "entries", "next_id")

    def __init__(self, timeout_ms: float = 0.0, max_len: int = DEFAULT_MAX_LEN) -> None:
        self.threshold = timeout_ms if timeout_ms > 0 else math.inf
        self.max_len = max_len
        self.entries: deque[Entry] = deque(maxlen=max_len)
        self.next_id = 0

    @property
    def timeout_ms(self) -> float:
        return 0.0 if self.threshold == math.inf else self.threshold

    def record(self, args: list[bytes], wait_ms: float, proc_ms: float, client: bytes, reply=None) -> Entry:
        """Note one slow request (``reply``: its blocks, for the log line; None when it has none)."""
        entry = Entry(self.next_id, int(time.time()), int((wait_ms + proc_ms) * 1000), truncate_args(args), client)
        self.next_id += 1
        if self.max_len > 0:
            self.entries.appendleft(entry)
        log.warning("slowlog w:%.3f,p:%.3f, req: %s, resp: %s", wait_ms, proc_ms, serialize(args),
                    serialize(reply) if isinstance(reply, list) else "")
        return entry

    def get(self, count: int = 10) -> list[Entry]:
        """The ``count`` newest entries, newest first (-1: all)."""
        if count < 0:
            return list(self.entries)
        return list(self.entries)[:count]

    def __len__(self) -> int:
        return len(self.entries)

    def reset(self) -> None:
        self.entries.clear()
