"""``ssdb-cli -n info|dbsize|replication|write_read [-w N] [-c N]``: Nagios probes (tools.md §1.6).

Each probe prints one status line on stdout and returns Nagios' exit status:
0 OK, 1 WARN, 2 CRITICAL (3 UNKNOWN for a probe name ssdb-cli does not know,
or a level that is not a size).

``-n dbsize`` levels are **megabytes** (MiB) unless they carry a unit (``K``,
``M``, ``G``, ``T``, optionally followed by ``B``; powers of 1024).  SSDB's
probe compared info's ``dbsize``, which is bytes, with ``-w``/``-c``
(defaults 85 and 95), so any database over 95 bytes was CRITICAL; its
author's example, ``-n dbsize -w 500000 -c 600000``, makes sense as
megabytes (about 500 and 600 GB), and SSDB's 85/95 defaults are kept as MB.
"""

from __future__ import annotations

import re
import time
from typing import TextIO

from ssdbpy.cli.link import Link

OK, WARN, CRITICAL, UNKNOWN = 0, 1, 2, 3
PROBES = ("info", "dbsize", "replication", "write_read")


def _info(link: Link) -> list[bytes]:
    r = link.call(b"info")
    if not r.ok:
        msg = r.code + (b": " + r.message if r.message else b"")
        raise RuntimeError(msg.decode("utf-8", "replace"))
    return r.data


def probe_value(data: list[bytes], name: bytes) -> bytes:
    """The values of info entries called ``name``, joined (SSDB's nagios_probe_check)."""
    ret = b""
    next_val = False
    for s in data[1:]:
        if next_val:
            s = s.replace(b"\n", b"\n\t")
            next_val = False
            ret += s
        if s == name:
            next_val = not next_val
    return ret


_MB = 1024 * 1024
_UNITS = {"k": 1024, "m": _MB, "g": 1024 * _MB, "t": 1024 * 1024 * _MB}
_LEVEL = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]*)?)\s*(?:([kmgtKMGT])[bB]?)?\s*")


def level_bytes(level: str | int) -> float:
    """A ``-w``/``-c`` level of ``-n dbsize`` in bytes: a number of MB, or with a K/M/G/T unit."""
    m = _LEVEL.fullmatch(str(level))
    if m is None:
        raise ValueError(f"invalid dbsize level {level!r}: expected a size in MB, or with a unit (500G, 2T)")
    return float(m.group(1)) * _UNITS[(m.group(2) or "m").lower()]


def _level_text(level: str | int) -> str:
    text = str(level).strip()
    return text + " MB" if text[-1:].isdigit() else text


def run(link: Link, probe: str, warn: str, critical: str, out: TextIO) -> int:
    if probe not in PROBES:
        out.write(f"UNKNOWN: no such probe: {probe} (info, dbsize, replication, write_read)\n")
        return UNKNOWN
    data = _info(link)
    if probe == "info":
        is_val = False
        for s in data[1:]:
            text = s.decode("utf-8", "replace")
            if is_val:
                text = "\t" + text.replace("\n", "\n\t")
            out.write(text + "\n")
            is_val = not is_val
        return OK
    if probe == "dbsize":
        try:
            warn_b, crit_b = level_bytes(warn), level_bytes(critical)
        except ValueError as exc:
            out.write(f"UNKNOWN: {exc}\n")
            return UNKNOWN
        size = int(probe_value(data, b"dbsize") or b"0")
        shown = f"{size / _MB:.1f} MB ({size} bytes)"
        if size > crit_b:
            out.write(f"CRITICAL: dbsize {shown} larger than {_level_text(critical)}\n")
            return CRITICAL
        if size > warn_b:
            out.write(f"WARN: dbsize {shown} larger than {_level_text(warn)}\n")
            return WARN
        out.write(f"OK: dbsize {shown} less than {_level_text(critical)}\n")
        return OK
    if probe == "replication":
        text = probe_value(data, b"replication").decode("utf-8", "replace").replace("slaveof", "\nslaveof")
        if text.find("DISCONNECTED") > 0:
            out.write("CRITICAL: " + text + "\n")
            return CRITICAL
        if text.find("COPY") > 0 or text.find("INIT") > 0 or text.find("OUT_OF_SYNC") > 0:
            out.write("WARN: " + text + "\n")
            return WARN
        if text.find("SYNC") > 0:
            out.write("OK: " + text + "\n")
            return OK
        out.write("WARN, is replication configured? Status: " + text + "\n")
        return WARN
    # write_read
    key = b"write_read_test_key" + time.strftime("%Y%m%d%H%M").encode()
    link.call(b"set", key, key)
    r = link.call(b"get", key)
    link.call(b"del", key)
    value = r.data if r.ok and isinstance(r.data, bytes) else r.code
    if value == key:
        out.write("OK: " + value.decode() + "\n")
        return OK
    out.write("WRITE_READ failed: " + value.decode("utf-8", "replace") + "\n")
    return CRITICAL
