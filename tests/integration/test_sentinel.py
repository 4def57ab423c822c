"""A real Redis Sentinel monitors an ssdbpy master: INFO, PING, CLIENT, and peer discovery over pub/sub.

Sentinel reads the master's INFO (``run_id``, ``role``), sends PING and
CLIENT SETNAME, and finds the other Sentinels through the ``__sentinel__:hello``
channel on the monitored node (PUBLISH and SUBSCRIBE).  Skipped without
``redis-sentinel`` (Debian package ``redis-sentinel``).
"""

from __future__ import annotations


import pytest
import redis

from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(90)


def test_sentinel_monitors_an_ssdbpy_master(server, sentinels):
    ports = sentinels(server.port, n=2, down_after_milliseconds=3000)
    s = redis.Redis(port=ports[0], decode_responses=True)
    with redis.Redis(port=server.port, decode_responses=True) as node:
        run_id = node.info("server")["run_id"]

    def state():
        return s.sentinel_master("mymaster")

    wait_for(lambda: state()["role-reported"] == "master" and state()["runid"] == run_id,
             timeout=30, what="sentinel reads INFO")
    wait_for(lambda: state()["num-other-sentinels"] == 1, timeout=30, what="the sentinels meet on __sentinel__:hello")
    m = state()
    assert m["is_master"] and not m["is_sdown"] and not m["is_odown"] and not m["is_disconnected"], m
    assert s.execute_command("SENTINEL", "CKQUORUM", "mymaster").startswith("OK")
    with redis.Redis(port=server.port, decode_responses=True) as node:
        names = [c["name"] for c in node.client_list()]
        assert any(n.startswith("sentinel-") for n in names), names
        assert node.pubsub_numsub("__sentinel__:hello")[0][1] == 2
