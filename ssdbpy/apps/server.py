"""``ssdb-server [-d] /path/to/ssdb.conf [-s start|stop|restart]`` (config.md §3).

Start-up order, as SSDB 1.9.8: banner → arguments → config must be a file →
load it → ``-s stop|restart`` → refuse if the pidfile exists → logger →
work_dir check → daemonize → pidfile → open databases → bind → serve.
Unlike SSDB, passwords are validated while loading the config, and the
process never changes directory (paths are resolved against the config
file's directory instead). SIGHUP reopens the log file (for logrotate; SSDB
dies of it), ``-s stop`` signals only an ssdb-server of the same config and
gives up after a timeout, and ``-d`` returns once the server listens, with
exit status 1 and the reason on stderr if it could not start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ssdbpy import __version__
from ssdbpy import log as ssdb_log
from ssdbpy.apps import daemon
from ssdbpy.config.settings import Settings
from ssdbpy.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from ssdbpy.server.server import Server

VERSION = "1.9.8"
PROG = "ssdb-server"
BANNER = f"{PROG} {VERSION}\nCopyright (c) 2012-2015 ssdb.io\n\n"
USAGE = (
    "Usage:\n"
    f"    {PROG} [-d] /path/to/ssdb.conf [-s start|stop|restart]\n"
    "Options:\n"
    "    -d    run as daemon\n"
    "    -s    option to start|stop|restart the server\n"
    "    -h    show this message\n"
    "    --version  print ssdbpy's version\n"
)
#: ``--version``: what this server is (``-v`` stays SSDB's: the banner only)
VERSION_LINE = f"ssdbpy {__version__} (SSDB {VERSION} compatible)\n"
START_OPTS = ("start", "stop", "restart")

log = logging.getLogger("ssdbpy.apps.server")


@dataclass
class Args:
    conf_file: str = ""
    daemon: bool = False
    start_opt: str = "start"


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _err(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)
    sys.stderr.flush()


def _usage() -> None:
    sys.stdout.write(USAGE)
    sys.stdout.flush()


def parse_args(argv: list[str]) -> Args:
    """SSDB's hand-rolled argument scan; raises _Exit for -h, -v and bad input."""
    args = Args()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-d":
            args.daemon = True
        elif arg == "-v":
            raise _Exit(0)
        elif arg == "--version":
            sys.stdout.write(VERSION_LINE)
            sys.stdout.flush()
            raise _Exit(0)
        elif arg == "-h":
            _usage()
            raise _Exit(0)
        elif arg == "-s":
            if i + 1 >= len(argv):
                _usage()
                raise _Exit(1)
            i += 1
            args.start_opt = argv[i]
            if args.start_opt not in START_OPTS:
                _usage()
                _err(f"Error: bad argument: '{args.start_opt}'")
                raise _Exit(1)
        else:
            args.conf_file = arg
        i += 1
    if not args.conf_file:
        _usage()
        raise _Exit(1)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run ssdb-server; returns the process exit status."""
    sys.stderr.write(BANNER)
    sys.stderr.flush()
    try:
        return _run(parse_args(sys.argv[1:] if argv is None else list(argv)))
    except _Exit as e:
        return e.code


def _load(conf_file: str) -> Settings:
    if not os.path.isfile(conf_file):
        _err(f"'{conf_file}' is not a file or not exists!")
        raise _Exit(1)
    try:
        return Settings.from_file(conf_file)
    except (ConfigError, OSError) as e:
        _err(f"error loading conf file: '{conf_file}'", str(e))
        raise _Exit(1) from None


def _run(args: Args) -> int:
    settings = _load(args.conf_file)
    pidfile = settings.pidfile

    if args.start_opt == "stop":
        return daemon.stop_running(pidfile, conf_path=settings.conf_path)
    if args.start_opt == "restart" and pidfile and os.path.exists(pidfile):
        code = daemon.stop_running(pidfile, conf_path=settings.conf_path)
        if code != 0:
            return code

    if pidfile and os.path.exists(pidfile):
        stale = daemon.stale_pid(pidfile)
        if stale is None:
            sys.stderr.write(daemon.PIDFILE_EXISTS.format(pidfile=pidfile))
            return 1
        # left by a crash (kill -9, power loss): SSDB would refuse to start until an
        # operator deleted it; nothing runs under that pid, so it is replaced
        _err(f"removing stale pidfile {pidfile} (process {stale} is not running)")
        daemon.remove_pidfile(pidfile)

    # until _serve handles it: a SIGHUP (logrotate) must not kill a starting server
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        ssdb_log.setup_logging(settings.logger)
    except OSError as e:
        _err(f"error opening log file: {settings.logger.output}({e.strerror})")
        return 1

    if not os.path.isdir(settings.work_dir):
        _err(f"'{settings.work_dir}' is not a directory or not exists!")
        return 1

    if args.daemon:
        daemon.daemonize()

    if pidfile:
        try:
            daemon.write_pidfile(pidfile)
        except OSError as e:
            _err(f"error opening pidfile: {pidfile}({e.strerror})")
            return 1
    try:
        return _serve(settings, args.conf_file)
    except Exception:
        # in daemon mode stderr is /dev/null: make sure the log says why we died
        log.fatal("ssdb-server failed", exc_info=True)
        raise
    finally:
        daemon.remove_pidfile(pidfile)
        ssdb_log.close_logging()


def _log_settings(s: Settings, conf_file: str) -> None:
    ldb = s.leveldb
    rep = s.replication
    log.info("%s %s", PROG, VERSION)
    log.info("conf_file        : %s", conf_file)
    log.info("log_level        : %s", s.logger.level)
    log.info("log_output       : %s", s.logger.output)
    log.info("log_rotate_size  : %d", s.logger.rotate_size)
    log.info("main_db          : %s", os.path.join(s.work_dir, "data"))
    log.info("meta_db          : %s", os.path.join(s.work_dir, "meta"))
    log.info("cache_size       : %d MB", ldb.cache_size)
    log.info("block_size       : %d KB", ldb.block_size)
    log.info("write_buffer     : %d MB", ldb.write_buffer_size)
    log.info("max_open_files   : %d", ldb.max_open_files)
    log.info("compaction_speed : %d MB/s", ldb.compaction_speed)
    log.info("compression      : %s", "yes" if ldb.compression else "no")
    log.info("binlog           : %s", "yes" if rep.binlog else "no")
    log.info("binlog_capacity  : %d", rep.binlog_capacity)
    log.info("sync_speed       : %d MB/s", rep.sync_speed)
    for warning in s.warnings:
        log.warning("%s", warning)


def _log_listening(s: Settings, srv: Server) -> None:
    host, port = srv.address[:2]
    log.info("server listen on %s:%d", host, port)
    for prefix in s.server.allow:
        log.info("    allow   : %s", prefix)
    for prefix in s.server.deny:
        log.info("    deny    : %s", prefix)
    log.info("    auth    : %s", "on" if s.server.auth else "off")
    log.info("    readonly: %s", "yes" if s.server.readonly else "no")
    if s.server.slowlog_timeout > 0:
        log.info("    slowlog_timeout: %.3f ms", s.server.slowlog_timeout)
    for slave in s.replication.slaveof:
        log.info("slaveof: %s:%d, type: %s", slave.host, slave.port, slave.type)
    log.info("pidfile: %s, pid: %d", s.pidfile or "", os.getpid())


def _serve(settings: Settings, conf_file: str) -> int:
    # Imported only now: nothing touching gevent may run before daemonize().
    import gevent

    from ssdbpy.server.server import Server

    _log_settings(settings, conf_file)
    try:
        srv = Server(settings)
    except StorageError as e:
        log.fatal("%s", e)
        _err(str(e))
        return 1
    repl = _wire_replication(settings, srv)
    try:
        srv.start()
    except OSError as e:
        log.fatal("error opening server socket! %s", e.strerror or e)
        _err(f"error opening server socket! {e.strerror or e}")
        _stop_quietly(srv)
        return 1
    _log_listening(settings, srv)
    repl.listen_port = srv.state.tcp_port
    from ssdbpy.commands.redis_cmds import refresh_replica_refusal

    repl.on_role_change = lambda: refresh_replica_refusal(srv.state)
    _start_slaves(settings, repl)

    stopper: gevent.Greenlet | None = None

    def on_signal(signum: int) -> None:
        nonlocal stopper
        if stopper is None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            stopper = gevent.spawn(srv.stop)

    handlers = [
        gevent.signal_handler(sig, on_signal, sig) for sig in (signal.SIGTERM, signal.SIGINT)
    ]
    handlers.append(gevent.signal_handler(signal.SIGHUP, _reopen_log))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    log.info("ssdb server started.")
    daemon.notify_ready()
    code = 0
    try:
        srv.serve_forever()
    except Exception:
        log.fatal("server failed", exc_info=True)
        code = 1
    finally:
        for h in handlers:
            h.cancel()
    if stopper is None:
        _stop_quietly(srv)  # serve_forever ended without a signal: still close LevelDB
    else:
        # serve_forever may return before stop() has drained requests and closed LevelDB
        stopper.join()
        if stopper.exception is not None:
            log.error("error while stopping the server: %r", stopper.exception)
            code = 1
    log.info("ssdb-server exit.")
    return code


def _reopen_log() -> None:
    """SIGHUP: reopen the log file, so that logrotate's ``postrotate kill -HUP`` works."""
    log.info("received SIGHUP, reopening the log file")
    try:
        path = ssdb_log.reopen_logging()
    except OSError as e:
        log.error("received SIGHUP, could not reopen the log file: %s; still writing to the old one", e)
        return
    if path is None:
        log.info("received SIGHUP: logging to a standard stream, nothing to reopen")
    else:
        log.info("received SIGHUP, log file reopened: %s", path)


def _wire_replication(settings: Settings, srv: Server):
    """Attach replication (the sync140 command, slave links) to the server."""
    from ssdbpy.replication.manager import Replication  # also registers sync140
    from ssdbpy.db import ttl
    from ssdbpy.storage.hlc import offset_from_env

    if any(s.mirror for s in settings.replication.slaveof):
        # a master-master node: every write is versioned (docs/replication.md, "Convergent mirrors")
        versions = srv.db.enable_versions(offset_from_env())
        ttl.OFFSET_MS = offset_from_env()  # the skewed wall clock also sets and expires TTLs
        log.info("versioned writes: node id %d, clock offset %d ms", versions.node_id, offset_from_env())
    repl = Replication(srv.db, sync_speed=settings.replication.sync_speed)
    repl.write_gate = srv.state.write_gate
    repl.group_commit = srv.group  # slave links commit big batches on the server's commit thread
    srv.state.repl = repl
    srv.on_stop.append(repl.stop)
    b = srv.db.binlog
    log.info("binlogs capacity: %d, min: %d, max: %d", b.capacity, b.min_seq, b.max_seq)
    kr = srv.state.kv_range
    log.info('key_range.kv: "%s", "%s"', kr.start.decode("latin-1"), kr.end.decode("latin-1"))
    return repl


def _start_slaves(settings: Settings, repl) -> None:
    for s in settings.replication.slaveof:
        repl.add_slave(s)


def _stop_quietly(srv: Server) -> None:
    try:
        srv.stop()
    except Exception:
        log.error("error while stopping the server", exc_info=True)


if __name__ == "__main__":
    raise SystemExit(main())
