"""ssdb-dump: online backup over the network, and the restore of such a backup.

A backup folder is what SSDB 1.9.8's ssdb-dump makes (tools.md §2): ``data/``
is a LevelDB holding every user key in the native encoding and ``meta/`` an
empty directory, so the folder can serve directly as a ``work_dir`` of ssdbpy
or SSDB.  ssdbpy adds ``backup.json``: where the backup came from, how many
entries it holds, whether it completed, and the master's binlog position at
the instant of the snapshot (``binlog_seq``; ssdbpy servers send it when asked
with the ``binlog_seq`` flag of ``dump``, real SSDB servers do not).

Restore copies ``data/`` into a stopped node's work_dir and, given the id of
the node's ``slaveof`` block, stores ``binlog_seq`` as that slave's position,
so the node resumes replication from the instant of the backup ("sync
recover") instead of copying everything again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from ssdbpy.client import Client, ConnectionClosed
from ssdbpy.cli.progress import Progress
from ssdbpy.errors import StorageError
from ssdbpy.storage import backup as store

BANNER = "ssdb-dump - SSDB backup command\nCopyright (c) 2012-2015 ssdb.io\n\n"
INFO_FILE = "backup.json"
FORMAT = "ssdbpy-backup 1"
#: how long the stream may stay silent before the dump is abandoned (s)
RECV_TIMEOUT = 300.0


class DumpFailed(Exception):
    """Ends a dump with ``ERROR: ...`` lines on stderr and exit status 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class BackupInfo:
    host: str = ""
    port: int = 0
    complete: bool = False
    binlog_seq: int | None = None
    entries: int = 0
    bytes: int = 0
    started: float = 0.0
    finished: float | None = None
    format: str = FORMAT
    extra: dict = field(default_factory=dict)

    def save(self, folder: str) -> None:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        tmp = os.path.join(folder, INFO_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")
        os.replace(tmp, os.path.join(folder, INFO_FILE))

    @classmethod
    def load(cls, folder: str) -> "BackupInfo | None":
        path = os.path.join(folder, INFO_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            d = json.load(f)
        known = {k: d.pop(k) for k in list(d) if k in cls.__dataclass_fields__ and k != "extra"}
        return cls(**known, extra=d)


def _progress_line(count: int) -> bool:
    """SSDB prints ``received N entry(s)`` at every power of ten and every 100000."""
    if count <= 1:
        return count == 1
    return int(math.log10(count - 1)) != int(math.log10(count)) or count % 100000 == 0


class Dumper:
    def __init__(self, host: str, port: int, folder: str, auth: str | None = None, *,
                 out: TextIO | None = None, err: TextIO | None = None, progress: Progress | None = None,
                 timeout: float = RECV_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.folder = folder
        self.auth = auth
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.progress = progress or Progress(self.err)
        self.timeout = timeout
        self.info = BackupInfo(host=host, port=port)
        #: this run made ``folder`` (so a failure removes it)
        self.created = False

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def run(self) -> int:
        """Make the backup; 0, or 1 with ``ERROR:`` lines on stderr.

        Unlike SSDB's, a failed or interrupted run (Ctrl-C, SIGTERM) removes the
        folder it created, so the same command can simply be run again.
        """
        self.created = False
        try:
            self._create_folder()
            with _sigterm_as_exit():
                self._run()
        except DumpFailed as exc:
            self.progress.finish() if self.progress.count else None
            for line in exc.lines:
                self.err.write(line + "\n")
            self._remove_incomplete()
            return 1
        except BaseException:
            self._remove_incomplete()
            raise
        return 0

    def _create_folder(self) -> None:
        folder = self.folder
        if os.path.exists(folder):
            raise DumpFailed(f"ERROR: output_folder[{folder}] exists!")
        try:
            os.mkdir(folder)
            self.created = True
            os.mkdir(os.path.join(folder, "meta"))
        except OSError as exc:
            raise DumpFailed(f"ERROR: error create backup directory! ({exc})") from None

    def _remove_incomplete(self) -> None:
        """Remove the folder this run created (never one that existed before)."""
        if self.created:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.err.write(f"removed the incomplete backup folder {self.folder}\n")
        self.err.flush()

    def _run(self) -> None:
        folder = self.folder
        self.info.started = time.time()
        self.info.save(folder)  # complete: false until the end packet is in
        try:
            link = Client(self.host, self.port, timeout=10.0)
        except OSError as exc:
            raise DumpFailed(f"ERROR: error connecting to server: {self.host}:{self.port}! ({exc})") from None
        try:
            link.sock.settimeout(self.timeout)
            if self.auth is not None:
                reply = self._request(link, "auth", self.auth)
                if not reply or reply[0] != b"ok":
                    raise DumpFailed("ERROR: auth error!")
            link.send("dump", "A", "", "-1", "binlog_seq")
            self._receive(link)
        finally:
            link.close()

    @staticmethod
    def _request(link: Client, *args: str) -> list[bytes] | None:
        try:
            return link.request(*args)
        except (OSError, ConnectionClosed):
            return None

    def _receive(self, link: Client) -> None:
        writer = store.BackupWriter(os.path.join(self.folder, "data"))
        progress = self.progress
        # intermediate SSDB lines would tear the live line on the same terminal
        quiet_lines = progress.enabled and _isatty(self.out)
        count = 0
        nbytes = 0
        try:
            first = True
            while True:
                try:
                    pkt = link.read()
                except socket.timeout:
                    raise DumpFailed(f"recv error: no data for {self.timeout:.0f} s",
                                     "ERROR: failed to dump data!") from None
                except (OSError, ConnectionClosed) as exc:
                    raise DumpFailed(f"read error: {exc}", "ERROR: failed to dump data!") from None
                cmd = pkt[0]
                if cmd == b"set":
                    if len(pkt) != 3:
                        raise DumpFailed("invalid set params!", "ERROR: failed to dump data!")
                    key = pkt[1]
                    if not key or key[0] == 1:
                        continue
                    writer.put(key, pkt[2])
                    count += 1
                    nbytes += len(key) + len(pkt[2])
                    if not quiet_lines and _progress_line(count):
                        self.say(f"received {count} entry(s)")
                    if not count & 255:
                        progress.update(count, nbytes)
                elif cmd == b"begin" and first:
                    self.say("recv begin...")
                    if len(pkt) > 1 and pkt[1].isdigit() and int(pkt[1]) > 0:
                        self.info.binlog_seq = int(pkt[1])
                elif cmd == b"end":
                    progress.update(count, nbytes)
                    if progress.enabled:
                        progress.finish()
                    self.say(f"received {count} entry(s)")
                    self.say("recv end\n")
                    break
                elif first and len(pkt) > 1:
                    # the server refused: e.g. noauth, or dump unsupported
                    raise DumpFailed(f"error: {_text(cmd)}: {_text(pkt[1])}", "ERROR: failed to dump data!")
                else:
                    raise DumpFailed(f"error: unknown command {_text(cmd)}", "ERROR: failed to dump data!")
                first = False
            writer.flush()
            self.say(f"total dumped {count} entry(s)")
            self.say(writer.stats())
            self.say("compacting data...")
            writer.compact()
            self.say(writer.stats())
        except StorageError as exc:
            raise DumpFailed(f"put leveldb error! ({exc})", "ERROR: failed to dump data!") from None
        finally:
            writer.close()
        info = self.info
        info.entries = count
        info.bytes = nbytes
        info.complete = True
        info.finished = time.time()
        info.save(self.folder)
        if info.binlog_seq is not None:
            self.say(f"binlog position: {info.binlog_seq} (ssdb-dump --restore ... --slave-id ID resumes from it)")
        self.say(f"backup has been made to folder: {self.folder}")


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit (so the incomplete folder is removed) while the dump runs."""
    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


# --- restore -------------------------------------------------------------------------
class RestoreFailed(Exception):
    pass


@dataclass
class RestoreResult:
    data_dir: str
    binlog_seq: int | None
    slave_id: str | None


def restore(backup: str, work_dir: str, slave_id: str | None = None) -> RestoreResult:
    """Install the backup folder ``backup`` as the data of the stopped node at ``work_dir``.

    ``work_dir/data`` must not exist (and ``work_dir/meta`` must not be held
    by a running server).  With ``slave_id`` the backup's binlog position is
    stored as the position of the node's ``slaveof`` block of that id.
    Raises :class:`RestoreFailed` with a message for the operator.
    """
    src = os.path.join(backup, "data")
    if not store.is_leveldb(src):
        raise RestoreFailed(f"{backup} is not a backup folder (no LevelDB in {src})")
    info = BackupInfo.load(backup)
    if info is not None and not info.complete:
        raise RestoreFailed(f"{backup} is an incomplete backup (the dump did not finish); take a new one")
    data = os.path.join(work_dir, "data")
    meta = os.path.join(work_dir, "meta")
    for path in (data, meta):
        if store.is_locked(path):
            raise RestoreFailed(f"{path} is in use by a running server; stop it first")
    if os.path.exists(data):
        raise RestoreFailed(f"{data} already exists; move it away first (restore never overwrites data)")
    seq = info.binlog_seq if info is not None else None
    if slave_id is not None and not seq:
        raise RestoreFailed(f"{backup} records no binlog position (taken from a server without binlog, "
                            "or by another tool); restore it without --slave-id: the slave will copy everything")
    os.makedirs(work_dir, exist_ok=True)
    tmp = data + ".restoring"
    if os.path.exists(tmp):
        import shutil

        shutil.rmtree(tmp)
    try:
        store.copy_db(src, tmp)
        if slave_id is not None:
            assert seq is not None
            store.write_slave_position(meta, slave_id, seq)
        os.rename(tmp, data)
    except (OSError, StorageError) as exc:
        raise RestoreFailed(f"restore failed: {exc}") from None
    return RestoreResult(data, seq, slave_id)
