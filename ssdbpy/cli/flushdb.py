"""ssdb-cli's ``flushdb [kv|hash|zset|list]`` procedure, as SSDB 1.9.8's (tools.md §1.5).

Refused while the server replicates; otherwise asks for ``yes``, then (without
a type) calls the server's flushdb and, in every case, deletes client-side in
batches of 1000, prints the counts, clears the binlog and compacts.
"""

from __future__ import annotations

from typing import Callable, TextIO

from ssdbpy.cli.link import Link

BATCH = 1000
TYPES = (b"", b"kv", b"hash", b"zset", b"list")

DANGER = """
============================ DANGER! ============================
This operation is DANGEROUS and is not recoverable, if you
really want to flush the whole db(delete ALL data in ssdb server),
input 'yes' and press Enter, or just press Enter to cancel

flushdb will break replication states, you must fully understand
the RISK before you doing this!

"""


class FlushdbError(Exception):
    pass


def _int(v: object) -> int:
    return v if isinstance(v, int) else 0


def flushdb(link: Link, data_type: bytes, out: TextIO, ask: Callable[[str], bytes]) -> None:
    """Raises :class:`FlushdbError` (printed by the shell as ``error! - <message>``)."""
    r = link.call(b"info")
    data = r.data if r.ok and isinstance(r.data, list) else []
    for i in range(1, len(data), 2):
        if data[i] == b"replication":
            raise FlushdbError("flushdb is not allowed when replication is in use!")
    if data_type not in TYPES:
        raise FlushdbError(f"unknown type: {data_type.decode('utf-8', 'replace')} (kv, hash, zset or list)")
    out.write(DANGER)
    answer = ask("> flushdb? ").strip()
    if answer != b"yes":
        out.write("Operation cancelled.\n\n")
        return
    out.write("Begin to flushdb...\n\n")
    out.flush()
    every = data_type == b""
    if every:
        r = link.call(b"flushdb")
        if not r.ok and r.code != b"client_error":
            raise FlushdbError((r.message or r.code).decode("utf-8", "replace"))

    d_kv = 0
    if every or data_type == b"kv":
        while True:
            r = link.call(b"keys", b"", b"", b"%d" % BATCH)
            if not r.ok or not r.data:
                break
            d_kv += len(r.data)
            link.call(b"multi_del", *r.data)
            out.write("delete[kv  ] %d key(s).\n" % d_kv)

    counts = {}
    for t, list_cmd, clear_cmd, label in ((b"hash", b"hlist", b"hclear", "hash"),
                                          (b"zset", b"zlist", b"zclear", "zset"),
                                          (b"list", b"qlist", b"qclear", "list")):
        n_names = n_keys = 0
        if every or data_type == t:
            while True:
                r = link.call(list_cmd, b"", b"", b"%d" % BATCH)
                if not r.ok or not r.data:
                    break
                last = 0
                for name in r.data:
                    n_names += 1
                    n_keys += _int(link.call(clear_cmd, name).data)
                    if n_keys - last >= BATCH:
                        last = n_keys
                        out.write("delete[%s] %d %s(s), %d key(s).\n" % (label, n_names, label, n_keys))
            out.write("delete[%s] %d %s(s), %d key(s).\n" % (label, n_names, label, n_keys))
        counts[t] = (n_names, n_keys)

    out.write("\n===== flushdb stats =====\n")
    if every or data_type == b"kv":
        out.write("[kv]   %8d key(s).\n" % d_kv)
    for t, label in ((b"hash", "hash"), (b"zset", "zset"), (b"list", "list")):
        if every or data_type == t:
            out.write("[%s] %8d %s(s), %8d key(s).\n" % (label, counts[t][0], label, counts[t][1]))
    out.write("\n")
    out.write("clear binlog\n")
    link.call(b"clear_binlog")
    out.write("\n")
    out.write("compacting...\n")
    out.flush()
    link.call(b"compact")
    out.write("done.\n\n")
    out.flush()
