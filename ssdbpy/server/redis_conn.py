"""Redis commands about the connection itself (ssdbpy additions): CLIENT, pub/sub, MULTI/EXEC, QUIT.

:class:`RedisConn` is mixed into :class:`ssdbpy.server.connection.Connection`
(its state lives in the connection's slots); the connection calls
:meth:`RedisConn._conn_request` for every request the translators raise
:class:`~ssdbpy.commands.redis_compat.ConnRequest` for.  Nothing here runs on
the common path: a connection pays only once it uses one of these commands.

Modes.  In a transaction (after MULTI), and in RESP2 subscribe mode, the
connection swaps its translator for :func:`_capture`, which sends every RESP
request here: MULTI queues it (``+QUEUED``), subscribe mode allows only
(P)(UN)SUBSCRIBE, PING, QUIT and RESET, as Redis.  SSDB-framed requests are
not affected by either mode.

Bounds.  A subscriber's unsent messages are bounded by
``server.client_output_buffer_limit``, or by Redis's ``pubsub`` class default
(32 MB hard, 8 MB for 60 s) when that is off: past it the subscriber is
disconnected, as Redis does.  A transaction's queue is bounded the same way
(its hard limit, else :data:`MULTI_LIMIT` bytes of queued arguments): past it
the connection is closed.
"""

from __future__ import annotations

import logging
import socket
import time

from ssdbpy import errors
from ssdbpy.commands import redis_cmds, redis_compat, redis_repl
from ssdbpy.commands.dispatch import execute, run
from ssdbpy.commands.registry import COMMANDS, Backend
from ssdbpy.config.settings import OutputLimit
from ssdbpy.protocol import respw
from ssdbpy.stringmatch import stringmatch

log = logging.getLogger("ssdbpy.conn")

#: Redis's default ``client-output-buffer-limit pubsub 32mb 8mb 60``, used when the server sets none
PUBSUB_LIMIT = OutputLimit(32 << 20, 8 << 20, 60)
#: bytes of queued arguments a transaction may hold when client_output_buffer_limit sets no hard limit
MULTI_LIMIT = 64 << 20
#: marks a held request: EXEC to run on the connection's greenlet
EXEC = object()

_SUB_ALLOWED = frozenset((b"subscribe", b"psubscribe", b"unsubscribe", b"punsubscribe", b"ping", b"quit",
                          b"reset"))
_QUEUED = b"+QUEUED\r\n"
_OK = b"+OK\r\n"
_EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
_BAD_NAME = b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
_NO_CLIENT = b"-ERR No such client\r\n"
_SYNTAX = b"-ERR syntax error\r\n"


def _capture(args: list[bytes]):
    """The translator of a connection in MULTI or RESP2 subscribe mode: every RESP request comes here."""
    raise redis_compat.ConnRequest(args)


class PubSub:
    """Channel and pattern subscriptions of every connection (one per server)."""

    def __init__(self) -> None:
        self.channels: dict[bytes, dict] = {}  # channel → {connection: None}, in subscription order
        self.patterns: dict[bytes, dict] = {}

    def channel_count(self) -> int:
        return len(self.channels)

    def pattern_count(self) -> int:
        return sum(len(s) for s in self.patterns.values())

    def add(self, table: dict, name: bytes, conn) -> None:
        table.setdefault(name, {})[conn] = None

    def remove(self, table: dict, name: bytes, conn) -> None:
        subs = table.get(name)
        if subs is not None:
            subs.pop(conn, None)
            if not subs:
                del table[name]

    def publish(self, channel: bytes, message: bytes, sender) -> int:
        """Deliver to the channel's subscribers, then to every matching pattern's; returns the receivers."""
        n = 0
        forms: dict[int, bytes] = {}
        subs = self.channels.get(channel)
        if subs:
            items = [respw.bulk(b"message"), respw.bulk(channel), respw.bulk(message)]
            for c in list(subs):
                proto = c._proto
                data = forms.get(proto)
                if data is None:
                    data = forms[proto] = respw.push(items, proto)
                c._push(data, sender)
                n += 1
        for pattern, psubs in list(self.patterns.items()):
            if not stringmatch(pattern, channel):
                continue
            items = [respw.bulk(b"pmessage"), respw.bulk(pattern), respw.bulk(channel), respw.bulk(message)]
            for c in list(psubs):
                c._push(respw.push(items, c._proto), sender)
                n += 1
        return n


def _client_type(c) -> bytes:
    if not c._counted:
        return b"replica"
    if c._channels or c._patterns:
        return b"pubsub"
    return b"normal"


_TYPES = {b"normal": b"normal", b"pubsub": b"pubsub", b"replica": b"replica", b"slave": b"replica",
          b"master": b"master"}


class RedisConn:
    """The Redis connection commands; mixed into Connection (which holds the state in its slots)."""

    __slots__ = ()

    # --- helpers ---------------------------------------------------------------------------
    def _subscribed(self) -> bool:
        return bool(self._channels or self._patterns)

    def subscriptions(self) -> int:
        return len(self._channels or ()) + len(self._patterns or ())

    def _set_mode(self) -> None:
        """Capture every RESP request while in MULTI or RESP2 subscribe mode; else the protocol's translator."""
        proto = self._proto
        if self._multi is not None or (proto == 2 and self._subscribed()):
            self._translate = _capture
            self._direct = {}
        else:
            self._translate = redis_compat.PROTOCOLS[proto][0]
            self._direct = self._direct_rows[proto]
        # a subscriber is bounded by the pubsub class's limit when the server sets none
        limit = self.state.output_limit
        if self._subscribed() and not (limit.hard or limit.soft):
            limit = PUBSUB_LIMIT
        self._limit = limit

    def _push(self, data: bytes, sender) -> None:
        """A pub/sub message for this connection: after the replies of its current requests."""
        if self.closed:
            return
        if self is sender:
            self._out.append(data)
        else:
            self._write(data)

    def kill(self) -> None:
        """CLIENT KILL: end the connection now (a backend stream too)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close()

    def _forget(self) -> None:
        """The connection ended: no more subscriptions, no entry in the client table."""
        self.state.clients.pop(self._client_id, None)
        ps = self.state.pubsub
        if ps is not None:
            for ch in self._channels or ():
                ps.remove(ps.channels, ch, self)
            for pat in self._patterns or ():
                ps.remove(ps.patterns, pat, self)
        self._channels = self._patterns = None
        self._multi = None

    # --- entry point -------------------------------------------------------------------------
    def _conn_request(self, req: redis_compat.ConnRequest, in_greenlet: bool) -> bytes | None:
        """Answer one captured request; None: EXEC must run on the greenlet (``_held`` is set by the caller)."""
        args = req.request
        name = args[0].lower()
        if self._multi is not None and name not in (b"exec", b"discard", b"multi", b"quit"):
            return self._queue(args)
        if self._proto == 2 and self._subscribed() and name not in _SUB_ALLOWED:
            return respw.error(b"ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                               b"RESET are allowed in this context" % name[:128])
        return self._answer(args, name, in_greenlet)

    def _answer(self, args: list[bytes], name: bytes, in_greenlet: bool) -> bytes | None:
        ctx = self.ctx
        if name == b"hello":
            text, self._proto = redis_compat.hello(ctx, args, self._proto, self._client_id)
            if text[:1] != b"-":
                for i in range(2, len(args) - 1):
                    if args[i].lower() == b"setname":
                        self._name = args[i + 1]
            self._set_mode()
            return text
        if name == b"quit":
            self._quit = True
            return _OK
        if not ctx.authed:
            return b"-NOAUTH " + errors.MSG_AUTH_REQUIRED + b"\r\n"
        if name in redis_cmds.HANDLERS:
            return redis_cmds.answer(ctx, args, self._proto)
        if name in redis_repl.HANDLERS:
            return redis_repl.HANDLERS[name](ctx, args, self._proto)
        if name in redis_repl.BLOCKING:
            if not in_greenlet:
                return None  # WAIT: on the connection's greenlet
            return redis_repl.BLOCKING[name](ctx, args, self._proto)
        if name == b"client":
            return self._client(args)
        if name in (b"subscribe", b"psubscribe"):
            return self._subscribe(args, name)
        if name in (b"unsubscribe", b"punsubscribe"):
            return self._unsubscribe(args, name)
        if name == b"publish":
            if len(args) != 3:
                return redis_cmds.wrong_args(name)
            return respw.integer(self._pubsub().publish(args[1], args[2], self))
        if name == b"pubsub":
            return self._pubsub_cmd(args)
        if name == b"ping":  # RESP2 subscribe mode (elsewhere PING is SSDB's)
            if len(args) > 2:
                return redis_cmds.wrong_args(name)
            return respw.array([respw.bulk(b"pong"), respw.bulk(args[1] if len(args) > 1 else b"")])
        if name == b"reset":
            return self._reset()
        if name == b"multi":
            if len(args) != 1:
                return redis_cmds.wrong_args(name)
            if self._multi is not None:
                return b"-ERR MULTI calls can not be nested\r\n"
            self._multi = []
            self._multi_bytes = 0
            self._multi_dirty = False
            self._set_mode()
            return _OK
        if name == b"discard":
            if self._multi is None:
                return b"-ERR DISCARD without MULTI\r\n"
            self._end_multi()
            return _OK
        if name == b"exec":
            if self._multi is None:
                return b"-ERR EXEC without MULTI\r\n"
            if len(args) != 1:
                self._end_multi()
                return b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
            if not in_greenlet and not self._multi_dirty and self._exec_must_wait():
                return None
            return self._exec(in_greenlet)
        return respw.error(b"ERR unknown command '%s'" % args[0][:128])

    def _held_request(self, args: list[bytes]) -> bytes:
        """A request left for the greenlet by :meth:`_conn_request` (EXEC, WAIT)."""
        name = args[0].lower()
        if name == b"exec":
            return self._exec(True)
        text = self._answer(args, name, True)
        assert text is not None
        return text

    def _reset(self) -> bytes:
        """RESET: out of MULTI and every subscription, name cleared, RESP2 (Redis 6.2)."""
        self._end_multi()
        ps = self._pubsub()
        for ch in list(self._channels or ()):
            ps.remove(ps.channels, ch, self)
        for pat in list(self._patterns or ()):
            ps.remove(ps.patterns, pat, self)
        self._channels = self._patterns = None
        self._name = b""
        self._proto = 2
        self._set_mode()
        return b"+RESET\r\n"

    # --- MULTI / EXEC ------------------------------------------------------------------------
    def _end_multi(self) -> None:
        self._multi = None
        self._multi_bytes = 0
        self._multi_dirty = False
        self._set_mode()

    def _queue(self, args: list[bytes]) -> bytes:
        """Check a request at queue time as Redis does (unknown command, arity: EXEC will abort) and queue it."""
        size = sum(len(a) for a in args) + 16 * len(args)
        self._multi_bytes += size
        limit = self._limit.hard or MULTI_LIMIT
        if self._multi_bytes > limit:
            log.info("%s:%d closed: a transaction of more than %d bytes", self.ip, self.port, limit)
            self._multi = None
            self._quit = True
            return b"-ERR transaction too big, connection closed\r\n"
        ctx = self.ctx
        try:
            ssdb_args, desc = redis_compat.PROTOCOLS[self._proto][0](args)
        except redis_compat.ConnRequest as req:
            name = req.request[0].lower()
            if name == b"watch":
                return b"-ERR WATCH inside MULTI is not allowed\r\n"
            self._multi.append((None, req.request, None))
            return _QUEUED
        cmd = COMMANDS.get(ssdb_args[0])
        if cmd is None or not ctx.authed:  # execute() answers unknown command or NOAUTH
            self._multi_dirty = True
            return desc.render(execute(ctx, ssdb_args))
        if cmd.is_backend:
            self._multi_dirty = True
            return respw.error(b"ERR '%s' can not run in a transaction" % cmd.name)
        # slaveof: Redis's SLAVEOF has other arguments than SSDB's; its own reply says what is wrong
        if len(ssdb_args) < cmd.arity and cmd.name != b"slaveof":
            self._multi_dirty = True
            return desc.render(cmd.arity_error().blocks())
        self._multi.append((cmd, ssdb_args, desc))
        return _QUEUED

    def _exec_must_wait(self) -> bool:
        """Whether a queued command may wait or run long: then EXEC runs on the connection's greenlet."""
        ctx = self.ctx
        gate = self.state.write_gate
        for cmd, args, _ in self._multi:
            if cmd is None and args[0].lower() in redis_repl.BLOCKING:
                return True
            if cmd is not None and ((cmd.may_hold and (cmd.blocking or cmd.long(ctx, args)))
                                    or (cmd.is_write and gate.held)):
                return True
        return False

    def _exec(self, in_greenlet: bool) -> bytes:
        """Run the queued commands one after the other, nothing between them; the array of their replies.

        From an event-loop callback nothing else runs until EXEC ends, and the
        writes are staged together: the group commit writes them in one
        LevelDB batch.  On the greenlet (a queued command may wait or run
        long), the write gate is held: no other client's write runs between
        the queued commands, but other clients' reads may run while one of
        them waits and see the writes before it.
        """
        queue, dirty = self._multi, self._multi_dirty
        self._end_multi()
        if dirty:
            return _EXECABORT
        if in_greenlet:
            gate = self.state.write_gate
            gate.wait()
            gate.hold(self.ctx)  # no other client's write between the queued commands
            try:
                parts, wrote = self._run_queue(queue)
            finally:
                gate.release()
        else:
            parts, wrote = self._run_queue(queue)
        if wrote:
            self._note_write()  # the reply answers writes: ``error`` if their batch fails
        return respw.array(parts)

    def _run_queue(self, queue) -> tuple[list[bytes], bool]:
        ctx = self.ctx
        parts = []
        wrote = False
        for cmd, args, desc in queue:
            if cmd is None:
                if args[0].lower() == b"wait":
                    parts.append(redis_repl.wait(ctx, args, self._proto, block=False))
                    continue
                text = self._answer(args, args[0].lower(), True)
                parts.append(text if text is not None else respw.error(b"ERR can not run in a transaction"))
                continue
            wrote = wrote or cmd.is_write
            reply = run(ctx, cmd, args)
            if reply.__class__ is Backend:
                parts.append(respw.error(b"ERR '%s' can not run in a transaction" % cmd.name))
                continue
            parts.append(desc.render(reply))
        return parts, wrote

    # --- pub/sub -----------------------------------------------------------------------------
    def _pubsub(self) -> PubSub:
        ps = self.state.pubsub
        if ps is None:
            ps = self.state.pubsub = PubSub()
        return ps

    def _subscribe(self, args: list[bytes], name: bytes) -> bytes:
        if len(args) < 2:
            return redis_cmds.wrong_args(name)
        ps = self._pubsub()
        pattern = name == b"psubscribe"
        if pattern:
            mine = self._patterns = self._patterns if self._patterns is not None else {}
            table = ps.patterns
        else:
            mine = self._channels = self._channels if self._channels is not None else {}
            table = ps.channels
        out = []
        for ch in args[1:]:
            if ch not in mine:
                mine[ch] = None
                ps.add(table, ch, self)
            out.append(respw.push([respw.bulk(name), respw.bulk(ch), respw.integer(self.subscriptions())],
                                  self._proto))
        self._set_mode()
        return b"".join(out)

    def _unsubscribe(self, args: list[bytes], name: bytes) -> bytes:
        ps = self._pubsub()
        pattern = name == b"punsubscribe"
        mine = (self._patterns if pattern else self._channels) or {}
        table = ps.patterns if pattern else ps.channels
        targets = args[1:] or list(mine)
        out = []
        for ch in targets:
            if ch in mine:
                del mine[ch]
                ps.remove(table, ch, self)
            out.append(respw.push([respw.bulk(name), respw.bulk(ch), respw.integer(self.subscriptions())],
                                  self._proto))
        if not targets:
            out.append(respw.push([respw.bulk(name), respw.null(self._proto), respw.integer(self.subscriptions())],
                                  self._proto))
        self._set_mode()
        return b"".join(out)

    def _pubsub_cmd(self, args: list[bytes]) -> bytes:
        if len(args) < 2:
            return redis_cmds.wrong_args(b"pubsub")
        ps = self._pubsub()
        sub = args[1].lower()
        if sub == b"channels" and len(args) <= 3:
            names = [ch for ch in ps.channels if len(args) == 2 or stringmatch(args[2], ch)]
            return respw.bulks(names)
        if sub == b"numsub":
            out = []
            for ch in args[2:]:
                out += (respw.bulk(ch), respw.integer(len(ps.channels.get(ch, ()))))
            return respw.array(out)
        if sub == b"numpat" and len(args) == 2:
            return respw.integer(ps.pattern_count())
        return redis_cmds.unknown_sub(args[1], b"pubsub")

    # --- CLIENT ------------------------------------------------------------------------------
    def _client(self, args: list[bytes]) -> bytes:
        if len(args) < 2:
            return redis_cmds.wrong_args(b"client")
        sub = args[1].lower()
        n = len(args)
        proto = self._proto
        if sub == b"id" and n == 2:
            return respw.integer(self._client_id)
        if sub == b"getname" and n == 2:
            return respw.bulk(self._name) if self._name else respw.null(proto)
        if sub == b"setname" and n == 3:
            if any(b < 0x21 or b > 0x7E for b in args[2]):
                return _BAD_NAME
            self._name = args[2]
            return _OK
        if sub == b"setinfo" and n == 4:
            attr = args[2].lower()
            if attr not in (b"lib-name", b"lib-ver"):
                return respw.error(b"ERR Unrecognized option '%s'" % args[2][:128])
            if any(b < 0x21 or b > 0x7E for b in args[3]):
                return respw.error(b"ERR %s cannot contain spaces, newlines or special characters." % attr)
            self._lib[attr] = args[3]
            return _OK
        if sub == b"info" and n == 2:
            return respw.verbatim(self._client_line(), proto)
        if sub == b"list":
            return self._client_list(args)
        if sub == b"kill":
            return self._client_kill(args)
        return redis_cmds.unknown_sub(args[1], b"client")

    def _client_line(self) -> bytes:
        now = time.monotonic()
        try:
            laddr = "%s:%d" % self.sock.getsockname()[:2]
            fd = self.sock.fileno()
        except OSError:
            laddr, fd = "", -1
        flags = (b"S" if not self._counted else b"") + (b"P" if self._subscribed() else b"") + \
                (b"x" if self._multi is not None else b"")
        events = (b"r" if self._reading else b"") + (b"w" if self._unsent is not None else b"")
        return (b"id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=0 "
                b"multi=%d omem=%d events=%s user=default lib-name=%s lib-ver=%s resp=%d\n") % (
            self._client_id, self._addr().encode(), laddr.encode(), fd, self._name, now - self._born,
            now - self._last, flags or b"N", len(self._channels or ()), len(self._patterns or ()),
            len(self._multi) if self._multi is not None else -1, self._queued, events or b"",
            self._lib.get(b"lib-name", b""), self._lib.get(b"lib-ver", b""), self._proto)

    def _addr(self) -> str:
        return ("[%s]:%d" if ":" in self.ip else "%s:%d") % (self.ip, self.port)

    def _client_list(self, args: list[bytes]) -> bytes:
        clients = sorted(self.state.clients.values(), key=lambda c: c._client_id)
        i = 2
        while i < len(args):
            opt = args[i].lower()
            if opt == b"type" and i + 1 < len(args):
                t = _TYPES.get(args[i + 1].lower())
                if t is None:
                    return respw.error(b"ERR Unknown client type '%s'" % args[i + 1][:128])
                clients = [c for c in clients if _client_type(c) == t]
                i += 2
            elif opt == b"id" and i + 1 < len(args):
                ids = set()
                for a in args[i + 1:]:
                    if not a.isdigit():
                        return respw.error(b"ERR Invalid client ID")
                    ids.add(int(a))
                clients = [c for c in clients if c._client_id in ids]
                i = len(args)
            else:
                return _SYNTAX
        return respw.verbatim(b"".join(c._client_line() for c in clients), self._proto)

    def _client_kill(self, args: list[bytes]) -> bytes:
        """``CLIENT KILL addr:port`` (``+OK``) or ``CLIENT KILL <filter value> ...`` (the number killed)."""
        clients = list(self.state.clients.values())
        if len(args) == 3:
            addr = args[2].decode("latin-1")
            for c in clients:
                if c._addr() == addr and not c.closed:
                    self._kill_one(c)
                    return _OK
            return _NO_CLIENT
        if len(args) < 4 or len(args) % 2:
            return _SYNTAX
        skipme = True
        for i in range(2, len(args), 2):
            opt, val = args[i].lower(), args[i + 1]
            if opt == b"id":
                if not val.isdigit():
                    return respw.error(b"ERR client-id should be greater than 0")
                clients = [c for c in clients if c._client_id == int(val)]
            elif opt == b"type":
                t = _TYPES.get(val.lower())
                if t is None:
                    return respw.error(b"ERR Unknown client type '%s'" % val[:128])
                clients = [c for c in clients if _client_type(c) == t]
            elif opt == b"addr":
                clients = [c for c in clients if c._addr().encode() == val]
            elif opt == b"user":
                if val != redis_compat.DEFAULT_USER:
                    return respw.error(b"ERR No such user '%s'" % val[:128])
            elif opt == b"skipme":
                v = val.lower()
                if v not in (b"yes", b"no"):
                    return _SYNTAX
                skipme = v == b"yes"
            elif opt == b"maxage":
                if not val.isdigit():
                    return _SYNTAX
                now = time.monotonic()
                clients = [c for c in clients if now - c._born >= int(val)]
            else:
                return _SYNTAX
        killed = 0
        for c in clients:
            if c.closed or (skipme and c is self):
                continue
            self._kill_one(c)
            killed += 1
        return respw.integer(killed)

    def _kill_one(self, c) -> None:
        if c is self:
            self._quit = True  # after this reply, as Redis's CLIENT_CLOSE_AFTER_REPLY
        else:
            c.kill()
