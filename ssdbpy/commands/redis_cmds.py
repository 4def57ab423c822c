"""Redis commands SSDB does not have that need no connection state (ssdbpy additions).

``INFO [section ...]`` (Redis's layout, :mod:`ssdbpy.commands.redis_info`),
``ECHO``, ``COMMAND [COUNT|DOCS|INFO|LIST]``, ``CONFIG GET|SET|REWRITE|RESETSTAT``
and ``SCRIPT KILL``.  :func:`answer` takes the Redis request as received and
the connection's RESP version and returns the reply bytes, with Redis 7.0's
reply shapes and error texts.  SSDB 1.9.8 answers all of them with
``-ERR Unknown Command`` (docs/compat.md, "Redis commands for Sentinel").
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

from ssdbpy import errors, info
from ssdbpy.commands import redis_info
from ssdbpy.commands.registry import COMMANDS
from ssdbpy.config.rewrite import rewrite, rewrite_slaveof
from ssdbpy.protocol import respw
from ssdbpy.stringmatch import stringmatch


def wrong_args(name: bytes) -> bytes:
    return respw.error(b"ERR wrong number of arguments for '%s' command" % name.lower()[:128])


def unknown_sub(sub: bytes, name: bytes) -> bytes:
    return respw.error(b"ERR unknown subcommand '%s'. Try %s HELP." % (sub[:128], name.upper()))


# --- INFO, ECHO, SCRIPT --------------------------------------------------------------------------


def info_(ctx, args: list[bytes], proto: int) -> bytes:
    wanted = info.redis_wanted(args[1:])
    assert wanted is not None  # redis_compat sends other arguments to SSDB's info
    return redis_info.render(ctx, wanted, proto)


def echo(ctx, args: list[bytes], proto: int) -> bytes:
    if len(args) != 2:
        return wrong_args(b"echo")
    return respw.bulk(args[1])


def script(ctx, args: list[bytes], proto: int) -> bytes:
    """``SCRIPT KILL``: no script ever runs (ssdbpy has no Lua); other subcommands: an error."""
    if len(args) < 2:
        return wrong_args(b"script")
    sub = args[1].lower()
    if sub == b"kill" and len(args) == 2:
        return respw.error(b"NOTBUSY No scripts in execution right now.")
    if sub in (b"load", b"exists", b"flush", b"debug"):
        return respw.error(b"ERR scripting is not supported by ssdbpy")
    return unknown_sub(args[1], b"script")


# --- COMMAND ----------------------------------------------------------------------------------------

#: Redis-only commands answered without the dispatcher: name → Redis arity
REDIS_ARITY: dict[bytes, int] = {
    b"hello": -1, b"info": -1, b"echo": 2, b"command": -1, b"client": -2, b"config": -2, b"script": -2,
    b"publish": 3, b"subscribe": -2, b"psubscribe": -2, b"unsubscribe": -1, b"punsubscribe": -1,
    b"pubsub": -2, b"multi": 1, b"exec": 1, b"discard": 1, b"quit": -1,
}


def command_table() -> dict[bytes, tuple[int, list[bytes], int]]:
    """Every name a RESP client may send → (Redis arity, flags, first key position)."""
    from ssdbpy.commands.redis_compat import MAPPING

    out: dict[bytes, tuple[int, list[bytes], int]] = {}
    for name, cmd in COMMANDS.items():
        flags = [b"write"] if cmd.is_write else [b"readonly"]
        out[name] = (-cmd.arity, flags, 1 if cmd.arity > 1 else 0)
    for name, m in MAPPING.items():
        base = COMMANDS.get(m.ssdb)
        if base is not None:
            out[name] = (-base.arity, [b"write"] if base.is_write else [b"readonly"], 1 if base.arity > 1 else 0)
    for name, arity in REDIS_ARITY.items():
        out[name] = (arity, [b"pubsub"] if b"sub" in name or name == b"publish" else [b"admin"], 0)
    return out


def _command_info(name: bytes, row: tuple[int, list[bytes], int]) -> bytes:
    arity, flags, first = row
    return respw.array([
        respw.bulk(name), respw.integer(arity), respw.array([respw.status(f) for f in flags]),
        respw.integer(first), respw.integer(first), respw.integer(1 if first else 0),
        b"*0\r\n", b"*0\r\n", b"*0\r\n", b"*0\r\n",
    ])


def command(ctx, args: list[bytes], proto: int) -> bytes:
    """``COMMAND`` (every command's info), ``COUNT``, ``INFO name…``, ``LIST``, ``DOCS [name…]``.

    The info entries have Redis 7's ten fields (name, arity, flags, first and
    last key, step, then empty ACL categories, tips, key specs and
    subcommands).  ``DOCS`` answers an empty map: ssdbpy keeps no docs, and
    clients that probe it (redis-cli) do without.
    """
    table = command_table()
    if len(args) == 1:
        return respw.array([_command_info(n, r) for n, r in sorted(table.items())])
    sub = args[1].lower()
    if sub == b"count" and len(args) == 2:
        return respw.integer(len(table))
    if sub == b"list" and len(args) == 2:
        return respw.bulks(sorted(table))
    if sub == b"info":
        return respw.array([_command_info(n.lower(), table[n.lower()]) if n.lower() in table else respw.null(2)
                            for n in args[2:]])
    if sub == b"docs":
        return respw.map_([], proto)
    return unknown_sub(args[1], b"command")


# --- CONFIG -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One CONFIG parameter: its ssdb.conf key (None: not in the file), how to read and change it."""

    conf_key: str | None
    get: Callable[[Any], str]
    #: parse(text) -> value, raising ValueError with Redis's reason; None: immutable
    parse: Callable[[str], Any] | None = None
    apply: Callable[[Any, Any], None] | None = None
    #: the value as ssdb.conf writes it (CONFIG REWRITE)
    conf_text: Callable[[Any], str] = str


def _yesno(text: str) -> bool:
    t = text.lower()
    if t in ("yes", "true", "on", "1"):
        return True
    if t in ("no", "false", "off", "0"):
        return False
    raise ValueError("argument must be 'yes' or 'no'")


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,18}", text):
            raise ValueError("argument couldn't be parsed into an integer")
        v = int(text)
        if not lo <= v <= hi:
            raise ValueError(f"argument must be between {lo} and {hi} inclusive")
        return v

    return parse


def _set_readonly(srv, v: bool) -> None:
    srv.readonly = v


def _set_slowlog_ms(srv, ms: float) -> None:
    srv.slowlog.threshold = ms if ms > 0 else math.inf


def _set_slowlog_len(srv, n: int) -> None:
    from collections import deque

    log = srv.slowlog
    log.max_len = n
    log.entries = deque(list(log.entries)[:n], maxlen=n)


def _set_replica_ro(srv, v: bool) -> None:
    srv.replica_read_only = v
    refresh_replica_refusal(srv)


def _set_priority(srv, v: int) -> None:
    srv.replica_priority = v


def _yn(v: bool) -> str:
    return "yes" if v else "no"


def _ms(srv) -> float:
    t = srv.slowlog.threshold
    return 0.0 if t == math.inf else t


def _fmt_ms(ms: float) -> str:
    return "%d" % ms if ms == int(ms) else "%g" % ms


_slowlog_ms = _int(0, 10**12)
_us = _int(-1, 10**15)
_priority = _int(0, 2**31 - 1)


def _settings(srv, section: str, name: str, default: str) -> str:
    s = srv.settings
    v = getattr(getattr(s, section, None), name, None) if s is not None else None
    return default if v is None else str(v)


#: CONFIG parameters: ssdbpy's own names (ssdb.conf's dotted keys) and the Redis names of the same
#: settings.  Immutable ones answer GET and refuse SET as Redis refuses an immutable config.
PARAMS: dict[str, Param] = {
    "server.readonly": Param("server.readonly", lambda s: _yn(s.readonly), _yesno, _set_readonly, _yn),
    "server.slowlog_timeout": Param("server.slowlog_timeout", lambda s: _fmt_ms(_ms(s)),
                                    lambda t: float(_slowlog_ms(t)), _set_slowlog_ms, _fmt_ms),
    "server.slowlog_max_len": Param("server.slowlog_max_len", lambda s: str(s.slowlog.max_len),
                                    _int(0, 10**9), _set_slowlog_len),
    "server.replica_read_only": Param("server.replica_read_only", lambda s: _yn(s.replica_read_only), _yesno,
                                      _set_replica_ro, _yn),
    "server.replica_priority": Param("server.replica_priority", lambda s: str(s.replica_priority), _priority,
                                     _set_priority),
    "server.ip": Param(None, lambda s: _settings(s, "server", "ip", "")),
    "server.port": Param(None, lambda s: str(s.tcp_port)),
    # Redis's names
    "slowlog-log-slower-than": Param("server.slowlog_timeout", lambda s: "%d" % (_ms(s) * 1000) if _ms(s) else "-1",
                                     lambda t: max(_us(t), 0) / 1000.0, _set_slowlog_ms, _fmt_ms),
    "slowlog-max-len": Param("server.slowlog_max_len", lambda s: str(s.slowlog.max_len), _int(0, 10**9),
                             _set_slowlog_len),
    "replica-read-only": Param("server.replica_read_only", lambda s: _yn(s.replica_read_only), _yesno,
                               _set_replica_ro, _yn),
    "slave-read-only": Param("server.replica_read_only", lambda s: _yn(s.replica_read_only), _yesno,
                             _set_replica_ro, _yn),
    "replica-priority": Param("server.replica_priority", lambda s: str(s.replica_priority), _priority,
                              _set_priority),
    "slave-priority": Param("server.replica_priority", lambda s: str(s.replica_priority), _priority,
                            _set_priority),
    "port": Param(None, lambda s: str(s.tcp_port)),
    "bind": Param(None, lambda s: _settings(s, "server", "ip", "")),
    "dir": Param(None, lambda s: str(getattr(s.settings, "work_dir", "")) if s.settings is not None else ""),
    "databases": Param(None, lambda s: "1"),  # one keyspace: SELECT is not supported
    "maxmemory": Param(None, lambda s: "0"),  # no memory limit: data lives in LevelDB on disk
    "appendonly": Param(None, lambda s: "no"),
    "save": Param(None, lambda s: ""),
}


def refresh_replica_refusal(srv) -> None:
    """Keep ``srv.replica_refuses`` = replica_read_only and a ``type: sync`` master link exists."""
    srv.replica_refuses = bool((srv.replica_read_only and redis_info.replication_view(srv).master)
                               or getattr(srv.repl, "frozen", False))


def config(ctx, args: list[bytes], proto: int) -> bytes:
    if len(args) < 2:
        return wrong_args(b"config")
    sub = args[1].lower()
    srv = ctx.server
    if sub == b"get":
        if len(args) < 3:
            return wrong_args(b"config|get")
        pats = args[2:]
        pairs = []
        for name, p in PARAMS.items():
            if any(stringmatch(pat, name.encode(), nocase=True) for pat in pats):
                pairs.append((respw.bulk(name.encode()), respw.bulk(p.get(srv).encode())))
        return respw.map_(pairs, proto)
    if sub == b"set":
        return _config_set(srv, args)
    if sub == b"rewrite" and len(args) == 2:
        return _config_rewrite(srv)
    if sub == b"resetstat" and len(args) == 2:
        for c in COMMANDS.values():
            c.calls, c.time_wait, c.time_proc = 0, 0.0, 0.0
        return respw.status(b"OK")
    return unknown_sub(args[1], b"config")


def _config_set(srv, args: list[bytes]) -> bytes:
    """``CONFIG SET name value [name value ...]``: every pair checked before any is applied, as Redis 7."""
    if len(args) < 4 or len(args) % 2:
        return wrong_args(b"config|set")
    todo = []
    for i in range(2, len(args), 2):
        raw = args[i].decode("latin-1")
        name = raw.lower()
        p = PARAMS.get(name)
        if p is None:
            return respw.error(b"ERR Unknown option or number of arguments for CONFIG SET - '%s'" % args[i][:128])
        if p.parse is None or p.apply is None:
            return respw.error(b"ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable "
                               b"config" % args[i][:128])
        try:
            value = p.parse(args[i + 1].decode("latin-1"))
        except ValueError as exc:
            return respw.error(b"ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                               % (args[i][:128], str(exc).encode()))
        todo.append((p, value))
    for p, value in todo:
        assert p.apply is not None and p.conf_key is not None
        p.apply(srv, value)
        srv.config_changes[p.conf_key] = p.conf_text(value)
    return respw.status(b"OK")


def _config_rewrite(srv) -> bytes:
    """Write what CONFIG SET changed into the config file in place (temp file + rename)."""
    path = srv.conf_path
    if not path:
        return respw.error(b"ERR The server is running without a config file")
    repl = srv.repl
    slaveof = None
    if repl is not None and getattr(repl, "role_changed", False):
        # SLAVEOF over RESP changed the sync links: the slaveof part says what runs now
        slaveof = [{"id": s.cfg.id, "type": "sync", "ip": s.cfg.host, "port": str(s.cfg.port),
                    "auth": s.cfg.auth or ""} for s in repl.sync_slaves()]
    try:
        write_config(path, dict(srv.config_changes), slaveof)
    except OSError as exc:
        return respw.error(b"ERR Rewriting config file: %s" % str(exc).encode())
    return respw.status(b"OK")


def write_config(path: str, changes: dict[str, str], slaveof: list[dict[str, str]] | None = None) -> None:
    """Apply ``changes`` (and, unless None, the sync ``slaveof`` blocks) to the file at ``path``
    atomically: a temp file beside it, fsync, rename."""
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    new = rewrite(text, changes)
    if slaveof is not None:
        new = rewrite_slaveof(new, slaveof)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ssdb.conf.", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: Redis name → handler(ctx, args, proto) -> reply bytes
HANDLERS: dict[bytes, Callable[[Any, list[bytes], int], bytes]] = {
    b"info": info_, b"echo": echo, b"command": command, b"config": config, b"script": script,
}


def answer(ctx, args: list[bytes], proto: int) -> bytes:
    """Reply to one of :data:`HANDLERS`' requests (``args[0]`` in any case); authentication as SSDB's."""
    if not ctx.authed:
        return b"-NOAUTH " + errors.MSG_AUTH_REQUIRED + b"\r\n"
    return HANDLERS[args[0].lower()](ctx, args, proto)
