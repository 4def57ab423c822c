"""Replay the recorded SSDB 1.9.8 queue vectors in-process through the dispatcher.

Every line of ``vectors/queue.jsonl`` is sent, in order, to a fresh database
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
FILE = VECTORS / "queue.jsonl"

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
    db = Database.open(str(tmp_path_factory.mktemp("queue_vectors")))
    ctx = Context(ServerState(db))
    out: dict[int, tuple[dict, list[bytes] | None]] = {}
    try:
        for lineno, vec in load(FILE):
            if "config" in vec:
                assert not vec["config"], "queue vectors need no server options"
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


# --- edge cases beyond the recorded vectors (commands.md §5) ------------------------------
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


def test_qrange_limit_zero_and_negative(run):
    run(b"qpush", b"q", b"a", b"b", b"c")
    assert run(b"qrange", b"q", b"0", b"0") == [b"ok", b"a", b"b", b"c"]  # end = offset-1 = -1
    assert run(b"qrange", b"q", b"1", b"0") == [b"ok"]
    assert run(b"qrange", b"q", b"1", b"-5") == [b"ok", b"b", b"c"]


def test_pop_and_trim_sizes_are_uint_parsed(run):
    run(b"qpush", b"q", b"a", b"b", b"c", b"d", b"e")
    assert run(b"qpop_back", b"q", b"abc") == [b"ok"]
    assert run(b"qtrim_back", b"q", b"-1") == [b"ok", b"5"]
    run(b"qpush", b"q", b"a", b"b")
    assert run(b"qpop", b"q", b"-1") == [b"ok", b"a", b"b"]
    assert run(b"qtrim_front", b"q", b"0") == [b"ok", b"0"]


def test_push_into_a_full_queue_keeps_earlier_items(run):
    from ssdbpy.db.queue import SEQ_MAX

    run(b"qpush", b"q", b"a")
    run.db.engine.put(b"q\x01q" + (3).to_bytes(8, "big"), (SEQ_MAX - 2).to_bytes(8, "little"))
    assert run(b"qpush", b"q", b"b", b"c") == [b"error"]
    assert run(b"qsize", b"q") == [b"ok", b"2"]
    assert run(b"qback", b"q") == [b"ok", b"b"]
    assert run(b"qpush_front", b"q", b"z") == [b"ok", b"3"]


def test_corrupt_records_answer_error(run):
    run(b"qpush", b"q", b"a")
    run.db.engine.put(b"Qq", b"\x01")
    assert run(b"qsize", b"q") == [b"error"]
    assert run(b"qpush", b"q", b"b") == [b"error"]
    assert run(b"qpop", b"q") == [b"error"]
    assert run(b"qpop", b"q", b"2") == [b"ok"]
    assert run(b"qset", b"q", b"0", b"x") == [b"error", b"index out of range"]
    assert run(b"qfix", b"q") == [b"ok"]
    assert run(b"qsize", b"q") == [b"ok", b"1"]


def test_long_names(run):
    long = b"n" * 256
    assert run(b"qpush", long, b"x") == [b"error"]
    assert run(b"qpop", long) == [b"not_found"]
    assert run(b"qsize", long) == [b"ok", b"0"]
    assert run(b"qslice", long, b"0", b"-1") == [b"ok"]
    assert run(b"qset", long, b"0", b"x") == [b"error", b"index out of range"]
    assert run(b"qclear", long) == [b"ok", b"0"]
