"""A full disk: writes get SSDB's ``error`` reply, readers are left alone, writes work again once there is room.

``work_dir`` is a small tmpfs mounted for the test (root only; skipped where
mounting is not permitted).  A ballast file on it is deleted to free space.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import plyvel
import pytest

from tests.harness.attack import Pinger
from tests.harness.server import wait_for

ERROR = b"5\nerror\n\n"
OK = b"2\nok\n1\n1\n\n"
VALUE = 4096


def _ssdb(*args: bytes) -> bytes:
    return b"".join(b"%d\n%s\n" % (len(a), a) for a in args) + b"\n"


def _resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class Conn:
    """A raw connection reading whole SSDB packets (or one RESP line)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def packet(self) -> bytes:
        while b"\n\n" not in self.buf or not self._complete():
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        n = self._complete()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _complete(self) -> int:
        """Length of the first complete SSDB packet in the buffer, or 0."""
        pos = 0
        buf = self.buf
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                return 0
            if nl == pos:
                return nl + 1  # the empty line ending the packet
            size = int(buf[pos:nl])
            pos = nl + 1 + size + 1
            if pos > len(buf):
                return 0

    def call(self, *args: bytes) -> bytes:
        self.sock.sendall(_ssdb(*args))
        return self.packet()

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        n = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self) -> None:
        self.sock.close()


class Reader(threading.Thread):
    """Reads fixed keys in a loop; records every wrong value and every reset."""

    def __init__(self, port: int, expected: dict[bytes, bytes]) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.expected = expected
        self.reads = 0
        self.resets = 0
        self.wrong: list[tuple[bytes, bytes]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = Conn(self.port)
        keys = list(self.expected)
        i = 0
        while not self.stop.is_set():
            k = keys[i % len(keys)]
            i += 1
            try:
                got = conn.call(b"get", k)
            except OSError:
                self.resets += 1
                conn = Conn(self.port)
                continue
            v = self.expected[k]
            if got != b"2\nok\n%d\n%s\n\n" % (len(v), v):
                self.wrong.append((k, got[:40]))
            self.reads += 1
        conn.close()


def _mount_tmpfs(path: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _binlog_seqs(data_dir: Path) -> list[int]:
    db = plyvel.DB(str(data_dir))
    try:
        return [int.from_bytes(k[1:9], "big") for k in db.iterator(start=b"\x01", stop=b"\x02", include_value=False)]
    finally:
        db.close()


@pytest.mark.timeout(180)
def test_full_disk_error_replies_readers_untouched_and_recovery(server_factory):
    srv = server_factory(start=False)
    var = srv.work_dir
    _mount_tmpfs(var, "24m")
    try:
        ballast = var / "ballast"
        ballast.write_bytes(b"\0" * (8 << 20))
        srv.start()
        acked: dict[bytes, bytes] = {}
        conn = Conn(srv.port)
        stable = {b"r%03d" % i: os.urandom(100) for i in range(50)}
        for k, v in stable.items():
            assert conn.call(b"set", k, v) == OK
        acked.update(stable)

        reader = Reader(srv.port, stable)
        reader.start()
        with Pinger(srv.port) as pinger:
            # fill the disk
            i = 0
            while True:
                k, v = b"w%06d" % i, os.urandom(VALUE)
                i += 1
                got = conn.call(b"set", k, v)
                if got != OK:
                    break
                acked[k] = v
                assert i < 10000, "the disk never filled"
            assert got == ERROR
            t_full = time.monotonic()
            # every write fails the same way while the disk is full, in both protocols
            for j in range(20):
                assert conn.call(b"set", b"x%d" % j, os.urandom(VALUE)) == ERROR
                assert conn.call(b"incr", b"n", b"1") == ERROR
                assert conn.call(b"hset", b"h", b"f%d" % j, b"v") == ERROR
            assert conn.call(b"get", b"x1") == b"9\nnot_found\n\n"
            assert conn.call(b"hsize", b"h") == b"2\nok\n1\n0\n\n"
            r = Conn(srv.port)
            r.sock.sendall(_resp(b"SET", b"x", os.urandom(VALUE)))
            assert r.line() == b"-ERR \r\n"
            r.close()
            # a pipelined chunk: the write gets error, the reads around it their values
            v1, v2 = stable[b"r001"], stable[b"r002"]
            conn.sock.sendall(_ssdb(b"get", b"r001") + _ssdb(b"set", b"y", os.urandom(VALUE)) + _ssdb(b"get", b"r002"))
            assert conn.packet() == b"2\nok\n%d\n%s\n\n" % (len(v1), v1)
            assert conn.packet() == ERROR
            assert conn.packet() == b"2\nok\n%d\n%s\n\n" % (len(v2), v2)
            while time.monotonic() - t_full < 2.0:  # the reader goes on reading meanwhile
                assert conn.call(b"set", b"z", os.urandom(VALUE)) == ERROR
                time.sleep(0.01)

            # room again: writes succeed without a restart
            ballast.unlink()
            t_free = time.monotonic()
            wait_for(lambda: conn.call(b"set", b"after", b"1") == OK, timeout=10, what="a write to succeed again")
            recovered_in = time.monotonic() - t_free
            acked[b"after"] = b"1"
            for j in range(200):
                k, v = b"a%06d" % j, os.urandom(VALUE)
                assert conn.call(b"set", k, v) == OK
                acked[k] = v
            assert conn.call(b"incr", b"n", b"1") == b"2\nok\n1\n1\n\n"
            assert conn.call(b"hset", b"h", b"f", b"v") == OK
            assert conn.call(b"hsize", b"h") == b"2\nok\n1\n1\n\n"
            time.sleep(0.3)
        reader.stop.set()
        reader.join(10)
        print(f"filled after {i} writes; recovered {recovered_in * 1000:.0f} ms after freeing; "
              f"reader: {reader.reads} reads, {reader.resets} resets; ping worst {pinger.worst * 1000:.1f} ms")
        assert reader.resets == 0 and not reader.wrong, (reader.resets, reader.wrong[:3])
        assert reader.reads > 100
        pinger.check(0.1)

        def check_acked() -> None:
            c = Conn(srv.port)
            for k, v in acked.items():
                assert c.call(b"get", k) == b"2\nok\n%d\n%s\n\n" % (len(v), v), k
            c.close()

        check_acked()
        conn.close()
        log = srv.log_path.read_text(errors="replace")
        about = [line for line in log.splitlines() if "LevelDB" in line or "Traceback" in line]
        print("\n".join(about))
        assert "Traceback" not in log and "Traceback" not in srv.logs()
        assert 2 <= len(about) <= 3, about
        srv.restart()
        check_acked()
        srv.stop()
        # the binlog has no gap and no number used twice: one record per sequence, contiguous
        seqs = _binlog_seqs(var / "data")
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    finally:
        srv.kill()
        _umount(var)
