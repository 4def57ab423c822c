"""Redis's replication commands (ssdbpy additions): ``SLAVEOF``/``REPLICAOF host port``,
``SLAVEOF NO ONE``, ``ROLE`` and ``WAIT numreplicas timeout``, with Redis 7.0's replies.

``SLAVEOF`` with SSDB's arguments (``slaveof id host port [auth last_seq last_key]``)
stays SSDB's command; with two arguments it is Redis's (the translator sends it here).
``WAIT`` blocks only the connection's greenlet (the connection holds it there).
"""

from __future__ import annotations

from ssdbpy.commands import redis_info
from ssdbpy.commands.redis_cmds import refresh_replica_refusal, wrong_args
from ssdbpy.protocol import respw

_OK = b"+OK\r\n"
_NO_REPL = b"-ERR replication is not available\r\n"


def _int(text: bytes) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def slaveof(ctx, args: list[bytes], proto: int) -> bytes:
    """``SLAVEOF host port`` / ``SLAVEOF NO ONE`` (also ``REPLICAOF``)."""
    name = args[0].lower()
    if len(args) != 3:
        return wrong_args(name)
    srv = ctx.server
    repl = srv.repl
    if repl is None:
        return _NO_REPL
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        repl.promote()
        refresh_replica_refusal(srv)
        return _OK
    port = _int(args[2])
    if port is None:
        return respw.error(b"ERR value is not an integer or out of range")
    if not 0 < port < 65536:
        return respw.error(b"ERR Invalid master port")
    host = args[1].decode("latin-1")
    current = repl.sync_slaves()
    if len(current) == 1 and (current[0].cfg.host, current[0].cfg.port) == (host, port):
        return b"+OK Already connected to specified master\r\n"
    repl.replicaof(host, port)
    refresh_replica_refusal(srv)
    return _OK


#: ROLE's slave states: sync140 link state -> Redis's word
_ROLE_STATES = {"DISCONNECTED": b"connect", "INIT": b"connecting", "COPY": b"sync", "SYNC": b"connected",
                "OUT_OF_SYNC": b"connect"}


def role(ctx, args: list[bytes], proto: int) -> bytes:
    if len(args) != 1:
        return wrong_args(b"role")
    srv = ctx.server
    view = redis_info.replication_view(srv)
    if view.master is not None:
        slave = srv.repl.sync_slaves()[0]
        return respw.array([respw.bulk(b"slave"), respw.bulk(view.master[0].encode()),
                            respw.integer(view.master[1]),
                            respw.bulk(_ROLE_STATES.get(str(slave.status), b"connect")),
                            respw.integer(view.slave_offset)])
    replicas = [respw.array([respw.bulk(r.ip.encode()), respw.bulk(str(r.port).encode()),
                             respw.bulk(str(r.offset).encode())]) for r in view.replicas]
    return respw.array([respw.bulk(b"master"), respw.integer(ctx.db.binlog.last_seq), respw.array(replicas)])


def wait(ctx, args: list[bytes], proto: int, block: bool = True) -> bytes:
    """``WAIT numreplicas timeout``: the slaves whose acked position covers the connection's writes.

    Runs on the connection's greenlet (it blocks).  The position waited for is the
    binlog's last sequence right after the connection's last write that logged a
    record (``Context.write_seq``), as Redis waits for the client's own offset;
    other connections' later writes are not waited for.  On a connection that
    wrote nothing it counts the slaves that have acknowledged anything.
    """
    if len(args) != 3:
        return wrong_args(b"wait")
    srv = ctx.server
    n, timeout = _int(args[1]), _int(args[2])
    if n is None or timeout is None:
        return respw.error(b"ERR value is not an integer or out of range")
    if timeout < 0:
        return respw.error(b"ERR timeout is negative")
    repl = srv.repl
    if repl is None:
        return respw.integer(0)
    if repl.sync_slaves():
        return respw.error(b"ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
                           b"if a replica is configured to be writable (which is not the default) writes to "
                           b"replicas are just local and are not propagated.")
    seq = ctx.write_seq
    if not block:  # in a transaction, as Redis: the count now
        return respw.integer(repl.count_acked(seq))
    return respw.integer(repl.wait(n, seq, timeout / 1000.0 if timeout else None))


HANDLERS = {b"role": role}
#: names that block (WAIT; SLAVEOF waits for a master's handoff): answered on the connection's greenlet
BLOCKING = {b"wait": wait, b"slaveof": slaveof, b"replicaof": slaveof}
