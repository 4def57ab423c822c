"""The real SSDB 1.9.8 server, started like :class:`ServerProcess` for side-by-side comparisons.

The binary lives at ``../shared/reference/ssdb-1.9.8/ssdb-server`` relative to
the repository; tests that need it skip when it is absent (:data:`SKIP_REASON`).
It sets no SO_REUSEADDR, so every start takes a fresh free port.
"""

from __future__ import annotations

import subprocess
import time

from tests.harness.server import SHARED, ServerProcess

BINARY = SHARED / "reference" / "ssdb-1.9.8" / "ssdb-server"
SKIP_REASON = f"reference SSDB 1.9.8 binary not found at {BINARY}"


def available() -> bool:
    return BINARY.is_file()


class ReferenceServer(ServerProcess):
    """``ssdb-server ssdb.conf`` in its own directory, on a free port."""

    def start(self, timeout: float = 15.0) -> "ReferenceServer":
        self.stderr_path = self.root / "stderr.txt"
        self.proc = subprocess.Popen(
            [str(BINARY), str(self.conf)], cwd=str(self.root), stdin=subprocess.DEVNULL,
            stdout=open(self.root / "stdout.txt", "ab"), stderr=open(self.stderr_path, "ab"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reference server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if self._accepting():
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"reference server did not start in {timeout}s:\n{self.logs()}")
