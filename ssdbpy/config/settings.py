"""Typed settings with SSDB 1.9.8's options and defaults (config.md §2).

Build with :meth:`Settings.from_file` (or :meth:`Settings.from_node` for an
already parsed tree). Relative ``work_dir``, ``pidfile`` and
``logger.output`` are resolved against the config file's directory and
stored as absolute paths, so nothing depends on the process's cwd.

Deliberate differences from SSDB (each a :class:`ConfigError` with the line):

* a key neither SSDB nor ssdbpy reads (``prot: 8888``) is refused, with a
  "did you mean" (:mod:`ssdbpy.config.schema`);
* switches accept yes/no, true/false, on/off, 1/0 in any case, and refuse
  anything else (SSDB takes every value but ``yes`` as *no*);
* numbers must be numbers (SSDB's ``atoi`` turns ``lots`` into 0, then the
  default); ``logger.level`` and ``slaveof.type`` must be one of their words
  (SSDB turns ``verbose`` into ``debug`` and ``sink`` into ``sync``);
* a ``slaveof`` block with keys but no usable host or port (SSDB ignores it);
* an ``auth:`` line with an empty value is refused (SSDB would turn
  authentication on with the empty password);
* weak passwords are refused at load time (SSDB checks after binding);
* ``server.port`` must be a decimal integer in 0..65535 (SSDB's ``atoi``
  would silently turn junk into port 0 = a random port);
* two ``slaveof`` blocks with the same id (they would share a position).

Numbers that SSDB replaces by a default (``cache_size: 0``, ``recv_timeout: -1``)
still are.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ssdbpy.config.parser import Node, load
from ssdbpy.config.schema import bad_value, check_keys, read_bool, read_choice, read_float, read_int
from ssdbpy.errors import ConfigError

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "none")
DEFAULT_BINLOG_CAPACITY = 20_000_000
MIN_PASSWORD_LEN = 32
SAMPLE_PASSWORD = "very-strong-password"
MSG_WEAK_PASSWORD = "WARNING! Weak password is not allowed!"


@dataclass
class ServerSettings:
    ip: str = "127.0.0.1"
    port: int = 0  # 0 = OS-chosen
    auth: list[str] = field(default_factory=list)  # empty = authentication off
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    readonly: bool = False
    slowlog_timeout: float = 0.0  # milliseconds, 0 = off
    slowlog_max_len: int = 128  # entries the slowlog command keeps (ssdbpy addition)
    output_limit: "OutputLimit" = field(default_factory=lambda: OutputLimit())
    #: refuse client writes while a ``type: sync`` slaveof link exists (ssdbpy addition; SSDB: writable)
    replica_read_only: bool = False
    #: INFO's slave_priority: Redis Sentinel promotes the replica with the lowest, never 0 (ssdbpy addition)
    replica_priority: int = 100


@dataclass(frozen=True)
class OutputLimit:
    """``server.client_output_buffer_limit: <hard> <soft> <soft seconds>`` (Redis's model).

    A client whose replies not yet taken by its socket exceed ``hard`` bytes, or
    stay above ``soft`` bytes for ``soft_seconds``, is disconnected.  0 turns a
    limit off (the default, as Redis's class ``normal``): a connection already
    stops reading while its replies are not being read, so one client holds at
    most about one reply plus 256 KB; these limits also bound that one reply.
    """

    hard: int = 0
    soft: int = 0
    soft_seconds: int = 0


@dataclass
class SlaveofSettings:
    id: str
    type: str  # "sync" | "mirror"
    host: str  # ip, or the hostname when ip was empty
    port: int  # 1..65535
    auth: str | None = None
    recv_timeout: int = 30  # seconds

    def __post_init__(self) -> None:
        if not self.id:
            self.id = f"{self.host}|{self.port}"

    @property
    def mirror(self) -> bool:
        return self.type == "mirror"


@dataclass
class ReplicationSettings:
    binlog: bool = False
    binlog_capacity: int = DEFAULT_BINLOG_CAPACITY  # records
    sync_speed: int = 0  # MB/s, <= 0 unlimited (no effect in 1.9.8)
    slaveof: list[SlaveofSettings] = field(default_factory=list)


@dataclass
class LoggerSettings:
    level: str = "debug"  # one of LOG_LEVELS
    output: str = "stdout"  # "stdout", "stderr" or an absolute file path
    rotate_size: int = 0  # bytes, 0 = never


@dataclass
class LevelDBSettings:
    cache_size: int = 16  # MB
    block_size: int = 32  # KB
    write_buffer_size: int = 16  # MB
    max_open_files: int = 500
    compaction_speed: int = 0  # MB/s
    compression: bool = True


@dataclass
class Settings:
    conf_path: str = ""
    work_dir: str = "."
    pidfile: str | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    replication: ReplicationSettings = field(default_factory=ReplicationSettings)
    logger: LoggerSettings = field(default_factory=LoggerSettings)
    leveldb: LevelDBSettings = field(default_factory=LevelDBSettings)
    #: non-fatal problems found while loading (e.g. ignored slaveof blocks), to log at start-up
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Settings:
        """Load ``path``; raises ConfigError (syntax/validation) or OSError (reading)."""
        conf_path = os.path.abspath(os.fspath(path))
        node = load(conf_path)
        return cls.from_node(node, os.path.dirname(conf_path), conf_path=conf_path)

    @classmethod
    def from_node(cls, node: Node, base_dir: str, *, conf_path: str = "") -> Settings:
        """Build settings from a parsed tree; relative paths are resolved against ``base_dir``."""
        base_dir = os.path.abspath(base_dir)
        warnings: list[str] = []
        check_keys(node, warnings)
        pidfile = node.get_str("pidfile")
        return cls(
            conf_path=conf_path,
            work_dir=_resolve(base_dir, node.get_str("work_dir") or "."),
            pidfile=_resolve(base_dir, pidfile) if pidfile else None,
            server=_server(node),
            replication=_replication(node, warnings),
            logger=_logger(node, base_dir),
            leveldb=_leveldb(node),
            warnings=warnings,
        )


def _resolve(base_dir: str, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(path)))


_PORT = re.compile(r"[0-9]+")


def _port(node: Node | None) -> int:
    if node is None:
        return 0
    if _PORT.fullmatch(node.value) and int(node.value) <= 65535:
        return int(node.value)
    raise ConfigError(
        f"invalid server.port {node.value!r}: expected an integer in 0..65535 "
        "(0 = let the OS choose)",
        node.line,
    )


def _password(node: Node) -> str:
    value = node.value
    if value == "":
        raise ConfigError(
            "empty 'auth:' value: ssdbpy refuses to start with an empty password "
            "(SSDB would enable authentication with an empty password); remove the "
            f"line or set a password of at least {MIN_PASSWORD_LEN} characters",
            node.line,
        )
    if len(value.encode()) < MIN_PASSWORD_LEN or value == SAMPLE_PASSWORD:
        raise ConfigError(
            f"{MSG_WEAK_PASSWORD} A password must be at least {MIN_PASSWORD_LEN} "
            f"characters long and must not be {SAMPLE_PASSWORD!r}",
            node.line,
        )
    return value


def _server(node: Node) -> ServerSettings:
    return ServerSettings(
        ip=node.get_str("server.ip") or "127.0.0.1",
        port=_port(node.get("server.port")),
        auth=[_password(n) for n in node.children_named("server.auth")],
        allow=[n.value for n in node.children_named("server.allow") if n.value],
        deny=[n.value for n in node.children_named("server.deny") if n.value],
        readonly=read_bool(node, "server.readonly", False),
        slowlog_timeout=max(0.0, read_float(node, "server.slowlog_timeout", 0.0, "milliseconds")),
        slowlog_max_len=_read_non_negative(node, "server.slowlog_max_len", 128, "entries",
                                           "an integer >= 0 (entries; 0 keeps none)"),
        output_limit=_output_limit(node.get("server.client_output_buffer_limit")),
        replica_read_only=read_bool(node, "server.replica_read_only", False),
        replica_priority=_read_non_negative(node, "server.replica_priority", 100, "",
                                            "an integer >= 0 (0: never promoted)"),
    )


def _read_non_negative(node: Node, key: str, default: int, unit: str, allowed: str) -> int:
    """An integer setting that must be >= 0; ``allowed`` says so in the error."""
    n = read_int(node, key, default, unit)
    if n < 0:
        leaf = node.get(key)
        assert leaf is not None
        raise bad_value(leaf, key, allowed)
    return n


_MEMORY = re.compile(r"([0-9]+)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def _output_limit(node: Node | None) -> OutputLimit:
    """``<hard> <soft> <seconds>``, sizes with Redis's units (``64mb``, ``1gb``, bytes without a unit)."""
    if node is None or not node.value.strip():
        return OutputLimit()
    parts = node.value.split()
    sizes = []
    for part in parts[:2]:
        m = _MEMORY.fullmatch(part)
        if m is None:
            break
        sizes.append(int(m.group(1)) * _UNITS[(m.group(2) or "").lower()])
    if len(parts) != 3 or len(sizes) != 2 or not parts[2].isdigit():
        raise ConfigError(
            f"invalid server.client_output_buffer_limit {node.value!r}: expected "
            "'<hard> <soft> <soft seconds>', e.g. '256mb 64mb 60' (0 = no limit)",
            node.line,
        )
    return OutputLimit(sizes[0], sizes[1], int(parts[2]))


_SLAVEOF = "replication.slaveof."


def _slaveof(block: Node) -> SlaveofSettings | None:
    if not block.children:  # the sample's all-commented block
        return None
    host = block.get_str("ip") or block.get_str("host")
    port = read_int(block, "port", 0, prefix=_SLAVEOF)
    if not host or not 1 <= port <= 65535:
        # SSDB ignores such a block: the server would run without the replication asked for
        raise ConfigError(
            "slaveof block needs a non-empty ip (or host) and a port in 1..65535 "
            f"(got host {host!r}, port {port}); comment out the whole block to disable it",
            block.line,
        )
    recv_timeout = read_int(block, "recv_timeout", 30, "seconds", prefix=_SLAVEOF)
    return SlaveofSettings(
        id=block.get_str("id"),
        type=read_choice(block, "type", "sync", ("sync", "mirror"), prefix=_SLAVEOF),
        host=host,
        port=port,
        auth=block.get_str("auth") or None,
        recv_timeout=recv_timeout if recv_timeout > 0 else 30,
    )


def _replication(node: Node, warnings: list[str]) -> ReplicationSettings:
    capacity = read_int(node, "replication.binlog.capacity", DEFAULT_BINLOG_CAPACITY, "records")
    slaves: list[SlaveofSettings] = []
    seen: dict[str, int] = {}
    for block in node.children_named("replication.slaveof"):
        slave = _slaveof(block)
        if slave is None:
            continue
        if slave.id in seen:
            raise ConfigError(
                f"duplicate slaveof id {slave.id!r} (also used by the block at line "
                f"{seen[slave.id]}); each slaveof needs its own id",
                block.line,
            )
        seen[slave.id] = block.line
        slaves.append(slave)
    return ReplicationSettings(
        binlog=read_bool(node, "replication.binlog", False),
        binlog_capacity=capacity if capacity > 0 else DEFAULT_BINLOG_CAPACITY,
        sync_speed=read_int(node, "replication.sync_speed", 0, "MB/s, -1 = no limit"),
        slaveof=slaves,
    )


def _logger(node: Node, base_dir: str) -> LoggerSettings:
    output = node.get_str("logger.output") or "stdout"
    if output not in ("stdout", "stderr"):
        output = _resolve(base_dir, output)
    return LoggerSettings(
        level=read_choice(node, "logger.level", "debug", LOG_LEVELS),
        output=output,
        rotate_size=max(0, read_int(node, "logger.rotate.size", 0, "bytes")),
    )


def _positive(node: Node, path: str, default: int, unit: str) -> int:
    value = read_int(node, path, default, unit)
    return value if value > 0 else default


def _leveldb(node: Node) -> LevelDBSettings:
    cache_size = _positive(node, "leveldb.cache_size", 16, "MB")
    max_open_files = read_int(node, "leveldb.max_open_files", 0)
    if max_open_files <= 0:
        max_open_files = min(1000, max(500, cache_size // 1024 * 300))
    return LevelDBSettings(
        cache_size=cache_size,
        block_size=_positive(node, "leveldb.block_size", 32, "KB"),
        write_buffer_size=_positive(node, "leveldb.write_buffer_size", 16, "MB"),
        max_open_files=max_open_files,
        compaction_speed=read_int(node, "leveldb.compaction_speed", 0, "MB/s"),
        compression=read_bool(node, "leveldb.compression", True),
    )
