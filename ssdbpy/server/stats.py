"""Figures sampled over time for ``info`` (instantaneous_ops_per_sec)."""

from __future__ import annotations

from time import monotonic

import gevent

from ssdbpy.commands.context import ServerState

#: seconds between two samples: ``instantaneous_ops_per_sec`` is the rate over the last one
INTERVAL = 1.0


class OpsSampler:
    """Sets ``state.ops_per_sec`` from the command counters once a second.

    A libev timer on the hub (no greenlet): one sum over the command table per
    second, nothing on the request path.
    """

    def __init__(self, state: ServerState, interval: float = INTERVAL) -> None:
        self.state = state
        self.interval = interval
        self._timer = None
        self._t = monotonic()
        self._calls = state.total_calls()

    def start(self) -> None:
        self._t = monotonic()
        self._calls = self.state.total_calls()
        self._timer = gevent.get_hub().loop.timer(self.interval, self.interval)
        self._timer.start(self.sample)

    def sample(self) -> None:
        now = monotonic()
        calls = self.state.total_calls()
        dt = now - self._t
        if dt > 0:
            self.state.ops_per_sec = (calls - self._calls) / dt
        self._t, self._calls = now, calls

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None
