"""Five convergent masters in a ring (each follows the one before it): every write reaches the
others only by forwarding, through up to four hops; all five are written at once on the same
keys, one ring link is cut and healed mid-load, and one node's clock runs five minutes ahead.
At the end every node holds the same data and every item the value of a highest-stamped
acknowledged write (the model of tests/replication/test_convergent.py)."""

from __future__ import annotations

import pytest

from tests.harness.proxy import FaultProxy
from tests.replication.test_convergent import SKEW_MS, clock, load_through_a_partition, mirror, wait_convergent

NODES = 5


@pytest.mark.timeout(120)
def test_five_masters_in_a_ring_converge_with_a_link_cut_and_a_skewed_clock(server_factory, monkeypatch):
    nodes = [server_factory(f"n{i}", start=False) for i in range(NODES)]
    proxy = FaultProxy(nodes[0].port).start()  # n1's link to n0: the ring's cut
    try:
        for i, n in enumerate(nodes):
            up = nodes[i - 1]  # n0 follows n4
            n.write_config([mirror(up, up.name, proxy.port if i == 1 else None)])
        for i, n in enumerate(nodes):
            if i == 2:
                monkeypatch.setenv("SSDBPY_CLOCK_OFFSET_MS", str(SKEW_MS))
            n.start()
            monkeypatch.delenv("SSDBPY_CLOCK_OFFSET_MS", raising=False)
        wait_convergent(nodes, links=1, timeout=60)
        with nodes[0].client() as c0, nodes[2].client() as c2:
            assert clock(c2) - clock(c0) > (SKEW_MS // 2) << 16  # the skew is real

        def partition() -> None:  # n0's writes, and what n0 forwards, reach no one else now
            proxy.cut()
            proxy.refuse()

        load_through_a_partition(nodes, partition, proxy.resume, min_writes=30, timeout=60,
                                 label=f"ring of {NODES}")
        wait_convergent(nodes, links=1)
    finally:
        proxy.close()
