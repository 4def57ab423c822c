"""Backups across the two servers (skipped when the reference SSDB binary is absent).

* SSDB 1.9.8's own ``ssdb-dump`` run against an ssdbpy server makes a folder
  that both ssdbpy and the reference server open as their work_dir, holding
  exactly what the ssdbpy server held;
* ssdbpy's ``ssdb-dump`` run against the reference server does the same the
  other way round.

Every key of every type is compared (the TTL index included), and both
restored nodes then take writes and survive a restart.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.harness import reference
from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import REPO, ServerProcess
from tests.integration.test_dump import load_all_types

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(not reference.available(), reason=reference.SKIP_REASON)]

SSDBPY_DUMP = [sys.executable, str(REPO / "tools" / "ssdb-dump")]
REFERENCE_DUMP = [str(reference.BINARY.parent / "ssdb-dump")]


@pytest.fixture
def nodes(server_factory, reference_factory):
    """``nodes(name, kind, start)``: an ssdbpy (``kind="ssdbpy"``) or reference SSDB node."""
    def make(name: str, kind: str, start: bool = True) -> ServerProcess:
        return (reference_factory if kind == "reference" else server_factory)(name, start=start)

    return make


def _fill(node: ServerProcess) -> dict:
    with node.client() as c:
        load_all_types(c, 3000)
        # values the loader does not make: empty, binary, big, zset scores at the int64 limits
        assert c("set", b"empty-value", b"")[0] == b"ok"
        assert c("set", b"\xff\x00bin", b"\x00" * 3)[0] == b"ok"
        assert c("set", "big", b"v" * 300_000)[0] == b"ok"
        assert c("hset", "h-empty-value", b"f", b"")[0] == b"ok"
        assert c("zset", "z-extremes", "lo", "-9223372036854775808")[0] == b"ok"
        assert c("zset", "z-extremes", "hi", "9223372036854775807")[0] == b"ok"
        return snapshot(c)


def _dump(tool: list[str], source: ServerProcess, out) -> None:
    p = subprocess.run([*tool, "127.0.0.1", str(source.port), str(out)], capture_output=True, text=True,
                       timeout=90, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    assert (out / "data" / "CURRENT").is_file()


def _open_backup(nodes, name: str, kind: str, backup) -> ServerProcess:
    node = nodes(name, kind, start=False)
    shutil.rmtree(node.work_dir)
    shutil.copytree(backup, node.work_dir)  # as SSDB documents: the backup folder is a work_dir
    return node.start()


def _check_restored(node: ServerProcess, want: dict) -> None:
    with node.client() as c:
        got = snapshot(c)
        assert got == want, f"{node.name}: " + describe_difference(want, got)
        assert c("ttl", "ttl5")[1] not in (b"-1", b"0")  # the TTL survived as a deadline
        assert c("set", "after-restore", "1") == [b"ok", b"1"]
        assert c("qpush_back", "q0", "after")[0] == b"ok"
        want_after = snapshot(c)
    node.restart()
    with node.client() as c:
        got = snapshot(c)
    assert got == want_after, f"{node.name} after a restart: " + describe_difference(want_after, got)


@pytest.mark.parametrize("source_kind, tool", [
    pytest.param("ssdbpy", REFERENCE_DUMP, id="reference-ssdb-dump-of-ssdbpy"),
    pytest.param("reference", SSDBPY_DUMP, id="ssdbpy-ssdb-dump-of-reference"),
    pytest.param("ssdbpy", SSDBPY_DUMP, id="ssdbpy-ssdb-dump-of-ssdbpy"),
    pytest.param("reference", REFERENCE_DUMP, id="reference-ssdb-dump-of-reference"),
])
def test_backup_opens_in_both_servers(nodes, tmp_path, source_kind, tool):
    source = nodes("source", source_kind)
    want = _fill(source)
    backup = tmp_path / "backup"
    _dump(tool, source, backup)
    source.stop()
    for kind in ("ssdbpy", "reference"):
        _check_restored(_open_backup(nodes, f"restored-{kind}", kind, backup), want)
