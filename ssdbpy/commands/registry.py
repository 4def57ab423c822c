"""The command table: every command is data a test can iterate.

A handler is ``handler(ctx, args) -> list[bytes]`` where ``args[0]`` is the
command name and the returned list is the reply blocks, status first.  Errors
are raised as :class:`ssdbpy.errors.SSDBError`.  Backend commands (``dump``,
``sync140``) return a :class:`Backend` that takes over the connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ssdbpy import errors
from ssdbpy.db.slices import STEP

Handler = Callable[[Any, list[bytes]], Any]
#: ``long(ctx, args) -> bool``: whether a request may take more than a few milliseconds
LongTest = Callable[[Any, list[bytes]], bool]

#: flag letters as in SSDB's registration strings
READ_INLINE = "r"
READ = "rt"
WRITE = "wt"
WRITE_INLINE = "w"
BACKEND = "b"


@dataclass(slots=True)
class Command:
    name: bytes
    handler: Handler
    arity: int
    flags: str
    #: reply for fewer than ``arity`` blocks (None = ["client_error", "wrong number of arguments"])
    arity_error: Callable[[], errors.SSDBError] = errors.wrong_args
    calls: int = 0
    time_wait: float = 0.0  # ms
    time_proc: float = 0.0  # ms
    is_write: bool = False  # derived from flags (a plain field: read on every request)
    is_backend: bool = False
    #: the handler may wait (for a thread, a greenlet): run it on the connection's own greenlet,
    #: not in the event loop's callback that serves ordinary requests
    blocking: bool = False
    #: the request may be long (a big scan, clear, flushdb): when ``long(ctx, args)`` says so it
    #: runs on the connection's greenlet, where ``ctx.cooperate()`` between slices lets the
    #: other connections run; short requests of the same command stay in the callback
    long: LongTest | None = None
    #: blocking, or long for some requests (derived; read on every request)
    may_hold: bool = False

    def __post_init__(self) -> None:
        self.is_write = self.flags in (WRITE, WRITE_INLINE)
        self.is_backend = self.flags == BACKEND
        self.blocking = self.blocking or self.is_backend
        self.may_hold = self.blocking or self.long is not None


@dataclass(slots=True)
class Backend:
    """Returned by a backend handler: ``run(link)`` owns the connection from now on."""

    run: Callable[[Any], None]
    kind: str = "backend"
    extra: dict = field(default_factory=dict)


COMMANDS: dict[bytes, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str,
    *,
    arity_error: Callable[[], errors.SSDBError] | None = None,
    blocking: bool = False,
    long: LongTest | None = None,
):
    """Register ``handler`` as command ``name`` needing at least ``arity`` blocks (name included).

    ``blocking``: the handler may wait on gevent (a thread pool, another
    greenlet); backend commands always may.  ``long``: a cheap test of the
    request (``long(ctx, args)``, args possibly shorter than ``arity``) saying
    that the handler may run long and must call ``ctx.cooperate()`` between
    slices; such requests run where they can yield.
    """

    def deco(fn: Handler) -> Handler:
        key = name.encode()
        if key in COMMANDS:
            raise ValueError(f"command {name} registered twice")
        COMMANDS[key] = Command(key, fn, arity, flags, arity_error or errors.wrong_args, blocking=blocking,
                                long=long)
        return fn

    return deco


def reverse_start(start: bytes) -> bytes:
    """The exclusive start of a reverse key or name walk, as SSDB 1.9.8 makes it.

    From an empty start SSDB begins below ``prefix + "\\xff"``, so keys and
    names whose first byte is 0xFF (the TTL index zset among them) are not
    listed by ``rscan``, ``rkeys``, ``hrlist``, ``zrlist`` and ``qrlist``.
    """
    return start or b"\xff"


def found_pairs(names: list[bytes], get: Callable[[bytes], Any], cooperate: Callable[[], Any]) -> list[bytes]:
    """``["ok", n1, v1, ...]`` for the ``names`` that ``get`` finds (None: not found), in order.

    ``cooperate()`` after every STEP names (a long multi_get yields between slices).
    """
    out = [errors.OK]
    append = out.append
    for lo in range(0, len(names), STEP):
        for n in names[lo : lo + STEP]:
            v = get(n)
            if v is not None:
                append(n)
                append(v)
        cooperate()
    return out


def client_error_bare() -> errors.SSDBError:
    """``["client_error"]`` with no message, used by a few commands for a bad arity."""
    return errors.ClientError()
