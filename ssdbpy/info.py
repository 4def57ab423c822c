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
