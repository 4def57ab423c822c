"""Prometheus's redis_exporter scrapes ssdbpy: up, role, keys, memory, replication (INFO in Redis's layout).

Skipped without the ``prometheus-redis-exporter`` binary (Debian package of the same name).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request

import pytest
import redis

from tests.harness.server import free_port, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def exporter():
    path = shutil.which("prometheus-redis-exporter") or shutil.which("redis_exporter")
    if not path:
        pytest.skip("prometheus-redis-exporter is not installed (apt-get install prometheus-redis-exporter)")
    procs = []

    def start(redis_port: int) -> str:
        port = free_port()
        procs.append(subprocess.Popen([path, "-redis.addr", f"redis://127.0.0.1:{redis_port}",
                                       "-web.listen-address", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: urllib.request.urlopen(url, timeout=5).status == 200, what="the exporter to listen")
        return url

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def metrics(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(redis_\w+(?:\{[^}]*\})?) (\S+)", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_exporter_reports_role_keys_memory(server_factory, exporter):
    master = server_factory("master")
    slave = server_factory("slave", slaveof=[master.slaveof()])
    with redis.Redis(port=master.port) as r:
        for i in range(5):
            r.set(f"k{i}", "v")
        r.setex("t", 100, "v")
        r.hset("h", "f", "v")
    m = metrics(exporter(master.port))
    assert m["redis_up"] == 1 and m['redis_exporter_last_scrape_error{err=""}'] == 0
    assert m['redis_db_keys{db="db0"}'] == 7 and m['redis_db_keys_expiring{db="db0"}'] == 1
    assert m["redis_memory_used_bytes"] > 1 << 20
    info = [k for k in m if k.startswith("redis_instance_info{")]
    assert len(info) == 1 and 'role="master"' in info[0] and 'redis_version="7.0.0"' in info[0]
    surl = exporter(slave.port)
    link = f'redis_master_link_up{{master_host="127.0.0.1",master_port="{master.port}"}}'
    wait_for(lambda: metrics(surl).get(link) == 1, what="the slave's link up")
    s = metrics(surl)
    assert any(k.startswith("redis_instance_info{") and 'role="slave"' in k for k in s)
    assert s['redis_db_keys{db="db0"}'] == 7
    assert metrics(exporter(master.port))["redis_connected_slaves"] == 1
