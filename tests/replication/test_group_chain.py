"""Chains of aligned links (A -> B -> C, each attached with Redis's SLAVEOF) when the middle
node changes history (docs/replication.md, "Replication groups", "Chains"): C resumes
whenever its data is a state of its master's history, and gets a full copy otherwise --
never a stream that skips part of the history."""

from __future__ import annotations

import pytest
import redis

from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(90)


def r(node) -> redis.Redis:
    return redis.Redis(port=node.port, decode_responses=True, socket_timeout=10)


def copies(node) -> int:
    """Full copies this node received."""
    return node.log_path.read_text().count("copy begin")


def caught_up(master, slave) -> bool:
    seq = r(master).info("replication")["master_repl_offset"]
    info = r(slave).info("replication")
    return (info.get("master_port") == master.port and info.get("master_link_status") == "up"
            and info["slave_repl_offset"] == seq)


def identical(*nodes) -> None:
    snaps = []
    for n in nodes:
        with n.client() as c:
            snaps.append(snapshot(c))
    for s in snaps[1:]:
        assert s == snaps[0], describe_difference(snaps[0], s)


def chain(server_factory):
    a, b, c = (server_factory(n) for n in ("a", "b", "c"))
    for i in range(20):
        r(a).set(f"a{i}", i)
    assert r(b).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    wait_for(lambda: caught_up(a, b), timeout=20, interval=0.1, what="b follows a")
    assert r(c).execute_command("SLAVEOF", "127.0.0.1", str(b.port))
    wait_for(lambda: caught_up(b, c), timeout=20, interval=0.1, what="c follows b")
    return a, b, c


def promote(b, a) -> None:
    """SLAVEOF NO ONE on b; a, which handed its last records over and stopped taking writes,
    is told it is a master (as an operator or Sentinel does)."""
    assert r(b).execute_command("SLAVEOF", "NO", "ONE")
    assert r(a).execute_command("SLAVEOF", "NO", "ONE")


def test_middle_node_promoted_and_put_back_without_writes_resumes(server_factory):
    """B promoted, then made a slave of A again before anything was written: B's data is A's state
    at B's position, so neither B nor C is copied again."""
    a, b, c = chain(server_factory)
    copies0 = copies(b), copies(c)
    promote(b, a)
    wait_for(lambda: r(c).info("replication")["master_link_status"] == "up", timeout=20, interval=0.1,
             what="c follows the promoted b")
    assert r(b).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    for i in range(20):
        r(a).set(f"after{i}", i)
    wait_for(lambda: caught_up(a, b) and caught_up(b, c), timeout=30, interval=0.1, what="the chain catches up")
    identical(a, b, c)
    assert (copies(b), copies(c)) == copies0, (b.log_path.read_text()[-3000:], c.log_path.read_text()[-3000:])


def test_middle_node_copied_again_takes_its_slave_along(server_factory):
    """B promoted and written to (C follows those writes), then made a slave of A, which wrote
    fewer records meanwhile: B gets a full copy ending at a position below C's.  C must not go
    on streaming from its old position (it would keep B's writes and miss A's): it is copied too."""
    a, b, c = chain(server_factory)
    promote(b, a)
    for i in range(30):
        r(b).set(f"b-only{i}", i)
    wait_for(lambda: caught_up(b, c), timeout=20, interval=0.1, what="c follows b's own writes")
    for i in range(5):
        r(a).set(f"a-only{i}", i)
    copies_c = copies(c)
    assert r(b).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    wait_for(lambda: copies(b) >= 2, timeout=20, interval=0.1, what="b's full copy from a")
    for i in range(60):
        r(a).set(f"after{i}", i)
    wait_for(lambda: caught_up(a, b) and caught_up(b, c), timeout=30, interval=0.1, what="the chain catches up")
    identical(a, b, c)
    assert r(c).get("b-only0") is None and r(c).get("a-only4") == "4"
    assert copies(c) == copies_c + 1
