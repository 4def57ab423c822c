from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
import redis

from tests.harness.server import ServerProcess, free_port, wait_for


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for srv in getattr(item, "_ssdb_servers", []):
            rep.sections.append((f"server {srv.name} logs", srv.logs()))


@pytest.fixture
def server_factory(tmp_path, request):
    """Make ServerProcess objects that are stopped (or killed) when the test ends."""
    started: list[ServerProcess] = []
    request.node._ssdb_servers = started

    def make(name: str = "node", start: bool = True, **kw) -> ServerProcess:
        srv = ServerProcess(tmp_path, name, **kw)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in started:
        try:
            srv.stop()
        finally:
            srv.kill()


@pytest.fixture
def reference_factory(server_factory, tmp_path, request):
    """Make real SSDB 1.9.8 servers (ReferenceServer), stopped with the test's ssdbpy servers.

    Skips the test when the reference binary is absent.
    """
    from tests.harness import reference

    if not reference.available():
        pytest.skip(reference.SKIP_REASON)
    started = request.node._ssdb_servers  # the list server_factory stops at teardown

    def make(name: str = "ref", start: bool = True, **kw) -> ServerProcess:
        srv = reference.ReferenceServer(tmp_path, name, **kw)
        started.append(srv)
        if start:
            srv.start()
        return srv

    return make


@pytest.fixture
def server(server_factory) -> ServerProcess:
    return server_factory()


@pytest.fixture
def redis_server(tmp_path):
    """The port of a real redis-server (no persistence) on 127.0.0.1, stopped after the test;
    skips the test when redis-server is not installed."""
    path = shutil.which("redis-server")
    if not path:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                 what="redis-server to listen")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def sentinels(tmp_path):
    """``start(master_port, n=3, **options)``: ``n`` real redis-sentinel processes on 127.0.0.1
    monitoring ``mymaster`` at ``master_port`` (quorum 2), each option a ``sentinel <option>
    mymaster <value>`` line (``down_after_milliseconds=1000`` →
    ``down-after-milliseconds``); returns their ports. Skips without redis-sentinel; stops them
    after the test."""
    path = shutil.which("redis-sentinel")
    if not path:
        pytest.skip("redis-sentinel is not installed (apt-get install redis-sentinel)")
    procs = []

    def start(master_port: int, n: int = 3, **options: int) -> list[int]:
        ports = []
        for i in range(n):
            d = tmp_path / f"sentinel{i}"
            d.mkdir()
            port = free_port()
            (d / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\nlogfile {d}/log.txt\n"
                f"sentinel monitor mymaster 127.0.0.1 {master_port} 2\n"
                + "".join(f"sentinel {k.replace('_', '-')} mymaster {v}\n" for k, v in options.items()))
            procs.append(subprocess.Popen([path, str(d / "sentinel.conf")], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            ports.append(port)
        for port in ports:
            wait_for(lambda: redis.Redis(port=port).ping(), what="sentinel to listen")
        return ports

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
