"""The ``info`` reply in SSDB 1.9.8's exact layout (pure: data in, blocks out)."""

from __future__ import annotations

from dataclasses import dataclass, field

VERSION = b"1.9.8"

_ESC = {0x0D: b"\\r", 0x0A: b"\\n", 0x09: b"\\t", 0x5C: b"\\\\"}


def escape(data: bytes) -> bytes:
    """SSDB's escaper: printable ASCII as is, ``\\r \\n \\t \\\\`` escaped, other bytes ``\\xNN``."""
    out = bytearray()
    for b in data:
        e = _ESC.get(b)
        if e is not None:
            out += e
        elif 0x20 <= b < 0x7F:
            out.append(b)
        else:
            out += b"\\x%02x" % b
    return bytes(out)


def key_range_text(kv: tuple[bytes, bytes], hash_: tuple[bytes, bytes] = (b"", b""),
                   zset: tuple[bytes, bytes] = (b"", b""), queue: tuple[bytes, bytes] = (b"", b"")) -> bytes:
    def line(label: bytes, r: tuple[bytes, bytes]) -> bytes:
        return b'    ' + label + b': "' + escape(r[0]) + b'" - "' + escape(r[1]) + b'"'

    return b"\n".join((line(b"kv  ", kv), line(b"hash", hash_), line(b"zset", zset), line(b"list", queue)))


@dataclass
class InfoData:
    links: int
    total_calls: int
    dbsize: int
    binlogs: bytes
    serv_key_range: bytes
    replication: list[bytes] = field(default_factory=list)
    data_key_range: bytes | None = None
    leveldb_stats: bytes | None = None
    cmds: list[tuple[bytes, bytes]] | None = None
    #: ssdbpy's own fields (docs/compat.md), after every SSDB field
    extra: list[tuple[bytes, bytes]] = field(default_factory=list)


def render(d: InfoData) -> list[bytes]:
    out = [
        b"ok",
        b"ssdb-server",
        b"version", VERSION,
        b"links", str(d.links).encode(),
        b"total_calls", str(d.total_calls).encode(),
        b"dbsize", str(d.dbsize).encode(),
        b"binlogs", d.binlogs,
    ]
    for block in d.replication:
        out += (b"replication", block)
    out += (b"serv_key_range", d.serv_key_range)
    if d.data_key_range is not None:
        out += (b"data_key_range", d.data_key_range)
    if d.leveldb_stats is not None:
        out += (b"leveldb.stats", d.leveldb_stats)
    if d.cmds is not None:
        for name, text in d.cmds:
            out += (b"cmd." + name, text)
    for name, text in d.extra:
        out += (name, text)
    return out


@dataclass
class ProcessStats:
    """What an operator needs beside SSDB's fields; each becomes one ``name value`` pair."""

    version: str  # ssdbpy's own version
    uptime_s: int
    rss_bytes: int
    clients: int
    commands: int
    ops_per_sec: int

    def fields(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ssdbpy_version", self.version.encode()),
            (b"uptime_in_seconds", b"%d" % self.uptime_s),
            (b"used_memory_rss", b"%d" % self.rss_bytes),
            (b"connected_clients", b"%d" % self.clients),
            (b"total_commands_processed", b"%d" % self.commands),
            (b"instantaneous_ops_per_sec", b"%d" % self.ops_per_sec),
        ]


def cmd_text(calls: int, time_wait: float, time_proc: float) -> bytes:
    return b"calls: %d\ttime_wait: %.0f\ttime_proc: %.0f" % (calls, time_wait, time_proc)


# --- Redis's INFO layout, for RESP clients (ssdbpy addition: docs/compat.md, "INFO over RESP") ---

#: the sections ssdbpy fills, in Redis's order (``ssdb`` last: SSDB's own figures)
REDIS_SECTIONS = ("server", "clients", "memory", "stats", "replication", "keyspace", "ssdb")
#: what ``INFO`` and ``INFO default`` show (Redis's default set, less the sections ssdbpy has none of)
REDIS_DEFAULT = ("server", "clients", "memory", "stats", "replication", "keyspace")
#: the words that select sections besides their names
REDIS_ALL_WORDS = (b"all", b"everything", b"default")

Fields = list[tuple[str, object]]


def redis_wanted(args: list[bytes]) -> list[str] | None:
    """The sections ``INFO [section ...]`` asks for, in Redis's order; None if an argument is no Redis word.

    ``all``/``everything`` select every section, ``default`` (or no argument)
    :data:`REDIS_DEFAULT`; names are case-insensitive.  Redis answers an
    unknown section with an empty text; ssdbpy passes such requests to SSDB's
    ``info`` instead (None), which takes any argument (``cmd``, ``range``, …).
    """
    if not args:
        return list(REDIS_DEFAULT)
    chosen: set[str] = set()
    for a in args:
        w = a.lower()
        if w in (b"all", b"everything"):
            chosen.update(REDIS_SECTIONS)
        elif w == b"default":
            chosen.update(REDIS_DEFAULT)
        elif w.decode("latin-1") in REDIS_SECTIONS:
            chosen.add(w.decode("latin-1"))
        else:
            return None
    return [s for s in REDIS_SECTIONS if s in chosen]


def redis_render(sections: list[tuple[str, Fields]]) -> bytes:
    """Redis's INFO text: ``# Title`` then ``name:value`` lines, CRLF ends, an empty line between sections."""
    parts = []
    for title, fields in sections:
        lines = [b"# " + title.encode()]
        for k, v in fields:
            lines.append(k.encode() + b":" + (v if isinstance(v, bytes) else str(v).encode()))
        parts.append(b"\r\n".join(lines) + b"\r\n")
    return b"\r\n".join(parts)


def human_bytes(n: int) -> str:
    """Redis's ``bytesToHuman``: ``895.34K``, ``11.60M``, ``123B``."""
    for unit, size in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return "%.2f%s" % (n / size, unit)
    return "%dB" % n
