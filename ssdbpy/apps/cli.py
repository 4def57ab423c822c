"""``ssdb-cli``: the SSDB shell (tools.md §1).

    ssdb-cli [-h host] [-p port] [-a password]
    ssdb-cli [host] [port]              first all-digit word = port, other = host
    ssdb-cli -n info|dbsize|replication|write_read [-w N] [-c N]

Arguments are read as SSDB's ssdb-cli reads them (its ``-h`` is the host, so
there is no argparse-style help flag); ``--escape yes|no|auto`` sets the
initial escaping of printed data (default: ``auto`` when stdout is a
terminal, else SSDB's ``no``).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from ssdbpy.cli import commands, nagios
from ssdbpy.cli.lineinput import open_input
from ssdbpy.cli.link import Link
from ssdbpy.cli.shell import AUTH_HINT, WELCOME, Shell

USAGE = """Usage:
        ssdb-cli [-h] <host> [-p] <port>

Options:
  -h <host>      ssdb server hostname/ip address (default: 127.0.0.1)
  -p <port>      ssdb server port (default: 8888)
  -a <password>  Password to use when connecting to the server
  -v             Show this message
  --help         Show this message
  --escape <m>   yes|no|auto: escaping of printed data (default: auto on a terminal, else no)

  -n <opt>       Choose nagios probe
                 opt: info, dbsize, replication, write_read
  -w <INT>       Set nagios WARN level
  -c <INT>       Set nagios CRITICAL level

Examples:
  ssdb-cli
  ssdb-cli 8888
  ssdb-cli 127.0.0.1 8888
  ssdb-cli -h 127.0.0.1 -p 8888
  ssdb-cli -h 127.0.0.1 -p 8888 -a xxxpasswordxxx
  echo 'get key' | ssdb-cli -p 8888 2>/dev/null
"""


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
    args: list[str] = field(default_factory=list)


def parse(argv: list[str]) -> Options:
    """SSDB's argument loop: ``-x value`` pairs, everything else positional."""
    o = Options()
    opt = ""
    for arg in argv:
        if opt == "" and arg.startswith("-"):
            if arg in ("--help", "--h", "-v"):
                o.help = True
                return o
            opt = arg
            continue
        if opt == "-h":
            o.host = arg
        elif opt == "-p":
            o.port = arg
        elif opt == "-a":
            o.password = arg
        elif opt == "-n":
            o.nagios, o.probe = True, arg
        elif opt == "-w":
            o.nagios, o.warn = True, arg
        elif opt == "-c":
            o.nagios, o.critical = True, arg
        elif opt == "--escape":
            o.escape = arg
        else:
            o.args.append(arg)
        opt = ""
    if not o.host:
        o.host = next((a for a in o.args if not re.fullmatch(r"[0-9]+", a)), "127.0.0.1")
    if not o.port:
        o.port = next((a for a in o.args if re.fullmatch(r"[0-9]+", a)), "8888")
    return o


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    o = parse(sys.argv[1:] if argv is None else list(argv))
    if o.help:
        sys.stdout.write(USAGE)
        return 0
    err = sys.stderr
    try:
        port = int(o.port)
    except ValueError:
        err.write(f"Invalid argument port: {o.port}\n")
        sys.stdout.write(USAGE)
        return 0
    escape_mode = o.escape or ("auto" if _isatty(sys.stdout) else "no")
    if escape_mode not in ("yes", "no", "auto"):
        err.write(f"Invalid argument --escape: {escape_mode} (yes, no or auto)\n")
        return 0
    interactive = _isatty(sys.stdin)
    password = os.fsencode(o.password) if o.password is not None else None
    link = Link(o.host, port, password)
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
        return 0
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
    err.write(WELCOME)
    if auth_reply is not None and auth_reply[0] != b"ok" and interactive:
        msg = b": ".join(auth_reply[:2]).decode("utf-8", "replace")
        err.write(f"auth failed: {msg}\n{AUTH_HINT}\n")
    reader = open_input(sys.stdin.buffer, err, commands.complete)
    shell = Shell(link, reader, sys.stdout.buffer, err, escape_mode=escape_mode)
    try:
        if interactive and not shell.show_version(at_start=True):
            return 0
        err.flush()
        return shell.run()
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
