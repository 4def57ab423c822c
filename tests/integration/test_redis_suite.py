"""benchmarks/redis_suite.py: its output parser and its harness patches (on a fake copy of the tests)."""

from __future__ import annotations

import pytest

from benchmarks import redis_suite

pytestmark = pytest.mark.timeout(30)

OUTPUT = (
    "Testing unit/type/incr\n"
    "\x1b[0;32;49m[ok]\x1b[0m: INCR against non existing key (1 ms)\n"
    "[err]: INCR fails against key with spaces (left) in tests/unit/type/incr.tcl\n"
    "Expected 'ERR*' to equal or match '1'\n"
    "[ignore]: INCR can modify objects in-place: Tag: needs:debug denied\n"
    "[ok]: INCR against non existing key (0 ms)\n"
    "[exception]: Executing test client: ERR Unknown Command: config.\n"
    "*** [err]: INCR fails against key with spaces (left) in tests/unit/type/incr.tcl\n"
)


def test_parse():
    assert redis_suite.parse(OUTPUT) == [
        ("ok", "INCR against non existing key"),
        ("err", "INCR fails against key with spaces (left)"),
        ("ignore", "INCR can modify objects in-place: Tag: needs:debug denied"),
        ("ok", "INCR against non existing key #2"),  # a name seen again is numbered
        ("exception", "Executing test client: ERR Unknown Command: config."),
    ]
    assert redis_suite.counts(redis_suite.parse(OUTPUT)) == {"ok": 2, "err": 2, "ignore": 1}


def _fake_tests(root):
    """Files holding each patched text once, between other lines."""
    for rel, old, _new in redis_suite.HARNESS_PATCHES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((path.read_text() if path.exists() else "") + "# before\n" + old + "# after\n")
    (root / "tests" / "tmp").mkdir()
    (root / "tests" / "tmp" / "leftover").write_text("x")


def test_prepare_applies_every_patch_once(tmp_path):
    _fake_tests(tmp_path / "src")
    dest = redis_suite.prepare(tmp_path / "src", tmp_path / "copy")
    expected = {}
    for rel, old, new in redis_suite.HARNESS_PATCHES:
        expected[rel] = expected.get(rel, (tmp_path / "src" / rel).read_text()).replace(old, new)
    for rel, text in expected.items():
        assert (dest / rel).read_text() == text != (tmp_path / "src" / rel).read_text()
    for rel, _old, new in redis_suite.HARNESS_PATCHES:
        assert (dest / rel).read_text().count(new) == 1
    assert list((dest / "tests" / "tmp").iterdir()) == []  # a fresh tmp, not the source's
    assert (tmp_path / "src" / "tests" / "tmp" / "leftover").exists()  # the source is not changed


def test_prepare_refuses_a_copy_the_patches_do_not_fit(tmp_path):
    _fake_tests(tmp_path / "src")
    rel, old, _new = redis_suite.HARNESS_PATCHES[0]
    (tmp_path / "src" / rel).write_text("nothing to patch\n")
    with pytest.raises(SystemExit, match="harness patch does not apply"):
        redis_suite.prepare(tmp_path / "src", tmp_path / "copy")
    with pytest.raises(SystemExit, match="no tests/test_helper.tcl"):
        redis_suite.prepare(tmp_path / "nowhere", tmp_path / "copy2")


def test_prepare_with_a_seed(tmp_path):
    _fake_tests(tmp_path / "src")
    rel, old, _new = redis_suite.seed_patch(42)
    with open(tmp_path / "src" / rel, "a") as f:
        f.write(old)
    dest = redis_suite.prepare(tmp_path / "src", tmp_path / "copy", seed=42)
    text = (dest / "tests" / "test_helper.tcl").read_text()
    assert "    set ::curfile $path\n    expr {srand(42)}\n    source $path\n" in text
    plain = redis_suite.prepare(tmp_path / "src", tmp_path / "copy2")
    assert "srand" not in (plain / "tests" / "test_helper.tcl").read_text()
