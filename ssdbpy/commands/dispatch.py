"""Request dispatch: auth, lookup, readonly, arity, run, stats (SSDB's order)."""

from __future__ import annotations

import logging
import traceback
from time import monotonic, perf_counter

from ssdbpy import errors
from ssdbpy.commands.context import Context
from ssdbpy.commands.registry import COMMANDS, Command

log = logging.getLogger("ssdbpy.dispatch")

_NOAUTH = [errors.NOAUTH, errors.MSG_AUTH_REQUIRED]
_SERVER_ERROR = [errors.ERROR, b"server error"]
#: a write on a replica with server.replica_read_only (RESP: ``-READONLY …``, protocol/reply.py)
_READONLY_REPLICA = [errors.CLIENT_ERROR, errors.MSG_READONLY_REPLICA]

#: a failure site's traceback is logged once; repeats log one line at most this often (s)
REPEAT_INTERVAL = 10.0
#: (command, exception type, file, line) -> [time of the last line logged, repeats not yet logged]
_failures: dict[tuple, list] = {}
_MAX_SITES = 1000


def _log_failure(name: bytes, exc: BaseException) -> None:
    """Log an unexpected exception of command ``name`` without letting clients flood the log.

    The first failure at a site (command, exception type, raising line) is
    logged with its traceback; later ones at the same site are counted and
    summed up in one line at most every :data:`REPEAT_INTERVAL` seconds.
    """
    tb = traceback.extract_tb(exc.__traceback__)
    where = (tb[-1].filename, tb[-1].lineno) if tb else ("?", 0)
    site = (name, type(exc).__name__, *where)
    now = monotonic()
    seen = _failures.get(site)
    if seen is None:
        if len(_failures) >= _MAX_SITES:
            _failures.clear()
        _failures[site] = [now, 0]
        log.error("command %r failed", name, exc_info=exc)
        return
    seen[1] += 1
    if now - seen[0] >= REPEAT_INTERVAL:
        log.error("command %r failed again: %s: %s (%d times since the last report, at %s:%d)",
                  name, type(exc).__name__, exc, seen[1], where[0], where[1])
        seen[0], seen[1] = now, 0


def execute(ctx: Context, args: list[bytes], queued: float = 0.0):
    """Run one request; returns reply blocks, or a registry.Backend for backend commands.

    ``queued``: the perf_counter() time the request was set aside to run later
    (on the connection's greenlet), counted as its ``time_wait``; 0 if it was not.
    """
    name = args[0]
    if not ctx.authed and name != b"auth":
        return _NOAUTH
    cmd = COMMANDS.get(name)
    if cmd is None:
        return [errors.CLIENT_ERROR, errors.MSG_UNKNOWN_COMMAND + name]
    return run(ctx, cmd, args, queued)


def run(ctx: Context, cmd: Command, args: list[bytes], queued: float = 0.0):
    """:func:`execute` for a request whose command the caller looked up (``args[0]`` is its name).

    Every request that reaches a known command counts in its ``calls``, as in
    SSDB (a write refused on a readonly server too).  ``time_wait`` (ms) is the
    time the request waited before its handler ran: set aside for the
    connection's greenlet (``queued``) or held at the write gate (flushdb);
    ``time_proc`` (ms) the handler's time.  A request whose wait plus
    processing reaches ``server.slowlog_timeout`` goes to the slow log.
    """
    if not ctx.authed and cmd.name != b"auth":
        return _NOAUTH
    is_write = cmd.is_write
    if is_write and (ctx.server.readonly or ctx.server.replica_refuses):
        if ctx.server.readonly:
            cmd.calls += 1
            return [errors.CLIENT_ERROR, errors.MSG_FORBIDDEN_COMMAND + cmd.name]
        if cmd.name != b"slaveof":  # a read-only replica can still be pointed at another master
            cmd.calls += 1
            return _READONLY_REPLICA
    if len(args) < cmd.arity:
        cmd.calls += 1
        return cmd.arity_error().blocks()
    if is_write:
        gate = ctx.server.write_gate
        if gate.held and gate.owner is not ctx:  # (a transaction holding it runs its own writes)
            queued = queued or perf_counter()
            gate.wait()  # flushdb runs: the connection brought this request to its greenlet
        sp = ctx.savepoint = ctx.db.savepoint()
    else:
        sp = ctx.savepoint = None
    t0 = perf_counter()
    try:
        reply = cmd.handler(ctx, args)
    except errors.SSDBError as exc:
        reply = exc.blocks()
    except Exception as exc:
        # a bug or a storage failure: undo this command's staged writes
        _log_failure(cmd.name, exc)
        if sp is not None:
            # the savepoint moves on when a long command commits and yields between
            # slices (Context.cooperate): the other connections' writes are never undone
            ctx.db.rollback(ctx.savepoint)
        reply = _SERVER_ERROR
    if sp is not None:
        seq = ctx.db.binlog.last_seq
        if seq != sp[1]:
            ctx.write_seq = seq  # WAIT waits for this position
    cmd.calls += 1
    proc = (perf_counter() - t0) * 1000.0
    cmd.time_proc += proc
    if queued or proc >= ctx.server.slowlog.threshold:
        _waited_or_slow(ctx, cmd, args, (t0 - queued) * 1000.0 if queued else 0.0, proc, reply)
    return reply


def _waited_or_slow(ctx: Context, cmd: Command, args: list[bytes], wait: float, proc: float, reply) -> None:
    """The rest of :func:`run`'s accounting for a request that waited or was slow (times in ms)."""
    cmd.time_wait += wait
    slow = ctx.server.slowlog
    if wait + proc >= slow.threshold:
        ip = ctx.peer_ip
        client = ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, ctx.peer_port)
        slow.record(args, wait, proc, client.encode(), reply)
