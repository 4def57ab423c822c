"""ssdb-bench and ssdb-repair against real ssdbpy processes and data directories."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.harness.server import REPO, free_port

pytestmark = pytest.mark.timeout(90)

PHASES = ["set", "get", "del", "hset", "hget", "hdel", "zset", "zget", "zdel", "qpush", "qpop"]


def tool(name: str, *args: str, cwd=None, env=None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, str(REPO / "tools" / name), *args], capture_output=True, text=True,
                       timeout=60, cwd=cwd, stdin=subprocess.DEVNULL, env=env)
    print("rc:", p.returncode, "\nstdout:\n", p.stdout, "\nstderr:\n", p.stderr)
    return p


# --- ssdb-bench ------------------------------------------------------------------------------
def test_bench_phases_and_output(server):
    p = tool("ssdb-bench", "127.0.0.1", str(server.port), "300", "7")
    assert p.returncode == 0
    assert p.stdout.startswith("ssdb-bench - SSDB benchmark tool, 1.9.8\n")
    assert "Usage:\n    ssdb-bench [ip] [port] [requests] [clients]\n" in p.stdout
    phases = re.findall(r"^========== (\w+) ==========\nqps: (\d+), time: (\d+\.\d{3}) s$", p.stdout, re.M)
    assert [ph for ph, _, _ in phases] == PHASES
    assert all(int(q) > 0 for _, q, _ in phases)
    assert p.stdout.endswith(" s\n\n")
    c = server.client()
    # every phase removed what the previous one wrote
    assert c("keys", "", "", "-1") == [b"ok"]
    assert c("hsize", "TEST") == [b"ok", b"0"] and c("zsize", "TEST") == [b"ok", b"0"]
    assert c("qsize", "TEST") == [b"ok", b"0"]
    c.close()


def test_bench_version_flag_and_failures(server_factory):
    p = tool("ssdb-bench", "-v")
    assert p.returncode == 0 and "Usage:" in p.stdout and "==========" not in p.stdout
    p = tool("ssdb-bench", "127.0.0.1", str(free_port()), "10", "2")
    assert p.returncode == 1 and "connect error!" in p.stderr
    ro = server_factory("ro", server={"readonly": "yes"})
    p = tool("ssdb-bench", "127.0.0.1", str(ro.port), "10", "2")
    assert p.returncode == 1
    assert "bad response: client_error Forbidden Command: set" in p.stderr


def test_bench_password(server_factory):
    pw = "p" * 32
    srv = server_factory("auth", server={"auth": pw})
    base = ["127.0.0.1", str(srv.port), "50", "3"]
    env = {k: v for k, v in os.environ.items() if k != "SSDB_AUTH"}
    p = tool("ssdb-bench", *base, env=env)
    assert p.returncode == 1 and "bad response: noauth authentication required." in p.stderr
    assert "    -a <pw>     Password (default: the environment variable SSDB_AUTH)\n" in p.stdout
    for args, extra in (([*base, "-a", pw], {}), (["-a", pw, *base], {}), (base, {"SSDB_AUTH": pw})):
        p = tool("ssdb-bench", *args, env={**env, **extra})
        assert p.returncode == 0, args
        assert re.findall(r"^========== (\w+) ==========$", p.stdout, re.M) == PHASES
    p = tool("ssdb-bench", *base, "-a", "w" * 32, env=env)
    assert p.returncode == 1 and "auth failed: error invalid password" in p.stderr
    p = tool("ssdb-bench", *base, "-a", env=env)
    assert p.returncode == 1 and "-a needs a password" in p.stderr


# --- ssdb-repair -----------------------------------------------------------------------------
def test_repair_usage_and_missing_folder(tmp_path):
    p = tool("ssdb-repair")
    assert p.returncode == 0
    assert p.stdout.startswith("ssdb-repair - SSDB repair tool\n") and "leveldb_folder" in p.stdout
    p = tool("ssdb-repair", str(tmp_path / "nope"))
    assert p.returncode == 1 and f"leveldb_folder[{tmp_path / 'nope'}] not exists!" in p.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    p = tool("ssdb-repair", str(empty))
    assert p.returncode == 1 and "holds no LevelDB files" in p.stderr


def test_repair_refuses_a_live_server(server):
    c = server.client()
    c("set", "a", "1")
    c.close()
    before = sorted(p.name for p in (server.work_dir / "data").iterdir())
    for target in (server.work_dir / "data", server.work_dir):
        p = tool("ssdb-repair", str(target))
        assert p.returncode == 1 and "is in use by a running server" in p.stderr
    assert sorted(p.name for p in (server.work_dir / "data").iterdir()) == before


def test_repair_recovers_a_lost_manifest(server, tmp_path):
    c = server.client()
    c.send_many([("set", f"k{i:05d}", "v" * 50) for i in range(3000)])
    for _ in range(3000):
        c.read()
    assert c("hset", "h", "f", "x")[0] == b"ok"
    c.close()
    server.stop()
    data = server.work_dir / "data"
    for f in data.iterdir():  # the descriptor is gone: LevelDB cannot open the db any more
        if f.name == "CURRENT" or f.name.startswith("MANIFEST-"):
            f.unlink()
    p = tool("ssdb-repair", str(data), cwd=tmp_path)
    assert p.returncode == 0
    assert "leveldb repaired.\n" in p.stdout and "Compactions" in p.stdout
    server.start()
    c = server.client()
    got = c("scan", "", "", "-1")
    assert len(got) == 1 + 2 * 3000 and got[1] == b"k00000"
    assert c("hget", "h", "f") == [b"ok", b"x"]
    c.close()


def test_repair_a_work_dir_repairs_data_and_meta(server, tmp_path):
    c = server.client()
    c("set", "a", "1")
    c.close()
    server.stop()
    p = tool("ssdb-repair", str(server.work_dir))
    assert p.returncode == 0
    assert p.stdout.count("leveldb repaired.\n") == 2
    assert f"repairing {server.work_dir / 'data'}" in p.stdout and f"repairing {server.work_dir / 'meta'}" in p.stdout
    server.start()
    c = server.client()
    assert c("get", "a") == [b"ok", b"1"]
    c.close()
