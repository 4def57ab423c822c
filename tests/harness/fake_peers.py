"""Scripted SSDB replication peers for wire-level tests (plain blocking sockets).

``FakeSlave`` connects to a real master and speaks ``sync140`` like an SSDB
1.9.8 slave thread; ``FakeMaster`` listens on 127.0.0.1 and lets a test accept
a real slave's link, check its request bytes and replay a captured stream (it
answers an ssdbpy slave's side connections by itself, as SSDB does unless told
otherwise).

Framing and header layout are written out here from spec/replication.md §1
(deliberately not imported from ssdbpy, so the tests are an independent
reading of the spec): packet = blocks ``<len>\\n<data>\\n`` then ``\\n``;
first block of a stream packet = ``LE64(seq) + u8(type) + u8(cmd) + key``.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass

# record types and commands (spec/replication.md §1)
NOOP, SYNC, MIRROR, COPY, CTRL = 0, 1, 2, 3, 4
NONE, KSET, KDEL, HSET, HDEL, ZSET, ZDEL, BEGIN, END = 0, 1, 2, 3, 4, 5, 6, 7, 8
QPUSH_BACK, QPUSH_FRONT, QPOP_BACK, QPOP_FRONT, QSET = 10, 11, 12, 13, 14

TYPE_NAMES = {NOOP: "NOOP", SYNC: "SYNC", MIRROR: "MIRROR", COPY: "COPY", CTRL: "CTRL"}
CMD_NAMES = {NONE: "NONE", KSET: "KSET", KDEL: "KDEL", HSET: "HSET", HDEL: "HDEL", ZSET: "ZSET", ZDEL: "ZDEL",
             BEGIN: "BEGIN", END: "END", QPUSH_BACK: "QPUSH_BACK", QPUSH_FRONT: "QPUSH_FRONT",
             QPOP_BACK: "QPOP_BACK", QPOP_FRONT: "QPOP_FRONT", QSET: "QSET"}

_HDR = struct.Struct("<QBB")

#: encoded name of the internal TTL zset
EXPIRE_ZSET = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"
#: seq of the first item of a new queue, and its BE64 / LE64 forms
QFIRST = 0x3FFFFFFFFFFFFFFF


def encode_packet(blocks: list[bytes]) -> bytes:
    return b"".join(b"%d\n%s\n" % (len(b), b) for b in blocks) + b"\n"


def header(seq: int, btype: int, cmd: int, key: bytes = b"") -> bytes:
    return _HDR.pack(seq, btype, cmd) + key


def stream_packet(seq: int, btype: int, cmd: int, key: bytes = b"", *values: bytes) -> bytes:
    return encode_packet([header(seq, btype, cmd, key), *values])


# --- encoded data keys (spec/storage.md) ---------------------------------------------
def kkey(key: bytes) -> bytes:
    return b"k" + key


def hkey(name: bytes, field: bytes) -> bytes:
    return b"h" + bytes((len(name),)) + name + b"=" + field


def skey(name: bytes, member: bytes) -> bytes:
    return b"s" + bytes((len(name),)) + name + bytes((len(member),)) + member


def qkey(name: bytes, seq: int) -> bytes:
    return b"q" + bytes((len(name),)) + name + struct.pack(">Q", seq)


def le64(v: int) -> bytes:
    return struct.pack("<Q", v)


@dataclass(frozen=True)
class Frame:
    """One decoded stream packet: the header fields and the blocks after it."""

    seq: int
    type: int
    cmd: int
    key: bytes
    values: tuple[bytes, ...]

    def __repr__(self) -> str:
        return (f"Frame(seq={self.seq} {TYPE_NAMES.get(self.type, self.type)} "
                f"{CMD_NAMES.get(self.cmd, self.cmd)} {self.key!r} {list(self.values)!r})")


def F(seq: int, btype: int, cmd: int, key: bytes = b"", *values: bytes) -> Frame:
    return Frame(seq, btype, cmd, key, tuple(values))


def decode_frame(blocks: list[bytes]) -> Frame:
    assert blocks and len(blocks[0]) >= 10, f"not a stream packet: {blocks!r}"
    seq, t, c = _HDR.unpack_from(blocks[0])
    return Frame(seq, t, c, blocks[0][10:], tuple(blocks[1:]))


class PacketReader:
    """Incremental SSDB packet parser that also keeps the raw bytes of each packet."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> tuple[list[bytes], bytes] | None:
        """(blocks, raw bytes) of the next complete packet, or None."""
        buf = self.buf
        p = 0
        blocks: list[bytes] = []
        while True:
            nl = buf.find(b"\n", p)
            if nl < 0:
                return None
            line = buf[p:nl]
            if line == b"":
                raw = buf[: nl + 1]
                self.buf = buf[nl + 1 :]
                return blocks, raw
            size = int(line)
            start = nl + 1
            if len(buf) < start + size + 1:
                return None
            assert buf[start + size : start + size + 1] == b"\n", f"bad framing in {buf[:200]!r}"
            blocks.append(buf[start : start + size])
            p = start + size + 1


class PacketSocket:
    """A blocking socket with SSDB packet framing and a raw-bytes log."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = PacketReader()
        self.raw = b""  # every byte received so far
        self.closed_by_peer = False

    def send(self, *blocks: bytes) -> None:
        self.sock.sendall(encode_packet(list(blocks)))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete packet before the deadline")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no complete packet before the deadline") from None
        if not data:
            self.closed_by_peer = True
            raise ConnectionError("peer closed the connection")
        self.raw += data
        self.reader.feed(data)

    def read_packet_raw(self, timeout: float = 5.0) -> tuple[list[bytes], bytes]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.reader.next()
            if got is not None:
                return got
            self._fill(deadline)

    def read_packet(self, timeout: float = 5.0) -> list[bytes]:
        return self.read_packet_raw(timeout)[0]

    def read_frame(self, timeout: float = 5.0) -> Frame:
        return decode_frame(self.read_packet(timeout))

    def read_frames(self, n: int, timeout: float = 10.0) -> list[Frame]:
        """Exactly ``n`` frames (fails with what was read so far if they do not come in time)."""
        deadline = time.monotonic() + timeout
        frames: list[Frame] = []
        while len(frames) < n:
            try:
                frames.append(self.read_frame(max(deadline - time.monotonic(), 0.001)))
            except TimeoutError:
                raise AssertionError(f"only {len(frames)} of {n} frames arrived in {timeout}s: {frames!r}") from None
        return frames

    def read_until(self, stop, timeout: float = 10.0) -> list[Frame]:
        """Frames up to and including the first one for which ``stop(frame)`` is true."""
        deadline = time.monotonic() + timeout
        frames: list[Frame] = []
        while True:
            try:
                f = self.read_frame(max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                raise AssertionError(f"stop frame did not arrive in {timeout}s; got {frames!r}") from None
            frames.append(f)
            if stop(f):
                return frames

    def assert_silent(self, seconds: float) -> None:
        """No complete packet arrives within ``seconds`` (the link stays open)."""
        try:
            got = self.read_packet(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected packet: {got!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeSlave(PacketSocket):
    """Connects to a master like an SSDB slave thread would."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock)

    def sync140(self, last_seq: int = 0, last_key: bytes = b"", type_: bytes = b"sync") -> None:
        self.send(b"sync140", str(last_seq).encode(), last_key, type_)


#: the requests an ssdbpy slave sends on a short side connection before or beside its link, to
#: learn whether the master takes its extensions (docs/replication.md)
SIDE_REQUESTS = (b"ssdbpy_replica", b"ssdbpy_mirror")


class FakeMaster:
    """A listening socket on 127.0.0.1 (free port) that real slaves connect to.

    An ssdbpy slave also opens short side connections whose first request is
    one of :data:`SIDE_REQUESTS`.  A thread accepts every connection and reads
    its first request: a side request is answered here -- by default as SSDB
    1.9.8 answers it (``client_error Unknown Command: <name>``), or with
    ``answers[name]`` -- recorded in ``side_requests`` and the connection closed;
    any other connection (its first request left unread) is a replication link
    for :meth:`accept`.  A connection that starts with ``auth`` is a link too:
    the test answers it (a side connection of a slave with ``auth`` then shows
    up in :meth:`accept` as well).
    """

    def __init__(self, answers: dict[bytes, list[bytes]] | None = None) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.conns: list[PacketSocket] = []
        self.answers = answers or {}
        self.side_requests: list[list[bytes]] = []
        self._links: queue.Queue[PacketSocket] = queue.Queue()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def slaveof(self, type_: str = "sync", **extra) -> dict:
        """A slaveof block for ServerProcess pointing at this fake master."""
        return {"type": type_, "ip": "127.0.0.1", "port": self.port, **extra}

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _addr = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = PacketSocket(sock)
            self.conns.append(conn)
            threading.Thread(target=self._sort, args=(conn,), daemon=True).start()

    def _sort(self, conn: PacketSocket) -> None:
        """Answer a side connection, or queue a link with its first request put back."""
        try:
            blocks, raw = conn.read_packet_raw(timeout=30.0)
        except (TimeoutError, ConnectionError, OSError):
            conn.close()
            return
        if blocks and blocks[0] in SIDE_REQUESTS:
            self.side_requests.append(blocks)
            reply = self.answers.get(blocks[0], [b"client_error", b"Unknown Command: " + blocks[0]])
            try:
                conn.send(*reply)
            except OSError:
                pass
            conn.close()
            return
        conn.reader.buf = raw + conn.reader.buf
        self._links.put(conn)

    def accept(self, timeout: float = 10.0) -> PacketSocket:
        """The next replication link (its first request not read yet)."""
        try:
            return self._links.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no slave connected within {timeout}s") from None

    def pending(self, timeout: float = 0.0) -> bool:
        """True if a new link is waiting to be accepted (it is left in the queue)."""
        deadline = time.monotonic() + timeout
        while self._links.empty():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        for c in self.conns:
            c.close()
        try:
            self.listener.close()
        except OSError:
            pass

    def __enter__(self) -> "FakeMaster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
