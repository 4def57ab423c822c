"""Hash semantics (SSDB 1.9.8 t_hash)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssdbpy.db.database import Database


class Hash:
    def __init__(self, db: "Database") -> None:
        self.engine = db.engine
        self.binlog = db.binlog
