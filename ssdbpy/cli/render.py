"""How ssdb-cli reads a reply and prints it, exactly as SSDB 1.9.8's shell (tools.md §1.4, §1.7).

:func:`interpret` classifies a reply by command name as SSDB's Python client
library does (``SSDB_Response``: code, type none/val/list/map, data or
message); :func:`render` turns it into the shell's output: data on stdout,
every decoration (headers, counts, errors, timings) on stderr.  Both are pure:
``render`` returns ``(stream, bytes)`` fragments in order, ``stream`` being
``"out"`` or ``"err"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ssdbpy.cli import escape
from ssdbpy.cli.usage import USAGE

OUT, ERR = "out", "err"
Fragment = tuple[str, bytes]

INT_OR_BARE = frozenset(b"""ping set del qset zset hset qpush qpush_front qpush_back zdel hdel multi_set
multi_del multi_hset multi_hdel multi_zset multi_zdel""".split())
STRING = frozenset(b"version substr get getset hget qfront qback qget".split())
STRING_OR_LIST = frozenset(b"qpop qpop_front qpop_back".split())
INTEGER = frozenset(b"""dbsize getbit setbit countbit bitcount strlen ttl expire setnx incr decr zincr
zdecr hincr hdecr hsize zsize qsize zget zrank zrrank zsum zcount zremrangebyrank zremrangebyscore hclear
zclear qclear qtrim_front qtrim_back auth exists hexists zexists""".split())
FLOAT = frozenset([b"zavg"])
LIST = frozenset(b"keys rkeys zkeys zrkeys hkeys hrkeys list hlist hrlist zlist zrlist".split())
STRING_MAP = frozenset(b"scan rscan hgetall hscan hrscan multi_get multi_hget".split())
INTEGER_MAP = frozenset(b"""zscan zrscan zrange zrrange zpop_front zpop_back multi_exists multi_hexists
multi_zexists multi_hsize multi_zsize multi_zget""".split())

#: commands whose ``ok`` the shell prints as the word ``ok``
PRINT_OK = frozenset(b"""ping qset compact auth set setx zset hset del zdel add_allow_ip del_allow_ip
add_deny_ip del_deny_ip""".split())

_INT = re.compile(rb"\s*[-+]?[0-9]+\s*\Z")


@dataclass
class Response:
    code: bytes
    type: str = "none"  # none | val | list | map
    data: Any = None
    message: Any = None

    @property
    def ok(self) -> bool:
        return self.code == b"ok"

    def set(self, code: bytes, data_or_message: Any = None) -> "Response":
        self.code = code
        if code == b"ok":
            self.data = data_or_message
        elif isinstance(data_or_message, list):
            self.message = data_or_message[0] if data_or_message else None
        else:
            self.message = data_or_message
        return self


DISCONNECTED = b"disconnected"


def disconnected() -> Response:
    return Response(DISCONNECTED, message=b"Connection closed")


def py2_int(b: bytes) -> int:
    """Python 2's ``int(str)`` on a reply block: ValueError unless decimal digits."""
    if not _INT.match(b):
        raise ValueError(b)
    return int(b)


def py2_float(b: bytes) -> float:
    if b"_" in b:
        raise ValueError(b)
    return float(b)


def py2_str(v: Any) -> bytes:
    """``str(v)`` of Python 2 for the values the client library produces."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"True" if v else b"False"
    if isinstance(v, float):
        if math.isnan(v):
            return b"nan"
        if math.isinf(v):
            return b"inf" if v > 0 else b"-inf"
        s = "%.12g" % v
        if all(c in "0123456789-" for c in s):
            s += ".0"
        return s.encode()
    return str(v).encode()


def interpret(cmd: bytes, args: list[bytes], resp: list[bytes] | None) -> Response:
    """SSDB_Response for reply ``resp`` of ``cmd args`` (None: the connection closed)."""
    if not resp:
        return disconnected()
    r = Response(b"")
    code = resp[0]
    if cmd in INT_OR_BARE:
        if len(resp) > 1:
            return _int(r, resp)
        return Response(code)
    if cmd in STRING:
        return _str(r, resp)
    if cmd in STRING_OR_LIST:
        size = 1
        if len(args) > 1:
            try:
                size = py2_int(args[1])
            except ValueError:
                pass
        return _str(r, resp) if size == 1 else _list(r, resp)
    if cmd in INTEGER:
        return _int(r, resp)
    if cmd in FLOAT:
        r.type = "val"
        if code == b"ok":
            try:
                return r.set(b"ok", py2_float(resp[1])) if len(resp) == 2 else _invalid(r)
            except ValueError:
                return _invalid(r)
        return r.set(code, resp[1:])
    if cmd in STRING_MAP:
        return _map(r, resp, False)
    if cmd in INTEGER_MAP:
        return _map(r, resp, True)
    return _list(r, resp)  # LIST and every other command


def _invalid(r: Response) -> Response:
    return r.set(b"server_error", b"Invalid response")


def _str(r: Response, resp: list[bytes]) -> Response:
    r.type = "val"
    if resp[0] == b"ok":
        return r.set(b"ok", resp[1]) if len(resp) == 2 else _invalid(r)
    return r.set(resp[0], resp[1:])


def _int(r: Response, resp: list[bytes]) -> Response:
    r.type = "val"
    if resp[0] == b"ok":
        if len(resp) != 2:
            return _invalid(r)
        try:
            return r.set(b"ok", py2_int(resp[1]))
        except ValueError:
            return _invalid(r)
    return r.set(resp[0], resp[1:])


def _list(r: Response, resp: list[bytes]) -> Response:
    r.type = "list"
    return r.set(resp[0], resp[1:])


def _map(r: Response, resp: list[bytes], ints: bool) -> Response:
    r.type = "map"
    if resp[0] != b"ok":
        return r.set(resp[0], resp[1:])
    if len(resp) % 2 != 1:
        return _invalid(r)
    index: list[bytes] = []
    items: dict[bytes, Any] = {}
    for i in range(1, len(resp), 2):
        k, v = resp[i], resp[i + 1]
        if ints:
            try:
                v = py2_int(v)
            except ValueError:
                v = -1
        index.append(k)
        items[k] = v
    return r.set(b"ok", (index, items))


# --- printing --------------------------------------------------------------------------
class Escaper:
    """``repr_data`` of the shell: ``no`` (SSDB's default), ``yes`` (``:escape yes``),
    ``auto`` (escape only values that are not printable text)."""

    MODES = ("no", "yes", "auto")

    def __init__(self, mode: str = "no") -> None:
        assert mode in self.MODES
        self.mode = mode

    def __call__(self, v: Any) -> bytes:
        s = py2_str(v)
        if self.mode == "yes" or (self.mode == "auto" and not escape.is_text(s)):
            return escape.encode(s)
        return s


def timing(elapsed: float) -> bytes:
    return b"(%.3f sec)\n" % elapsed


def render(cmd: bytes, r: Response, elapsed: float, repr_data: Escaper | None = None) -> list[Fragment]:
    """The shell's output for response ``r`` to command ``cmd`` that took ``elapsed`` seconds."""
    rd = repr_data or Escaper()
    out: list[Fragment] = []
    t = timing(elapsed)
    if not r.ok:
        if r.code == b"not_found":
            out.append((ERR, b"not_found\n"))
        else:
            s = r.code
            if r.message:
                s += b": " + py2_str(r.message)
            out.append((ERR, s + b"\n"))
            if r.code == b"client_error" and py2_str(r.message).startswith(b"wrong number of arguments"):
                args = USAGE.get(cmd.decode("latin-1"), (None,))[0]
                if args is not None:  # the server's reply does not name the command: say what it takes
                    out.append((ERR, b"usage: " + b" ".join(filter(None, (cmd, args.encode()))) + b"\n"))
        out.append((ERR, t))
        return out
    if cmd in PRINT_OK:
        return [(OUT, r.code + b"\n"), (ERR, t)]
    if cmd == b"info":
        data = r.data if isinstance(r.data, list) else []
        is_val = False
        for s in data[1:]:
            if is_val:
                s = b"\t" + s.replace(b"\n", b"\n\t")
            out.append((OUT, s + b"\n"))
            is_val = not is_val
        out.append((ERR, b"%d result(s) (%.3f sec)\n" % (len(data), elapsed)))
        return out
    # the timing once: in the "N result(s)" line of a list or map, else on its own line
    # (SSDB's shell printed both for lists, maps and info)
    if r.type in ("none", "val"):
        out.append((OUT, rd(r.data) + b"\n"))
        out.append((ERR, t))
    elif r.type == "list":
        out.append((ERR, b"  %15s\n" % b"key"))
        out.append((ERR, b"-" * 17 + b"\n"))
        for k in r.data:
            out.append((OUT, b"  " + rd(k).rjust(15) + b"\n"))
        out.append((ERR, b"%d result(s) (%.3f sec)\n" % (len(r.data), elapsed)))
    elif r.type == "map":
        index, items = r.data
        out.append((ERR, b"%-15s %s\n" % (b"key", b"value")))
        out.append((ERR, b"-" * 25 + b"\n"))
        for k in index:
            out.append((OUT, b"  " + rd(k).ljust(15) + b": " + rd(items[k]) + b"\n"))
        out.append((ERR, b"%d result(s) (%.3f sec)\n" % (len(index), elapsed)))
    else:
        out.append((ERR, t))
    return out
