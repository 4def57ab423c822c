"""Replay the recorded kv, hash and queue vectors in-process through the dispatcher.

Each file runs in order on a fresh database, committing after every request as
the server does per batch; every line must give exactly the recorded reply.
(zset.jsonl, with its deliberate fixes, has its own test_zset_vectors.py.)
"""

from __future__ import annotations

import pytest

from tests.harness.inprocess import line_numbers, matches, replay

pytestmark = pytest.mark.timeout(60)

FILES = ("kv.jsonl", "hash.jsonl", "queue.jsonl")
CASES = [(f, n) for f in FILES for n in line_numbers(f)]


def test_vector_files_present():
    for f in FILES:
        assert line_numbers(f), f"{f} not found"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    return {f: replay(f, tmp_path_factory.mktemp(f.split(".")[0])) for f in FILES}


@pytest.mark.parametrize(("name", "lineno"), CASES, ids=[f"{f}:{n}" for f, n in CASES])
def test_vector(replayed, name, lineno):
    v, got = replayed[name][lineno]
    assert matches(v, got), f"{v.id} {v.send}: expected {v.expect}, got {got}"
