"""Queue (list) semantics (SSDB 1.9.8 t_queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssdbpy.db.database import Database


class Queue:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog
