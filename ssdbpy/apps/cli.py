"""``ssdb-cli``: the SSDB shell (tools.md §1), and a one-shot command runner for scripts.

    ssdb-cli [-h host] [-p port] [-a password] [CMD ARGS...]
    ssdb-cli [host] [port] | ssdb-cli host port CMD ARGS...
    ssdb-cli -n info|dbsize|replication|write_read [-w N] [-c N]

Arguments are read as SSDB's ssdb-cli reads them (its ``-h`` is the host, so
there is no argparse-style help flag), with these additions:

* after ``-h``/``-p``, the first other word starts a command run once
  (``ssdb-cli -p 8888 get k``); without them, positional words are SSDB's
  ``[host] [port]`` (first all-digit word = port, other = host; two hosts or
  two ports are a usage error, as ``ssdb-cli get k``), and a third one starts
  the command (``ssdb-cli 127.0.0.1 8888 get k``); ``ssdb-cli help [CMD]``
  needs neither. Words after the
  command word are its arguments, even when they start with ``-``;
* an unknown option, or an option without its value, is a usage error;
* the password may come from ``$SSDB_AUTH`` (``-a`` wins);
* ``--escape yes|no|auto`` sets the escaping of printed data (default
  ``auto`` on a terminal, else SSDB's ``no``); ``--raw`` is ``--escape no``.

Exit status (SSDB's ssdb-cli always exits 0): :data:`EXIT_OK`,
:data:`EXIT_ERROR_REPLY` when a command replied an error (piped or one-shot
mode), :data:`EXIT_USAGE`, :data:`EXIT_CONNECTION` when the server cannot be
reached, the connection is lost for good, or authentication fails.  Nagios
probes keep their own 0/1/2/3.
"""

from __future__ import annotations

import io
import os
import re
import sys
from dataclasses import dataclass, field

from ssdbpy.cli import commands, nagios
from ssdbpy.cli.lineinput import PipeInput, open_input
from ssdbpy.cli.link import Link
from ssdbpy.cli.shell import (
    AUTH_HINT,
    EXIT_CONNECTION,
    EXIT_ERROR_REPLY,
    EXIT_OK,
    EXIT_USAGE,
    WELCOME,
    Shell,
)

__all__ = ["EXIT_CONNECTION", "EXIT_ERROR_REPLY", "EXIT_OK", "EXIT_USAGE", "main", "parse"]

AUTH_ENV = "SSDB_AUTH"

USAGE = """Usage:
        ssdb-cli [-h] <host> [-p] <port> [command [args...]]

Options:
  -h <host>      ssdb server hostname/ip address (default: 127.0.0.1)
  -p <port>      ssdb server port (default: 8888)
  -a <password>  Password to use when connecting to the server
                 (default: the environment variable SSDB_AUTH)
  -v             Show this message
  --help         Show this message
  --escape <m>   yes|no|auto: escaping of printed data (default: auto on a terminal, else no)
  --raw          Print data as it is (same as --escape no)

  -n <opt>       Choose nagios probe
                 opt: info, dbsize, replication, write_read
  -w <SIZE>      Set nagios WARN level (dbsize: MB, or with a unit: 500G; default 85)
  -c <SIZE>      Set nagios CRITICAL level (dbsize: MB, or with a unit: 600G; default 95)

A command after the options (or after <host> <port>) is run once and
ssdb-cli exits; otherwise commands are read from stdin.

Exit status: 0 ok, 1 a command replied an error (piped or one-shot),
2 usage error, 3 cannot connect, connection lost or authentication failed.

Examples:
  ssdb-cli
  ssdb-cli 8888
  ssdb-cli 127.0.0.1 8888
  ssdb-cli -h 127.0.0.1 -p 8888
  ssdb-cli -h 127.0.0.1 -p 8888 -a xxxpasswordxxx
  ssdb-cli -p 8888 get key
  echo 'get key' | ssdb-cli -p 8888 2>/dev/null
"""

#: options taking a value, and the Options field each sets
_VALUE_OPTIONS = {"-h": "host", "-p": "port", "-a": "password", "-n": "probe", "-w": "warn",
                  "-c": "critical", "--escape": "escape"}
_HELP_FLAGS = ("--help", "--h", "-v")
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class Options:
    host: str = ""
    port: str = ""
    password: str | None = None
    nagios: bool = False
    probe: str = ""
    warn: str = "85"
    critical: str = "95"
    escape: str | None = None
    help: bool = False
    #: a usage error to report (exit status 2)
    error: str | None = None
    args: list[str] = field(default_factory=list)
    #: the one-shot command and its arguments (empty: read commands from stdin)
    command: list[str] = field(default_factory=list)


def parse(argv: list[str]) -> Options:
    """SSDB's argument loop (``-x value`` pairs, other words positional), plus a command."""
    o = Options()
    given: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if o.command:
            o.command.append(arg)
        elif arg in _HELP_FLAGS:
            o.help = True
            return o
        elif arg == "--raw":
            o.escape = "no"
        elif arg in _VALUE_OPTIONS:
            if i >= len(argv):
                o.error = f"option {arg} needs a value"
                return o
            setattr(o, _VALUE_OPTIONS[arg], argv[i])
            given.add(arg)
            i += 1
        elif arg.startswith("-") and len(arg) > 1:
            o.error = f"unknown option: {arg}"
            return o
        elif given & {"-h", "-p"} or len(o.args) == 2 or (not o.args and arg.lower() == "help"):
            o.command.append(arg)
        else:
            o.args.append(arg)
    o.nagios = bool(given & {"-n", "-w", "-c"})
    if len(o.args) == 2 and bool(_DIGITS.fullmatch(o.args[0])) == bool(_DIGITS.fullmatch(o.args[1])):
        # SSDB would use one and ignore the other (``ssdb-cli get k``: host "get")
        o.error = (f"expected a host and a port, got {o.args[0]!r} and {o.args[1]!r} "
                   "(to run a command: ssdb-cli [-h host] -p port command [args...])")
        return o
    if not o.host:
        o.host = next((a for a in o.args if not _DIGITS.fullmatch(a)), "127.0.0.1")
    if not o.port:
        o.port = next((a for a in o.args if _DIGITS.fullmatch(a)), "8888")
    return o


def _usage_error(message: str) -> int:
    sys.stderr.write(f"Error: {message}\n\n")
    sys.stderr.write(USAGE)
    return EXIT_USAGE


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    o = parse(sys.argv[1:] if argv is None else list(argv))
    if o.help:
        sys.stdout.write(USAGE)
        return EXIT_OK
    if o.error:
        return _usage_error(o.error)
    err = sys.stderr
    if not _DIGITS.fullmatch(o.port) or int(o.port) > 65535:
        return _usage_error(f"invalid port: {o.port}")
    port = int(o.port)
    escape_mode = o.escape or ("auto" if _isatty(sys.stdout) else "no")
    if escape_mode not in ("yes", "no", "auto"):
        return _usage_error(f"invalid --escape: {escape_mode} (yes, no or auto)")
    one_shot = bool(o.command)
    interactive = _isatty(sys.stdin) and not one_shot
    if o.password is None:
        o.password = os.environ.get(AUTH_ENV) or None
    password = os.fsencode(o.password) if o.password is not None else None
    link = Link(o.host, port, password)
    if one_shot and o.command[0].lower() in ("h", "help"):  # needs no server
        shell = Shell(link, PipeInput(io.BytesIO(), err), sys.stdout.buffer, err)
        return shell.run_once([os.fsencode(w) for w in o.command])
    try:
        link.connect()
    except OSError as exc:
        err.write(f"Failed to connect to: {o.host}:{port}\n")
        err.write(f"Connection error: {exc}\n")
        if o.nagios:
            sys.stdout.write("CRITICAL: Failed to connect\n")
            return nagios.CRITICAL
        if interactive:
            err.write(f"hint: is ssdb-server running and listening on {o.host}:{port}? "
                      "Use -h <host> -p <port> to choose another server.\n")
        return EXIT_CONNECTION
    if o.nagios:
        try:
            link.authenticate()
            return nagios.run(link, o.probe, o.warn, o.critical, sys.stdout)
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure as CRITICAL
            err.write(f"{exc}\n")
            return nagios.CRITICAL
        finally:
            sys.stdout.flush()
            link.close()
    auth_reply = link.authenticate()
    if not one_shot:
        err.write(WELCOME)
    if auth_reply is None and password is not None:
        err.write("auth failed: connection closed by the server\n")
        return EXIT_CONNECTION
    if auth_reply is not None and auth_reply[0] != b"ok":
        msg = b": ".join(auth_reply[:2]).decode("utf-8", "replace")
        err.write(f"auth failed: {msg}\n")
        if not interactive:  # a script must not run its commands unauthenticated
            link.close()
            return EXIT_CONNECTION
        err.write(f"{AUTH_HINT}\n")
    if one_shot:
        reader = PipeInput(io.BytesIO(), err)
    else:
        reader = open_input(sys.stdin.buffer, err, commands.complete)
    shell = Shell(link, reader, sys.stdout.buffer, err, escape_mode=escape_mode)
    try:
        if interactive and not shell.show_version(at_start=True):
            return EXIT_CONNECTION
        err.flush()
        if one_shot:
            return shell.run_once([os.fsencode(w) for w in o.command])
        return shell.run()
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
