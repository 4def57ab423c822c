"""Server, security, maintenance and backend commands (SSDB 1.9.8 proc_sys and net/server)."""

from __future__ import annotations

import os
import re
import time
from itertools import islice

from ssdbpy import __version__, errors, info
from ssdbpy.cnum import uint64
from ssdbpy.commands.registry import (
    BACKEND,
    COMMANDS,
    READ,
    READ_INLINE,
    WRITE,
    WRITE_INLINE,
    Backend,
    client_error_bare,
    command,
)
from ssdbpy.commands.pacing import always
from ssdbpy.db.slices import STEP
from ssdbpy.db.zset import list_names
from ssdbpy.storage import keys

OK = errors.OK
OK_ONLY = [OK]
OK1 = [OK, b"1"]
LOCALHOSTS = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@command("ping", 1, READ_INLINE)
def ping(ctx, args):
    return OK_ONLY


@command("version", 1, READ_INLINE)
def version(ctx, args):
    return [OK, info.VERSION]


@command("auth", 2, READ_INLINE, arity_error=client_error_bare)
def auth(ctx, args):
    if len(args) != 2:
        raise errors.ClientError()
    pw = ctx.server.passwords
    if not pw or args[1] in pw:
        ctx.authed = True
        return OK1
    raise errors.ServerError(errors.MSG_INVALID_PASSWORD)


def dbsize_bytes(db) -> int:
    return db.engine.approximate_size(b"A", b"{")


@command("dbsize", 1, READ)
def dbsize(ctx, args):
    return [OK, str(dbsize_bytes(ctx.db)).encode()]


def _size_range(db, prefix: bytes) -> tuple[bytes, bytes]:
    first = list_names(db.engine, prefix, b"", b"", 1, False)
    last = list_names(db.engine, prefix, b"", b"", 1, True)
    return (first[0] if first else b""), (last[0] if last else b"")


@command("info", 1, READ)
def info_(ctx, args):
    srv = ctx.server
    db = ctx.db
    arg = args[1] if len(args) > 1 else None
    kr = srv.kv_range
    d = info.InfoData(
        links=srv.links,
        total_calls=srv.total_calls(),
        dbsize=dbsize_bytes(db),
        binlogs=db.binlog.info_text(),
        serv_key_range=info.key_range_text((kr.start, kr.end)),
        replication=srv.repl.info_blocks() if srv.repl is not None else [],
    )
    # as SSDB: "range" and "leveldb" each add their own block, a bare info both, "cmd" neither
    if arg is None or arg == b"range":
        d.data_key_range = info.key_range_text(
            db.kv.first_last(),
            _size_range(db, keys.HSIZE),
            _size_range(db, keys.ZSIZE),
            _size_range(db, keys.QSIZE),
        )
    if arg is None or arg == b"leveldb":
        d.leveldb_stats = db.engine.property(b"leveldb.stats")
    if arg == b"cmd":
        d.cmds = [(c.name, info.cmd_text(c.calls, c.time_wait, c.time_proc)) for c in COMMANDS.values()]
    d.extra = info.ProcessStats(
        version=__version__,
        uptime_s=int(time.time() - srv.start_time),
        rss_bytes=rss_bytes(),
        clients=srv.links,
        commands=d.total_calls,
        ops_per_sec=round(srv.ops_per_sec),
    ).fields()
    return info.render(d)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The process's resident set size now (Linux /proc/self/statm; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


# --- slow log (ssdbpy addition) ---------------------------------------------------------
_SLOWLOG_HELP = [
    b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"GET [<count>]",
    b"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    b"    Entries are made of:",
    b"    id, timestamp, time in microseconds, arguments array, client IP and port,",
    b"    client name",
    b"LEN",
    b"    Return the length of the slowlog.",
    b"RESET",
    b"    Reset the slowlog.",
    b"HELP",
    b"    Print this help.",
]
MSG_SLOWLOG_COUNT = b"count should be greater than or equal to -1"
_COUNT = re.compile(rb"-?[0-9]{1,18}")  # Redis's string2ll, within a long


@command("slowlog", 2, READ_INLINE)
def slowlog(ctx, args):
    """``slowlog get [count]``, ``slowlog len``, ``slowlog reset``, ``slowlog help`` (docs/commands.md).

    ``get`` replies ``ok`` then, per entry (newest first), ``id``, ``time``
    (Unix seconds), ``duration`` (microseconds: wait + processing), the client
    ``ip:port``, the number of arguments and the arguments (Redis's truncation:
    32 at most, 128 bytes each).  ``count``: 10 by default, -1 for all.
    """
    sub = args[1].lower()
    n = len(args)
    log = ctx.server.slowlog
    if sub == b"get" and n <= 3:
        count = 10
        if n == 3:
            if not _COUNT.fullmatch(args[2]) or int(args[2]) < -1:
                raise errors.ClientError(MSG_SLOWLOG_COUNT)
            count = int(args[2])
        out = [OK]
        for e in log.get(count):
            out += (b"%d" % e.id, b"%d" % e.time, b"%d" % e.duration_us, e.client, b"%d" % len(e.args), *e.args)
        return out
    if sub == b"len" and n == 2:
        return [OK, b"%d" % len(log)]
    if sub == b"reset" and n == 2:
        log.reset()
        return OK_ONLY
    if sub == b"help" and n == 2:
        return [OK, *_SLOWLOG_HELP]
    raise errors.ClientError(
        b"unknown subcommand or wrong number of arguments for '%s'. Try SLOWLOG HELP." % args[1][:128])


@command("compact", 1, READ, blocking=True)
def compact(ctx, args):
    ctx.server.run_blocking(ctx.db.engine.compact)
    return OK_ONLY


@command("clear_binlog", 1, WRITE)
def clear_binlog(ctx, args):
    ctx.db.binlog.clear()
    return OK_ONLY


@command("flushdb", 1, WRITE, long=always)
def flushdb(ctx, args):
    """Delete every key of the data db (binlog included), in slices that let other clients run.

    Semantics with concurrent clients, as SSDB (which runs flushdb in its one
    writer thread): reads see the data shrinking meanwhile; writes wait.  The
    write gate is held from start to end: write requests arriving meanwhile
    wait on their connection's greenlet (dispatch.run), and a long write
    already running (hclear...) pauses at its next slice, so no write
    interleaves with the deletes.  Every slice is committed (by the group
    commit's writer thread) before flushdb yields.  The walk is one iterator
    over the db as it was when flushdb started, which, writes being held, is
    everything there is; the writes waiting behind the gate run after the last
    slice and all survive.
    """
    srv = ctx.server
    if srv.repl is not None and srv.repl.in_use():
        raise errors.ServerError(errors.MSG_FLUSHDB_REPL)
    gate = srv.write_gate
    gate.hold(ctx)
    try:
        ctx.cooperate()  # the writes staged before it committed off the loop
        engine = ctx.db.engine
        ctx.db.binlog.save_marker()
        delete = engine.delete
        it = engine.iterate(keys_only=True)
        while True:
            chunk = list(islice(it, STEP))
            for k in chunk:
                delete(k)
            if len(chunk) < STEP:
                break
            ctx.cooperate()
    finally:
        gate.release()
    return OK_ONLY


# --- ip filter (localhost only) -------------------------------------------------
def _local_only(ctx) -> None:
    if ctx.peer_ip not in LOCALHOSTS:
        raise errors.NoAuthError(errors.MSG_LOCALHOST_ONLY)


@command("list_allow_ip", 1, READ_INLINE)
def list_allow_ip(ctx, args):
    _local_only(ctx)
    return [OK] + ctx.server.ipfilter.list_allow()


@command("list_deny_ip", 1, READ_INLINE)
def list_deny_ip(ctx, args):
    _local_only(ctx)
    return [OK] + ctx.server.ipfilter.list_deny()


def _ip_op(ctx, args, op: str):
    _local_only(ctx)
    if len(args) != 2:
        raise errors.ClientError()
    getattr(ctx.server.ipfilter, op)(args[1].decode("latin-1"))
    return OK_ONLY


@command("add_allow_ip", 2, READ_INLINE, arity_error=client_error_bare)
def add_allow_ip(ctx, args):
    return _ip_op(ctx, args, "add_allow")


@command("del_allow_ip", 2, READ_INLINE, arity_error=client_error_bare)
def del_allow_ip(ctx, args):
    return _ip_op(ctx, args, "del_allow")


@command("add_deny_ip", 2, READ_INLINE, arity_error=client_error_bare)
def add_deny_ip(ctx, args):
    return _ip_op(ctx, args, "add_deny")


@command("del_deny_ip", 2, READ_INLINE, arity_error=client_error_bare)
def del_deny_ip(ctx, args):
    return _ip_op(ctx, args, "del_deny")


# --- kv key range --------------------------------------------------------------
_RANGE_HASH = b"key_range"


def load_kv_range(server) -> None:
    """Read the persisted kv range from the meta db into ``server.kv_range``."""
    meta = server.db.meta
    kr = server.kv_range
    kr.start = meta.get(keys.encode_hash(_RANGE_HASH, kr.FIELD_S)) or b""
    kr.end = meta.get(keys.encode_hash(_RANGE_HASH, kr.FIELD_E)) or b""


def _range_reply(ctx):
    kr = ctx.server.kv_range
    return [OK, kr.start, kr.end]


@command("get_key_range", 1, READ_INLINE)
def get_key_range(ctx, args):
    return _range_reply(ctx)


@command("get_kv_range", 1, READ_INLINE)
def get_kv_range(ctx, args):
    return _range_reply(ctx)


@command("set_kv_range", 3, READ_INLINE, arity_error=client_error_bare)
def set_kv_range(ctx, args):
    if len(args) != 3:
        raise errors.ClientError()
    kr = ctx.server.kv_range
    meta = ctx.db.meta
    kr.start, kr.end = args[1], args[2]
    # stored as SSDB does: an ordinary hash in the meta db
    size_key = keys.encode_hsize(_RANGE_HASH)
    meta.put(keys.encode_hash(_RANGE_HASH, kr.FIELD_S), kr.start)
    meta.put(keys.encode_hash(_RANGE_HASH, kr.FIELD_E), kr.end)
    meta.put(size_key, keys.pack_i64le(2))
    meta.commit()
    return OK_ONLY


@command("ignore_key_range", 1, READ_INLINE)
def ignore_key_range(ctx, args):
    ctx.ignore_key_range = True
    return OK_ONLY


# --- replication entry points ----------------------------------------------------
@command("slaveof", 4, WRITE_INLINE, blocking=True)
def slaveof(ctx, args):
    repl = ctx.server.repl
    if repl is None:
        raise errors.ServerError(b"replication is not available")
    opt = args[4:] + [b""] * (7 - len(args))
    auth_, last_seq, last_key = opt[0], opt[1], opt[2]
    repl.slaveof(
        args[1].decode("latin-1"),
        args[2].decode("latin-1"),
        int(uint64(args[3])),
        auth_.decode("latin-1") or None,
        uint64(last_seq) if last_seq else None,
        last_key if last_key else None,
    )
    from ssdbpy.commands.redis_cmds import refresh_replica_refusal  # (redis_cmds imports this module)

    refresh_replica_refusal(ctx.server)
    return OK_ONLY


@command("dump", 1, BACKEND)
def dump(ctx, args):
    """Stream ``(start, end]`` of the data db from one snapshot (commands.md §6.1).

    ssdbpy extension: a fifth block ``binlog_seq`` (SSDB ignores blocks after
    the limit) turns the first packet into ``["begin", "<seq>"]``, where seq
    is the binlog max_seq that the snapshot contains ("0" when the binlog is
    off: the snapshot has no usable replication position).  Without it the
    stream is SSDB's byte for byte.
    """
    start = args[1] if len(args) > 1 and args[1] else b"A"
    end = args[2] if len(args) > 2 else b""
    limit = uint64(args[3]) if len(args) > 3 else 10
    want_seq = len(args) > 4 and args[4] == b"binlog_seq"
    db = ctx.db

    def run(link) -> None:
        from ssdbpy.protocol.ssdb import encode_ssdb

        snap = db.engine.snapshot()
        # read at the same instant as the snapshot (no yield in between): every
        # record up to seq is in the snapshot, none after it
        seq = db.binlog.committed_seq if db.binlog.enabled else 0
        it = db.engine.iterate(start, end or None, include_start=False, include_stop=True, snapshot=snap)
        try:
            link.send(encode_ssdb([b"begin", str(seq).encode()] if want_seq else [b"begin"]))
            n = 0
            buf: list[bytes] = []
            size = 0
            for k, v in it:
                if n >= limit:
                    break
                rec = encode_ssdb([b"set", k, v])
                buf.append(rec)
                size += len(rec)
                n += 1
                if size >= 65536:
                    link.send(b"".join(buf))
                    buf.clear()
                    size = 0
                    link.cooperate()  # a long dump never starves the other connections
            buf.append(encode_ssdb([b"end", str(n).encode()]))
            link.send(b"".join(buf))
        finally:
            it.close()
            snap.close()
        link.wait_closed()

    return Backend(run, kind="dump")
