"""Request dispatch: auth, lookup, readonly, arity, run, stats (SSDB's order)."""

from __future__ import annotations

import logging
from time import perf_counter

from ssdbpy import errors
from ssdbpy.commands.context import Context
from ssdbpy.commands.registry import COMMANDS, Command

log = logging.getLogger("ssdbpy.dispatch")

_NOAUTH = [errors.NOAUTH, errors.MSG_AUTH_REQUIRED]
_SERVER_ERROR = [errors.ERROR, b"server error"]


def execute(ctx: Context, args: list[bytes]):
    """Run one request; returns reply blocks, or a registry.Backend for backend commands."""
    name = args[0]
    if not ctx.authed and name != b"auth":
        return _NOAUTH
    cmd = COMMANDS.get(name)
    if cmd is None:
        return [errors.CLIENT_ERROR, errors.MSG_UNKNOWN_COMMAND + name]
    return run(ctx, cmd, args)


def run(ctx: Context, cmd: Command, args: list[bytes]):
    """:func:`execute` for a request whose command the caller looked up (``args[0]`` is its name)."""
    if not ctx.authed and cmd.name != b"auth":
        return _NOAUTH
    is_write = cmd.is_write
    if is_write and ctx.server.readonly:
        return [errors.CLIENT_ERROR, errors.MSG_FORBIDDEN_COMMAND + cmd.name]
    if len(args) < cmd.arity:
        cmd.calls += 1
        return cmd.arity_error().blocks()
    if is_write:
        gate = ctx.server.write_gate
        if gate.held:
            gate.wait()  # flushdb runs: the connection brought this request to its greenlet
        sp = ctx.savepoint = ctx.db.savepoint()
    else:
        sp = ctx.savepoint = None
    t0 = perf_counter()
    try:
        reply = cmd.handler(ctx, args)
    except errors.SSDBError as exc:
        reply = exc.blocks()
    except Exception:
        # a bug or a storage failure: undo this command's staged writes
        log.exception("command %r failed", cmd.name)
        if sp is not None:
            # the savepoint moves on when a long command commits and yields between
            # slices (Context.cooperate): the other connections' writes are never undone
            ctx.db.rollback(ctx.savepoint)
        reply = _SERVER_ERROR
    cmd.calls += 1
    cmd.time_proc += (perf_counter() - t0) * 1000.0
    return reply
