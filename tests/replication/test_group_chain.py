"""Chains A -> B -> C when the middle node changes history or receives a full copy
(docs/replication.md, "Chains" and "Replication groups").  With aligned links (Redis's
SLAVEOF) C resumes whenever its data is a state of its master's history, and gets a full
copy otherwise -- never a stream that skips part of the history; with links from ssdb.conf
C follows B's logged copy with records."""

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


def test_plain_chain_follows_a_full_copy_of_the_middle_node_with_records(server_factory):
    """A -> B -> C from ssdb.conf (identified links, not aligned): B's full copy is logged (the
    deletion of its old data, then every copied record), so C follows it without a copy of its own."""
    a = server_factory("a")
    b = server_factory("b", slaveof=[a.slaveof("sync", "a")])
    c = server_factory("c", slaveof=[b.slaveof("sync", "b")])
    for i in range(50):
        r(a).set(f"k{i}", i)
    with b.client() as cb:
        wait_for(lambda: cb("get", "k49") == [b"ok", b"49"], timeout=20, what="b copies a")
        assert cb("set", "b-only", "1")[0] == b"ok"  # a write of b's own: gone after b's next copy
        wait_for(lambda: r(c).get("b-only") == "1" and r(c).get("k49") == "49", timeout=20, what="c follows b")
        copies_c = copies(c)
        # b asks a for a position a never had: a full copy
        assert cb("slaveof", "a", "127.0.0.1", str(a.port), "", "1000000", "") == [b"ok"]
        wait_for(lambda: copies(b) == 2, timeout=20, interval=0.1, what="b's second full copy")
    r(a).set("after", "1")
    wait_for(lambda: r(c).get("after") == "1" and r(c).get("b-only") is None, timeout=30, interval=0.1,
             what="c follows b's copy")
    identical(a, b, c)
    assert copies(c) == copies_c
