"""Data-type semantics over the storage layer, behind one Database facade."""

from ssdbpy.db.database import Database

__all__ = ["Database"]
