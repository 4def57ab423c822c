"""Replay the recorded SSDB 1.9.8 hash vectors in-process through the dispatcher.

Every line of ``vectors/hash.jsonl`` is sent, in order, to a fresh database
through :func:`ssdbpy.commands.dispatch.execute` (committing after each
request, as the server does per batch) and must give exactly the recorded
reply (``expect_kind`` lines compare loosely, as the vectors README says).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ssdbpy.commands.hash  # noqa: F401  (registers the hash commands)
import ssdbpy.commands.kv  # noqa: F401  (registers the kv commands)
import ssdbpy.commands.queue  # noqa: F401  (registers the queue commands)
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import execute
from ssdbpy.commands.registry import COMMANDS
from ssdbpy.db.database import Database

pytestmark = pytest.mark.timeout(60)

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "spec" / "vectors"
FILE = VECTORS / "hash.jsonl"

_ESC = re.compile(rb"\\\\|\\x([0-9a-f]{2})")


def unescape(s: str) -> bytes:
    """Vector string -> bytes: ``\\\\`` is one backslash, ``\\xNN`` one byte."""
    return _ESC.sub(lambda m: bytes((int(m.group(1), 16),)) if m.group(1) else b"\\", s.encode("ascii"))


def load(path: Path) -> list[tuple[int, dict]]:
    with path.open(encoding="ascii") as f:
        return [(i, json.loads(line)) for i, line in enumerate(f, 1) if line.strip()]


def _params():
    if not FILE.is_file():
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(i, id=f"line{i}") for i, v in load(FILE) if "config" not in v]


def _matches(vec: dict, got: list[bytes]) -> bool:
    kind = vec.get("expect_kind")
    if kind == "int":
        return len(got) == 2 and got[0] == b"ok" and re.fullmatch(rb"-?[0-9]+", got[1]) is not None
    if kind == "ok_any":
        return bool(got) and got[0] == b"ok"
    return got == [unescape(b) for b in vec["expect"]]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict[int, tuple[dict, list[bytes] | None]]:
    """Replay the whole file once, in order; line -> (vector, reply or None if not registered)."""
    assert FILE.is_file(), f"vectors not found: {FILE}"
    db = Database.open(str(tmp_path_factory.mktemp("hash_vectors")))
    ctx = Context(ServerState(db))
    out: dict[int, tuple[dict, list[bytes] | None]] = {}
    try:
        for lineno, vec in load(FILE):
            if "config" in vec:
                assert not vec["config"], "hash vectors need no server options"
                continue
            args = [unescape(a) for a in vec["send"]]
            if args[0] not in COMMANDS:
                print(f"{FILE.name}:{lineno}: {args[0]!r} is not registered yet; line skipped")
                out[lineno] = (vec, None)
                continue
            reply = execute(ctx, args)
            db.commit()
            out[lineno] = (vec, list(reply))
    finally:
        db.close()
    return out


@pytest.mark.parametrize("lineno", _params())
def test_vector(replayed, lineno):
    assert lineno is not None, f"vectors not found: {FILE}"
    vec, got = replayed[lineno]
    if got is None:
        pytest.skip(f"command {vec['send'][0]!r} is not registered yet")
    assert _matches(vec, got), f"{vec['send']}: expected {vec['expect']}, got {got}"


def test_unescape():
    assert unescape("bin\\x00\\xff\\\\key") == b"bin\x00\xff\\key"
    assert unescape("\\\\x41") == b"\\x41"


# --- edge cases beyond the recorded vectors (commands.md §3) ------------------------------
@pytest.fixture
def run(tmp_path):
    db = Database.open(str(tmp_path))
    ctx = Context(ServerState(db))

    def call(*args: bytes) -> list[bytes]:
        reply = list(execute(ctx, list(args)))
        db.commit()
        return reply

    call.db = db  # type: ignore[attr-defined]
    yield call
    db.close()


def test_multi_hset_stops_at_the_first_invalid_field(run):
    assert run(b"multi_hset", b"h", b"a", b"1", b"", b"2", b"c", b"3") == [b"error"]
    assert run(b"hgetall", b"h") == [b"ok", b"a", b"1"]
    assert run(b"multi_hset", b"h", b"a", b"1", b"b") == [b"client_error"]


def test_multi_hdel_error_keeps_earlier_deletes(run):
    run(b"multi_hset", b"h", b"a", b"1", b"b", b"2")
    assert run(b"multi_hdel", b"h", b"a", b"x" * 256, b"b") == [b"error"]
    assert run(b"hgetall", b"h") == [b"ok", b"b", b"2"]


def test_hincr_parsing_and_wrapping(run):
    assert run(b"hincr", b"h", b"n", b"5x") == [b"ok", b"5"]
    assert run(b"hincr", b"h", b"n", b"abc") == [b"ok", b"5"]
    assert run(b"hdecr", b"h", b"m", b"-9223372036854775808") == [b"ok", b"-9223372036854775808"]
    assert run(b"hincr", b"h", b"x", b"9223372036854775807") == [b"ok", b"9223372036854775807"]
    assert run(b"hincr", b"h", b"x") == [b"ok", b"-9223372036854775808"]
    assert run(b"hincr", b"", b"x") == [b"error"]


def test_long_names_read_as_missing(run):
    long = b"n" * 256
    assert run(b"hget", long, b"f") == [b"not_found"]
    assert run(b"hgetall", long) == [b"ok"]
    assert run(b"hsize", long) == [b"ok", b"0"]
    assert run(b"hclear", long) == [b"ok", b"0"]
    assert run(b"hset", long, b"f", b"v") == [b"error"]


def test_scan_limits_are_uint_parsed(run):
    run(b"multi_hset", b"h", b"a", b"1", b"b", b"2", b"\xff", b"3")
    assert run(b"hkeys", b"h", b"", b"", b"-1") == [b"ok", b"a", b"b", b"\xff"]
    assert run(b"hkeys", b"h", b"", b"", b"abc") == [b"ok"]
    assert run(b"hrscan", b"h", b"", b"", b"-1") == [b"ok", b"\xff", b"3", b"b", b"2", b"a", b"1"]
    assert run(b"hlist", b"", b"", b"-1") == [b"ok", b"h"]
