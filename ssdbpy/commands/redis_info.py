"""``INFO [section ...]`` for RESP clients: Redis's text layout filled with ssdbpy's figures.

ssdbpy addition (docs/compat.md, "INFO over RESP"): SSDB 1.9.8 answers a RESP
``INFO`` with its own ``info`` blocks as an array, which Redis clients and
Redis Sentinel cannot read.  Requests whose arguments are all Redis section
words (:func:`ssdbpy.info.redis_wanted`) get this text; any other argument
(``info cmd``, ``info range``…) still reaches SSDB's ``info``.

Figures that ssdbpy does not have are left out rather than invented; the
replication figures come from :func:`replication_view`, the one place that
reads replication's state.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ssdbpy import __version__, info
from ssdbpy.commands.sys import dbsize_bytes, rss_bytes
from ssdbpy.storage import keys

#: the Redis version INFO reports: Sentinel and clients read features from it (HELLO, CLIENT KILL
#: filters, RESP3, ``replica`` words need 6 or later); 7.0.0 is the Redis whose replies ssdbpy follows
REDIS_VERSION = "7.0.0"
#: keys counted exactly per data type before the count is extrapolated from LevelDB's size estimates
COUNT_EXACT = 10000


@dataclass
class Replica:
    """A slave this node serves (a sync140 session)."""

    ip: str
    port: int
    state: str  # Redis's words: online, wait_bgsave, send_bulk
    offset: int
    lag: int = 0  # s since the slave's last ack (0 on links without acks)


@dataclass
class ReplView:
    """What INFO's ``# Replication`` needs, independent of how replication keeps it."""

    replicas: list[Replica] = field(default_factory=list)
    #: the ``type: sync`` master link this node follows (None: a master); mirror links are peers
    master: tuple[str, int] | None = None
    link_up: bool = False
    syncing: bool = False
    slave_offset: int = 0
    #: seconds since the last byte from the master (-1: never), since the link went down (-1: unknown)
    last_io_ago: int = -1
    down_since_ago: int = -1
    #: the history ids and the end of the previous one (INFO's master_replid, replid2, second_repl_offset)
    history: tuple[str, str, int] | None = None


_STATES = {"SYNC": "online", "COPY": "send_bulk", "INIT": "wait_bgsave"}


def _block_fields(block: bytes) -> tuple[str, dict[str, str]]:
    head, *rest = block.decode("utf-8", "replace").split("\n")
    fields = {}
    for line in rest:
        k, _, v = line.partition(":")
        fields[k.strip()] = v.strip()
    return head, fields


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port) if port.isdigit() else 0


def replication_view(srv: Any) -> ReplView:
    """The replication state INFO needs, read from the links of ``srv.repl``.

    Every master session is a replica served by this node (a slave that
    acknowledges -- an ssdbpy slave -- by its listening port and acked position); the first ``type: sync``
    slave link is the master it follows (status SYNC: link up; COPY: a copy
    in progress).  A ``repl`` without links objects is read from its
    ``info_blocks()`` (SSDB's ``replication`` blocks).
    """
    view = ReplView()
    repl = srv.repl
    if repl is None:
        return view
    if hasattr(repl, "sessions") and hasattr(repl, "slaves"):
        return _view_of_links(repl, view)
    for block in srv.repl.info_blocks():
        head, f = _block_fields(block)
        kind, _, addr = head.partition(" ")
        seq = int(f.get("last_seq", "0") or 0) if f.get("last_seq", "0").isdigit() else 0
        if kind == "client":
            ip, port = _host_port(addr)
            view.replicas.append(Replica(ip, port, _STATES.get(f.get("status", ""), "wait_bgsave"), seq))
        elif kind == "slaveof" and f.get("type") == "sync" and view.master is None:
            view.master = _host_port(addr)
            status = f.get("status", "")
            view.link_up = status == "SYNC"
            view.syncing = status == "COPY"
            view.slave_offset = seq
    return view


def _view_of_links(repl: Any, view: ReplView) -> ReplView:
    now = time.monotonic()
    for s in repl.sessions:
        state = _STATES.get(str(s.status), "wait_bgsave")
        if getattr(s, "acks", False):  # an ssdbpy slave: known by its listening port and acks
            lag = int(now - s.ack_time) if s.ack_time else 0
            view.replicas.append(Replica(s.peer[0], s.listen_port, state, max(s.acked_seq, 0), lag))
        else:
            view.replicas.append(Replica(s.peer[0], s.peer[1], state, s.last_seq))
    for s in repl.slaves:
        if s.cfg.type != "sync":
            continue
        view.master = (s.cfg.host, s.cfg.port)
        status = str(s.status)
        view.link_up = status == "SYNC"
        view.syncing = status == "COPY"
        view.slave_offset = s.last_seq
        last_io = getattr(s, "last_io", None)
        view.last_io_ago = int(now - last_io) if last_io is not None else -1
        down = getattr(s, "down_since", None)
        view.down_since_ago = int(now - down) if down is not None else -1
        break
    h = getattr(repl, "history", None)
    if h is not None:
        view.history = (h.id, h.id2, h.end2)
    return view


def _count(engine, prefix: bytes) -> int:
    """Keys starting with ``prefix``: exact up to COUNT_EXACT, beyond that an estimate.

    The estimate scales the exact count by LevelDB's approximate sizes of the
    whole prefix range and of the part counted (a lower bound when LevelDB has
    no estimate yet, e.g. everything still in the memtable).
    """
    stop = prefix[:-1] + bytes([prefix[-1] + 1])
    n = 0
    last = prefix
    for k in engine.iterate(prefix, stop, keys_only=True):
        n += 1
        last = k
        if n >= COUNT_EXACT:
            break
    else:
        return n
    part = engine.approximate_size(prefix, last)
    whole = engine.approximate_size(prefix, stop)
    return max(n, n * whole // part) if part > 0 else n


def keyspace(db) -> tuple[int, int]:
    """(keys, keys with a TTL): kv keys plus hash, zset and list names (the TTL index is no key)."""
    engine = db.engine
    expires = db.zset.size(keys.EXPIRE_ZSET)
    n = sum(_count(engine, p) for p in (keys.KV, keys.HSIZE, keys.ZSIZE, keys.QSIZE))
    if expires or engine.get(keys.encode_zsize(keys.EXPIRE_ZSET)) is not None:
        n -= 1
    return max(n, 0), expires


def sections(ctx, wanted: list[str]) -> list[tuple[str, info.Fields]]:
    """The fields of each wanted section, in order."""
    srv = ctx.server
    db = ctx.db
    out: list[tuple[str, info.Fields]] = []
    uptime = int(time.time() - srv.start_time)
    for name in wanted:
        f: info.Fields
        if name == "server":
            f = [
                ("redis_version", REDIS_VERSION),
                ("redis_mode", "standalone"),
                ("ssdbpy_version", __version__),
                ("ssdb_version", info.VERSION.decode()),
                ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
                ("multiplexing_api", "libev"),
                ("process_id", os.getpid()),
                ("run_id", srv.run_id),
                ("tcp_port", srv.tcp_port),
                ("server_time_usec", int(time.time() * 1e6)),
                ("uptime_in_seconds", uptime),
                ("uptime_in_days", uptime // 86400),
                ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""),
                ("config_file", srv.conf_path),
            ]
        elif name == "clients":
            clients = list(srv.clients.values())
            f = [
                ("connected_clients", srv.links),
                ("blocked_clients", 0),
                ("pubsub_clients", sum(1 for c in clients if c.subscriptions())),
            ]
        elif name == "memory":
            rss = rss_bytes()
            f = [
                # Python keeps no allocator total: used_memory is the RSS (docs/compat.md)
                ("used_memory", rss),
                ("used_memory_human", info.human_bytes(rss)),
                ("used_memory_rss", rss),
                ("used_memory_rss_human", info.human_bytes(rss)),
                ("maxmemory", 0),
                ("maxmemory_human", "0B"),
                ("maxmemory_policy", "noeviction"),
                ("mem_allocator", "libc"),
            ]
        elif name == "stats":
            f = [
                ("total_connections_received", srv.connections_received),
                ("total_commands_processed", srv.total_calls()),
                ("instantaneous_ops_per_sec", round(srv.ops_per_sec)),
                ("evicted_keys", 0),
                ("pubsub_channels", srv.pubsub.channel_count() if srv.pubsub is not None else 0),
                ("pubsub_patterns", srv.pubsub.pattern_count() if srv.pubsub is not None else 0),
            ]
        elif name == "replication":
            f = replication_fields(srv, db)
        elif name == "keyspace":
            n, expires = keyspace(db)
            f = [("db0", f"keys={n},expires={expires}")] if n else []
        else:  # ssdb
            f = [
                ("version", info.VERSION.decode()),
                ("links", srv.links),
                ("total_calls", srv.total_calls()),
                ("dbsize", dbsize_bytes(db)),
                ("binlog_capacity", db.binlog.capacity),
                ("binlog_min_seq", db.binlog.min_seq),
                ("binlog_max_seq", db.binlog.last_seq),
                ("readonly", "yes" if srv.readonly else "no"),
            ]
        out.append((name.capitalize() if name != "ssdb" else "SSDB", f))
    return out


def replication_fields(srv, db) -> info.Fields:
    """``# Replication`` as Redis 7.0 lays it out; offsets are binlog sequence numbers."""
    view = replication_view(srv)
    f: info.Fields = [("role", "slave" if view.master else "master")]
    if view.master:
        host, port = view.master
        f += [
            ("master_host", host),
            ("master_port", port),
            ("master_link_status", "up" if view.link_up else "down"),
            ("master_last_io_seconds_ago", view.last_io_ago),
            ("master_sync_in_progress", 1 if view.syncing else 0),
            ("slave_read_repl_offset", view.slave_offset),
            ("slave_repl_offset", view.slave_offset),
        ]
        if not view.link_up:
            f.append(("master_link_down_since_seconds", view.down_since_ago))
        f += [
            ("slave_priority", srv.replica_priority),
            ("slave_read_only", 1 if srv.replica_read_only else 0),
            ("replica_announced", 1),
        ]
    f.append(("connected_slaves", len(view.replicas)))
    for i, r in enumerate(view.replicas):
        f.append((f"slave{i}", f"ip={r.ip},port={r.port},state={r.state},offset={r.offset},lag={r.lag}"))
    replid, replid2, second = view.history or (srv.replid, "0" * 40, -1)
    f += [
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", replid2),
        ("master_repl_offset", db.binlog.last_seq),
        ("second_repl_offset", second if second < 0 else second + 1),
        ("repl_backlog_active", 1 if db.binlog.enabled else 0),
        ("repl_backlog_size", db.binlog.capacity),
        ("repl_backlog_first_byte_offset", db.binlog.min_seq),
        ("repl_backlog_histlen", db.binlog.last_seq - db.binlog.min_seq),
    ]
    return f


def render(ctx, wanted: list[str], proto: int) -> bytes:
    """The RESP reply: a bulk string (RESP2) or a ``txt`` verbatim string (RESP3), as Redis."""
    text = info.redis_render(sections(ctx, wanted))
    if proto == 3:
        return b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text)
    return b"$%d\r\n%s\r\n" % (len(text), text)
