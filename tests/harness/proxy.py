"""A fault-injecting TCP proxy on 127.0.0.1 for replication tests.

``FaultProxy(target_port)`` listens on its own free port and forwards every
accepted connection to ``127.0.0.1:target_port``, one thread per direction.
Faults it can inject while running:

* ``cut()``: close every open connection at once (both sides, with an RST),
  like a crashed middlebox; new connections are accepted as before.
* ``blackhole()``: stop moving bytes in both directions on every connection,
  old and new, without closing anything -- a network partition in which
  packets are dropped; TCP buffers fill and the peers see silence.
  ``resume()`` lets the bytes flow again.
* ``refuse()``: close every new connection right after accepting it (a host
  that is up but not serving); ``resume()`` ends it.

Byte counters (``down_bytes`` master -> slave, ``up_bytes``) and the number of
accepted connections let a test wait for progress.  The proxy only moves
bytes; it never alters or drops part of a stream (TCP never does either).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time

_CHUNK = 64 * 1024
_POLL = 0.02  # s: how quickly pumps notice a fault being switched on or off


def _rst_close(s: socket.socket) -> None:
    """Close ``s`` with an RST (SO_LINGER 0), ignoring errors."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class _Link:
    """One proxied connection: the accepted client socket and the upstream socket."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        for src, dst, down in ((self.upstream, self.client, True), (self.client, self.upstream, False)):
            threading.Thread(target=self._pump, args=(src, dst, down), daemon=True,
                             name=f"proxy-{self.proxy.port}-{'down' if down else 'up'}").start()

    def close(self) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        _rst_close(self.client)
        _rst_close(self.upstream)
        self.proxy._forget(self)

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool) -> None:
        proxy = self.proxy
        try:
            while not self.closed.is_set():
                if not proxy.flowing.wait(_POLL):
                    continue  # blackholed: leave the bytes in the kernel buffers
                r, _, _ = select.select([src], [], [], _POLL)
                if not r:
                    continue
                if not proxy.flowing.is_set():
                    continue
                try:
                    data = src.recv(_CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    break
                view = memoryview(data)
                while view:
                    # wait for room without blocking past a fault switch
                    _, w, _ = select.select([], [dst], [], _POLL)
                    if self.closed.is_set():
                        return
                    if not w or not proxy.flowing.is_set():
                        continue
                    try:
                        n = dst.send(view)
                    except BlockingIOError:
                        continue
                    view = view[n:]
                with proxy._lock:
                    if down:
                        proxy.down_bytes += len(data)
                    else:
                        proxy.up_bytes += len(data)
        except (OSError, ValueError):
            pass
        finally:
            self.close()


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        #: set while bytes may move (cleared by blackhole())
        self.flowing = threading.Event()
        self.flowing.set()
        self._refusing = False
        self._stopped = threading.Event()
        self.accepted = 0
        self.down_bytes = 0
        self.up_bytes = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"proxy-{self.port}")

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopped.set()
        self.flowing.set()
        try:
            self._listener.close()
        except OSError:
            pass
        self.cut()
        self._thread.join(2)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- faults ---------------------------------------------------------------------
    def cut(self) -> int:
        """Close every open connection (RST on both sides); returns how many were cut."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()
        return len(links)

    def blackhole(self) -> None:
        """Stop forwarding bytes on every connection (open ones stay open, silently)."""
        self.flowing.clear()

    def refuse(self) -> None:
        """Close new connections at once (open ones are untouched)."""
        self._refusing = True

    def resume(self) -> None:
        """End ``blackhole()`` and ``refuse()``."""
        self._refusing = False
        self.flowing.set()

    # --- state ----------------------------------------------------------------------
    @property
    def open_links(self) -> int:
        with self._lock:
            return len(self._links)

    def counters(self) -> tuple[int, int, int]:
        """(accepted connections, bytes master->slave, bytes slave->master)."""
        with self._lock:
            return self.accepted, self.down_bytes, self.up_bytes

    def wait_bytes(self, n: int, timeout: float = 10.0) -> None:
        """Wait until at least ``n`` more bytes went downstream than when called."""
        start = self.counters()[1]
        deadline = time.monotonic() + timeout
        while self.counters()[1] - start < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"proxy {self.port}: fewer than {n} bytes forwarded in {timeout}s")
            time.sleep(0.01)

    # --- internals ------------------------------------------------------------------
    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing or self._stopped.is_set():
                _rst_close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _rst_close(client)  # target down: the client sees the refusal
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.setblocking(False)  # pumps wait in select(), so a fault switch is never stuck in send()
            link = _Link(self, client, upstream)
            with self._lock:
                self._links.add(link)
                self.accepted += 1
            link.start()
