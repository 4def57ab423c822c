"""``ssdb-dump``: online backup of a server into a LevelDB folder, and its restore.

    ssdb-dump -h <ip> -p <port> [-a <password>] -o <output_folder>
    ssdb-dump <ip> <port> <output_folder> [<password>]
    ssdb-dump --restore <backup_folder> <work_dir> [--slave-id <id>]
"""

from __future__ import annotations

import argparse
import sys

from ssdbpy.cli import backup

USAGE = """Usage: ssdb-dump -o output_folder
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 8888).
  -a <password>      Password to use when connecting to the server.
  -o <output_folder> local backup folder that will be created.

  ssdb-dump <hostname> <port> <output_folder> [<password>]

Restore (the node must be stopped; its work_dir must have no data/ yet):
  ssdb-dump --restore <backup_folder> <work_dir> [--slave-id <id>]
    --slave-id <id>  id of the work_dir's slaveof block (default id: ip|port):
                     the node then resumes replication from the backup's
                     binlog position instead of copying everything again.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"ERROR: {message}\n")
        sys.stdout.write(USAGE)
        raise SystemExit(1)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ssdb-dump", add_help=False)
    p.add_argument("-h", dest="host")
    p.add_argument("-p", dest="port")
    p.add_argument("-a", dest="auth")
    p.add_argument("-o", dest="output")
    p.add_argument("--help", action="store_true")
    p.add_argument("--restore", nargs=2, metavar=("BACKUP", "WORK_DIR"))
    p.add_argument("--slave-id")
    p.add_argument("rest", nargs="*")
    return p


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        sys.stderr.write(f"ERROR: invalid port: {text}\n")
        raise SystemExit(1)
    return port


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.restore:
        return _restore(args)
    sys.stdout.write(backup.BANNER)
    if args.help:
        sys.stdout.write(USAGE)
        return 0
    host, port, output, auth = args.host or "127.0.0.1", args.port or "8888", args.output, args.auth
    if args.rest:
        if len(args.rest) < 3 or len(args.rest) > 4 or args.host or args.port or args.output:
            sys.stderr.write("ERROR: expected: ssdb-dump <hostname> <port> <output_folder> [<password>]\n")
            sys.stdout.write(USAGE)
            return 1
        host, port, output = args.rest[:3]
        if len(args.rest) == 4:
            auth = args.rest[3]
    if not output:
        sys.stderr.write("ERROR: -o <output_folder> is required!\n")
        sys.stdout.write(USAGE)
        return 1
    sys.stdout.flush()
    return backup.Dumper(host, _port(port), output, auth).run()


def _restore(args) -> int:
    src, work_dir = args.restore
    try:
        res = backup.restore(src, work_dir, args.slave_id)
    except backup.RestoreFailed as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 1
    print(f"restored {src} into {res.data_dir}")
    if res.slave_id is not None:
        print(f"slave position of '{res.slave_id}': binlog seq {res.binlog_seq}; "
              "the node resumes replication from there when it starts")
    elif res.binlog_seq:
        print(f"the backup was taken at binlog seq {res.binlog_seq}; restore with --slave-id <id> "
              "to resume replication from there instead of a full copy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
