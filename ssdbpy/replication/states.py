"""Replication link states and the shapes the link modules need from their owner (pure).

A master session goes INIT -> COPY -> SYNC (or INIT -> SYNC when it resumes
within the binlog window); a slave link goes DISCONNECTED -> INIT -> COPY ->
SYNC, back to DISCONNECTED when the link breaks, and through OUT_OF_SYNC when
an SSDB master refuses its position (it then re-copies).  ``info`` prints the
value, SSDB's word.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol


class LinkState(StrEnum):
    DISCONNECTED = "DISCONNECTED"
    INIT = "INIT"
    COPY = "COPY"
    SYNC = "SYNC"
    OUT_OF_SYNC = "OUT_OF_SYNC"


class Host(Protocol):
    """What a master session and a slave link use of the Replication that owns them."""

    db: Any  # ssdbpy.db.database.Database
    sync_speed: int  # MB/s per master session, 0 = unlimited
    sessions: list  # the master sessions running now
    copies: int  # full copies sent since start
    write_gate: Any  # commands.context.WriteGate: a slave applies nothing while it is held
