"""ssdb-dump: online backup over the network, restore into a fresh node, resume replication.

Every server is a real ssdbpy process; the tool runs as the operator runs it
(``tools/ssdb-dump`` in a subprocess, or under a pseudo-terminal for the
progress display).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import DATA, REPO, free_port, wait_for

pytestmark = pytest.mark.timeout(120)

TOOL = REPO / "tools" / "ssdb-dump"
FIXTURE = DATA / "fixtures" / "ssdb-1.9.8-data"
PW = "p" * 32


def run_dump(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    print("rc:", p.returncode, "\nstdout:\n", p.stdout[-3000:], "\nstderr:\n", p.stderr[-3000:])
    return p


def raw_entries(path: Path) -> dict[bytes, bytes]:
    """Every entry of a LevelDB directory (opened on a copy: LevelDB rewrites files on open)."""
    from ssdbpy.storage.engine import Engine

    tmp = path.parent / (path.name + ".peek")
    shutil.copytree(path, tmp)
    eng = Engine(str(tmp))
    try:
        return dict(eng.iterate())
    finally:
        eng.close()
        shutil.rmtree(tmp)


def load_all_types(c, n: int, prefix: str = "", seed: int = 7) -> None:
    """``n`` items spread over kv (with TTLs and binary), hashes, zsets and queues, pipelined."""
    rnd = random.Random(seed)
    batch: list[tuple] = []

    def flush():
        c.send_many(batch)
        for req in batch:
            r = c.read()
            assert r[0] == b"ok", (req, r)
        batch.clear()

    for i in range(n):
        kind = i % 10
        if kind < 4:
            batch.append(("set", f"{prefix}k{i:07d}", f"value-{i}-" + "x" * rnd.randrange(40)))
        elif kind == 4:
            batch.append(("set", f"{prefix}bin\x00{i}".encode(), bytes(rnd.randrange(256) for _ in range(12))))
        elif kind == 5:
            batch.append(("setx", f"{prefix}ttl{i}", "t", 100000 + i))
        elif kind == 6:
            batch.append(("hset", f"{prefix}h{i % 97}", f"f{i}", f"hv{i}"))
        elif kind == 7:
            batch.append(("zset", f"{prefix}z{i % 89}", f"m{i}", rnd.randrange(-10**9, 10**9)))
        elif kind == 8:
            batch.append(("qpush_back", f"{prefix}q{i % 83}", f"item{i}"))
        else:
            batch.append(("qpush_front", f"{prefix}q{i % 83}", f"front{i}"))
        if len(batch) >= 2000:
            flush()
    flush()


class LiveWriter(threading.Thread):
    """Keeps writing keys under ``live`` (all types, incr and pushes included) until stopped."""

    def __init__(self, srv) -> None:
        super().__init__(daemon=True)
        self.c = srv.client()
        self.stop_event = threading.Event()
        self.rounds = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            i = 0
            while not self.stop_event.is_set():
                reqs = []
                for _ in range(50):
                    i += 1
                    reqs += [("incr", "live:n", 1), ("set", f"live:k{i % 300}", f"v{i}"),
                             ("hset", "live:h", f"f{i % 50}", i), ("zset", "live:z", f"m{i % 70}", i),
                             ("qpush_back", "live:q", f"i{i}")]
                    if i % 7 == 0:
                        reqs += [("del", f"live:k{(i * 13) % 300}"), ("qpop_front", "live:q")]
                self.c.send_many(reqs)
                for _ in reqs:
                    assert self.c.read()[0] in (b"ok", b"not_found")
                self.rounds += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.c.close()

    def finish(self) -> None:
        self.stop_event.set()
        self.join(30)
        assert self.error is None, self.error


def without_live(snap: dict) -> dict:
    def keep(k) -> bool:
        return not (isinstance(k, bytes) and k.startswith(b"live"))

    out: dict = {}
    for kind, items in snap.items():
        out[kind] = {k: v for k, v in items.items() if keep(k)}
    # the TTL index lists kv keys: the live writer sets none
    return out


def slave_block(c) -> str:
    info = c("info")
    for i, b in enumerate(info):
        if b == b"replication" and info[i + 1].startswith(b"slaveof"):
            return info[i + 1].decode()
    return ""


# --- command line --------------------------------------------------------------------
def test_refuses_existing_output_folder(server, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    p = run_dump("127.0.0.1", str(server.port), str(out))
    assert p.returncode == 1
    assert p.stdout.startswith("ssdb-dump - SSDB backup command\n")
    assert f"ERROR: output_folder[{out}] exists!" in p.stderr
    assert list(out.iterdir()) == []


def test_unreachable_server(server_factory, tmp_path):
    out = tmp_path / "bk"
    port = free_port()
    p = run_dump("-h", "127.0.0.1", "-p", str(port), "-o", str(out))
    assert p.returncode == 1
    assert "ERROR: error connecting to server: 127.0.0.1:" in p.stderr
    # the folder it created is gone, so the same command works once the server is up
    assert f"removed the incomplete backup folder {out}" in p.stderr
    assert not out.exists()
    server_factory("late", port=port)
    p = run_dump("-h", "127.0.0.1", "-p", str(port), "-o", str(out))
    assert p.returncode == 0 and "backup has been made to folder" in p.stdout


class _BrokenDumpServer:
    """Answers ``dump`` with ``begin`` and one entry, then closes (``hang``: stays silent)."""

    def __init__(self, hang: bool = False) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.hang = hang
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(1000)  # the dump request
            conn.sendall(b"5\nbegin\n\n3\nset\n2\nka\n1\n1\n\n")
            if self.hang:
                self.done.wait(30)

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.sock.close()


def test_dump_cut_off_mid_stream_leaves_nothing_and_can_be_retried(server_factory, tmp_path):
    broken = _BrokenDumpServer()
    out = tmp_path / "bk"
    try:
        p = run_dump("127.0.0.1", str(broken.port), str(out))
    finally:
        broken.close()
    assert p.returncode == 1
    assert "recv begin..." in p.stdout and "received 1 entry(s)" in p.stdout
    assert "ERROR: failed to dump data!" in p.stderr
    assert f"removed the incomplete backup folder {out}" in p.stderr
    assert not out.exists()
    srv = server_factory("real")
    c = srv.client()
    assert c("set", "a", "1")[0] == b"ok"
    c.close()
    p = run_dump("127.0.0.1", str(srv.port), str(out))  # the same command again
    assert p.returncode == 0
    assert raw_entries(out / "data") == {b"ka": b"1"}


def test_dump_stopped_by_sigterm_leaves_nothing(tmp_path):
    import signal

    broken = _BrokenDumpServer(hang=True)
    out = tmp_path / "bk"
    proc = subprocess.Popen([sys.executable, str(TOOL), "127.0.0.1", str(broken.port), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        while "received 1 entry(s)" not in proc.stdout.readline():
            pass
        assert out.is_dir()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
        broken.close()
    assert proc.returncode == 128 + signal.SIGTERM
    assert f"removed the incomplete backup folder {out}" in err
    assert not out.exists()


def test_usage_without_output_folder():
    p = run_dump("-h", "127.0.0.1")
    assert p.returncode == 1
    assert "ERROR: -o <output_folder> is required!" in p.stderr
    assert "Usage: ssdb-dump -o output_folder" in p.stdout and "--restore" in p.stdout


def test_auth(server_factory, tmp_path):
    srv = server_factory("authed", server={"auth": PW})
    p = run_dump("127.0.0.1", str(srv.port), str(tmp_path / "noauth"))
    assert p.returncode == 1
    assert "noauth: authentication required." in p.stderr and "ERROR: failed to dump data!" in p.stderr
    p = run_dump("-h", "127.0.0.1", "-p", str(srv.port), "-a", "x" * 32, "-o", str(tmp_path / "bad"))
    assert p.returncode == 1 and "ERROR: auth error!" in p.stderr
    assert not (tmp_path / "noauth").exists() and not (tmp_path / "bad").exists()
    c = srv.client()
    assert c("auth", PW)[0] == b"ok"
    assert c("set", "a", "1")[0] == b"ok"
    c.close()
    p = run_dump("127.0.0.1", str(srv.port), str(tmp_path / "ok"), PW)  # old style with the password last
    assert p.returncode == 0
    assert raw_entries(tmp_path / "ok" / "data") == {b"ka": b"1"}


def test_output_as_ssdb_dump(server, tmp_path):
    c = server.client()
    c.send_many([("set", f"d{i}", i) for i in range(12)])
    for _ in range(12):
        c.read()
    out = tmp_path / "bk"
    p = run_dump("-h", "127.0.0.1", "-p", str(server.port), "-o", str(out))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[:4] == ["ssdb-dump - SSDB backup command", "Copyright (c) 2012-2015 ssdb.io", "", "recv begin..."]
    assert lines[4:8] == ["received 1 entry(s)", "received 10 entry(s)", "received 12 entry(s)", "recv end"]
    assert "total dumped 12 entry(s)" in lines and "compacting data..." in lines
    assert lines[-1] == f"backup has been made to folder: {out}"
    assert p.stderr == ""  # no progress display when not on a terminal
    assert sorted(os.listdir(out)) == ["backup.json", "data", "meta"]
    assert os.listdir(out / "meta") == []
    info = json.loads((out / "backup.json").read_text())
    assert info["complete"] is True and info["entries"] == 12
    assert info["binlog_seq"] == int(c("info")[c("info").index(b"binlogs") + 1].split()[-1])
    c.close()


def test_progress_display_on_a_terminal(server, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    c = server.client()
    load_all_types(c, 3000)
    c.close()
    out = tmp_path / "bk"
    child = pexpect.spawn(sys.executable, [str(TOOL), "127.0.0.1", str(server.port), str(out)],
                          encoding="utf-8", timeout=30, dimensions=(24, 200))
    child.expect(r"keys/s")
    child.expect(pexpect.EOF)
    text = child.before
    child.close()
    assert child.exitstatus == 0
    assert "backup has been made to folder" in text
    assert "received 10 entry(s)" not in text  # the live line replaces the intermediate counts
    assert "received" in text and "keys" in text


# --- what a backup is ---------------------------------------------------------------
def test_backup_of_real_ssdb_data_holds_its_raw_entries(server_factory, tmp_path):
    """A backup holds exactly the user entries of the data db, byte for byte (binlog excluded),
    so real SSDB and ssdbpy read it as they read their own data/."""
    srv = server_factory("fx", start=False)
    shutil.rmtree(srv.work_dir)
    shutil.copytree(FIXTURE, srv.work_dir, ignore=shutil.ignore_patterns("manifest.json"))
    original = {k: v for k, v in raw_entries(srv.work_dir / "data").items() if k[:1] != b"\x01"}
    srv.start()
    out = tmp_path / "bk"
    assert run_dump("127.0.0.1", str(srv.port), str(out)).returncode == 0
    srv.stop()
    got = raw_entries(out / "data")
    # 'longlived' may have expired since the fixture was made (its TTL ran out on 2026-12-02 at
    # 06:18 UTC): then ssdbpy deleted it at start, with its entries in the expiry list and, that
    # list being left empty, the list's size record (as SSDB drops a zset's size record at 0)
    missing = set(original) - set(got)
    expire_list = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"
    size_record = b"Z" + expire_list
    assert all(b"longlived" in k or k == size_record for k in missing), missing
    if size_record in missing:
        assert b"klonglived" in missing
        assert not any(k.startswith(b"s" + bytes([len(expire_list)]) + expire_list) for k in got)
    assert got == {k: v for k, v in original.items() if k not in missing}


def test_backup_folder_is_a_work_dir(server_factory, tmp_path):
    master = server_factory("m")
    c = master.client()
    load_all_types(c, 2000)
    want = snapshot(c)
    c.close()
    out = tmp_path / "bk"
    assert run_dump("127.0.0.1", str(master.port), str(out)).returncode == 0
    node = server_factory("fromdir", start=False)
    shutil.rmtree(node.work_dir)
    shutil.copytree(out, node.work_dir)  # as SSDB documents: the backup folder is the work_dir
    node.start()
    c = node.client()
    got = snapshot(c)
    c.close()
    assert got == want, describe_difference(want, got)


# --- restore ----------------------------------------------------------------------------
def test_restore_refusals(server_factory, tmp_path):
    master = server_factory("m")
    c = master.client()
    c("set", "a", "1")
    c.close()
    out = tmp_path / "bk"
    assert run_dump("127.0.0.1", str(master.port), str(out)).returncode == 0
    # a running node: its data/ is locked
    p = run_dump("--restore", str(out), str(master.work_dir))
    assert p.returncode == 1 and "is in use by a running server" in p.stderr
    master.stop()
    p = run_dump("--restore", str(out), str(master.work_dir))
    assert p.returncode == 1 and "already exists" in p.stderr
    p = run_dump("--restore", str(tmp_path / "nothing"), str(tmp_path / "wd"))
    assert p.returncode == 1 and "not a backup folder" in p.stderr
    info = json.loads((out / "backup.json").read_text())
    (out / "backup.json").write_text(json.dumps({**info, "complete": False}))
    p = run_dump("--restore", str(out), str(tmp_path / "wd"))
    assert p.returncode == 1 and "incomplete backup" in p.stderr
    assert not (tmp_path / "wd" / "data").exists()


def test_restore_without_binlog_position_refuses_slave_id(server_factory, tmp_path):
    srv = server_factory("nobinlog", binlog=False)
    c = srv.client()
    c("set", "a", "1")
    c.close()
    out = tmp_path / "bk"
    assert run_dump("127.0.0.1", str(srv.port), str(out)).returncode == 0
    assert json.loads((out / "backup.json").read_text())["binlog_seq"] is None
    p = run_dump("--restore", str(out), str(tmp_path / "wd"), "--slave-id", "m")
    assert p.returncode == 1 and "records no binlog position" in p.stderr
    p = run_dump("--restore", str(out), str(tmp_path / "wd"))
    assert p.returncode == 0 and (tmp_path / "wd" / "data" / "CURRENT").exists()


@pytest.mark.timeout(180)
def test_dump_100k_under_writes_restore_compare_and_resume(server_factory, tmp_path):
    """100,000 items of every type, dumped while writes continue; restored into a fresh node the
    backup equals the master key by key (except the keys still being written, which show one
    instant of the writes); attached as a slave the node resumes from the backup's binlog
    position without a copy and converges with the master."""
    t0 = time.monotonic()
    master = server_factory("master")
    m = master.client(timeout=60)
    load_all_types(m, 100_000)
    loaded = time.monotonic()

    writer = LiveWriter(master)
    writer.start()
    wait_for(lambda: writer.rounds >= 3, timeout=20, what="live writes")
    out = tmp_path / "bk"
    rounds_before = writer.rounds
    p = run_dump("127.0.0.1", str(master.port), str(out))
    rounds_during = writer.rounds - rounds_before
    writer.finish()
    assert p.returncode == 0
    assert rounds_during > 0, "the writes did not continue during the dump"
    info = json.loads((out / "backup.json").read_text())
    assert info["complete"] and info["binlog_seq"] > 100_000 and info["entries"] > 100_000
    dumped = time.monotonic()

    # restore into a fresh node that names the master with an explicit slave id
    node = server_factory("restored", start=False)  # first standalone: compare the backup itself
    p = run_dump("--restore", str(out), str(node.work_dir), "--slave-id", "main")
    assert p.returncode == 0 and "binlog seq" in p.stdout
    from ssdbpy.storage.backup import read_slave_position

    assert read_slave_position(str(node.work_dir / "meta"), "main") == (info["binlog_seq"], b"")
    node.start()
    r = node.client(timeout=60)
    want, got = snapshot(m), snapshot(r)
    assert without_live(got) == without_live(want), describe_difference(without_live(want), without_live(got))
    assert len(got["kv"]) > 40_000
    # the live keys show one instant of the writer: a counter and a queue that only grew
    n_backup, n_final = int(r("get", "live:n")[1]), int(m("get", "live:n")[1])
    assert 0 < n_backup < n_final
    assert r("info")[r("info").index(b"binlogs") + 1].endswith(b"max_seq  : 0")  # the restored node wrote nothing
    r.close()
    node.stop()

    # attach it as a slave: sync recover from the backup's position, no full copy
    node.write_config([master.slaveof(id_="main")])
    node.start()
    r = node.client(timeout=60)
    wait_for(lambda: "status     : SYNC" in slave_block(r), timeout=30, what="slave in SYNC")
    m("set", "after", "dump")
    m("qpush_back", "live:q", "after")
    m("incr", "live:n", 1)
    wait_for(lambda: r("get", "after") == [b"ok", b"dump"], timeout=30, what="writes after the dump")
    block = slave_block(r)
    assert "copy_count : 0" in block, block
    want = snapshot(m)
    wait_for(lambda: snapshot(r) == want, timeout=30, interval=0.5, what="restored slave to converge")
    r.close()
    m.close()
    print(f"load {loaded - t0:.1f}s, dump {dumped - loaded:.1f}s, restore+compare {time.monotonic() - dumped:.1f}s")
