"""Replay a vector file in-process: every request through the dispatcher, no sockets.

The fast counterpart of tests/integration/test_vectors.py, used by the unit
tests of each command module.
"""

from __future__ import annotations

import re
from pathlib import Path

import ssdbpy.commands.all  # noqa: F401  (registers every command)
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
from ssdbpy.db.database import Database
from tests.harness.vectors import VECTORS, Vector, load

_INT = re.compile(rb"-?[0-9]+")


def matches(v: Vector, got: list[bytes]) -> bool:
    """Compare as the vectors README says (``expect_kind`` lines loosely)."""
    if v.kind == "int":
        return len(got) == 2 and got[0] == b"ok" and _INT.fullmatch(got[1]) is not None
    if v.kind == "ok_any":
        return bool(got) and got[0] == b"ok"
    return got == v.expect


def replay(name: str, work_dir: Path) -> dict[int, tuple[Vector, list[bytes]]]:
    """Replay ``name`` in order on a fresh database: line -> (vector, reply)."""
    path = VECTORS / name
    assert path.is_file(), f"vectors not found: {path}"
    config, vectors = load(path)
    assert not config, f"{name} needs server options; replay it against a process instead"
    db = Database.open(str(work_dir))
    ctx = Context(ServerState(db))
    out: dict[int, tuple[Vector, list[bytes]]] = {}
    try:
        for v in vectors:
            assert v.send is not None, f"{v.id}: raw vectors need a socket"
            out[v.line] = (v, list(execute(ctx, list(v.send))))
            db.commit()
    finally:
        db.close()
    return out


def line_numbers(name: str) -> list[int]:
    path = VECTORS / name
    return [v.line for v in load(path)[1]] if path.is_file() else []


class Dispatcher:
    """Call commands on a fresh database: ``run(b"hset", b"h", b"f", b"v")``."""

    def __init__(self, work_dir: Path) -> None:
        self.db = Database.open(str(work_dir))
        self.ctx = Context(ServerState(self.db))

    def __call__(self, *args: bytes) -> list[bytes]:
        reply = list(execute(self.ctx, list(args)))
        self.db.commit()
        return reply

    def close(self) -> None:
        self.db.close()
