"""Replication groups: history ids, aligned binlogs and slave acks (docs/replication.md,
"Replication groups").

A sync slave on a negotiated (``ssdbpy_replica``) link logs every applied record
under its master's sequence number, so a position means the same record on every
node of the group.  Other sync links of an ssdbpy slave (ssdb.conf, SSDB's
``slaveof`` command) negotiate an *identified* link instead: plain sync140
records, plus the slave's link id and listening port and its acks.  :class:`History` is the node's history id, kept in the meta
db; :func:`may_resume` is the master's decision; :func:`align_before` /
:func:`align_after` keep a slave's binlog numbered as its master's.
"""

from __future__ import annotations

import logging
import os

from ssdbpy.storage import binlog as bl

log = logging.getLogger("ssdbpy.repl")

#: the side-connection offer of an aligned sync link and its protocol version
OFFER = b"ssdbpy_replica"
PROTO = b"1"
#: the marker the extended sync140 request carries as its fifth argument
MARK = b"ssdbpy1"
#: the marker of an identified sync140 request (a plain, not aligned, link whose slave says who it
#: is and acknowledges): ``sync140 <seq> <key> sync ssdbpy1id <listening port> <link id>``; a master
#: that takes it ends its answer to the offer with this word
IDENTIFIED = b"ssdbpy1id"
#: in the offer's answer: the master sends a full copy as BULK records (replication/wire.py) to a
#: slave whose (aligned or identified) sync140 request ends with it
BULK = b"ssdbpy1bulk"
#: the ack a slave writes back on an aligned or identified link: ``ssdbpy_ack <seq>``
ACK = b"ssdbpy_ack"
#: a slave being promoted asks its master for the last records: ``ssdbpy_handoff``; the master
#: refuses writes from then on and answers, after the last record, a CTRL record with this key
HANDOFF = b"ssdbpy_handoff"
HANDOFF_KEY = b"HANDOFF"
#: s a promotion waits for the master's last records
HANDOFF_TIMEOUT = 3.0

#: meta db key prefix marking a slave link id as a group link (made by SLAVEOF host port)
GROUP_LINK_PREFIX = b"ssdbpy.repl.group_link."
_KEY_ID = b"ssdbpy.repl.history"
_KEY_ID2 = b"ssdbpy.repl.history2"
_KEY_END2 = b"ssdbpy.repl.history2_end"
_KEY_REUSED = b"ssdbpy.repl.reused_seqs"
NO_ID = "0" * 40


def new_id() -> str:
    return os.urandom(20).hex()


class History:
    """The node's history id, the previous one and the last sequence the previous one covers."""

    def __init__(self, meta) -> None:
        self.meta = meta
        raw = meta.get(_KEY_ID)
        self.id = raw.decode() if raw else new_id()
        raw2 = meta.get(_KEY_ID2)
        self.id2 = raw2.decode() if raw2 else NO_ID
        end = meta.get(_KEY_END2)
        self.end2 = int(end) if end else -1
        #: sequences this node's binlog numbered twice (a full copy restarted it below its end):
        #: a plain slave's position in this range may be of the old data (see :meth:`reused`)
        self.reused_seqs: tuple[int, int] | None = None
        reused = meta.get(_KEY_REUSED)
        if reused:
            first, last = reused.split()
            self.reused_seqs = (int(first), int(last))
        if not raw:
            self._save()

    def _save(self) -> None:
        self.meta.put(_KEY_ID, self.id.encode())
        self.meta.put(_KEY_ID2, self.id2.encode())
        self.meta.put(_KEY_END2, str(self.end2).encode())
        self.meta.commit()

    def fork(self, upto: int) -> None:
        """A new history (promotion): the current one stays valid up to ``upto``."""
        self.id2, self.end2, self.id = self.id, upto, new_id()
        log.info("new replication history %s (the previous one %s ends at seq %d)", self.id, self.id2, upto)
        self._save()

    def adopt(self, master_id: str, position: int) -> bool:
        """A slave follows its master's history from ``position`` on; True if the id changed."""
        if master_id == self.id:
            return False
        self.id2, self.end2, self.id = self.id, position, master_id
        self._save()
        return True

    def replace(self, master_id: str) -> None:
        """After a full copy: the data is the master's only."""
        self.id, self.id2, self.end2 = master_id, NO_ID, -1
        self._save()

    def reused(self, first: int, last: int) -> None:
        """The binlog restarted after a full copy: numbers ``first``..``last`` now name other records
        than before (kept as one range with earlier ones)."""
        if last < first:
            return
        if self.reused_seqs is not None:
            first, last = min(first, self.reused_seqs[0]), max(last, self.reused_seqs[1])
        self.reused_seqs = (first, last)
        self.meta.put(_KEY_REUSED, b"%d %d" % (first, last))
        self.meta.commit()

    def ambiguous(self, seq: int) -> bool:
        """Whether position ``seq`` of a slave without history (plain sync140) may be of the old data."""
        r = self.reused_seqs
        return r is not None and r[0] <= seq <= r[1]

    def knows(self, history: str, seq: int) -> bool:
        """Whether position ``seq`` in ``history`` names a record of this node's history."""
        return history == self.id or (history == self.id2 and seq <= self.end2)


def may_resume(history: History, slave_history: str, seq: int, key: bytes, slave_history2: str = "",
               slave_end2: int = -1) -> bool:
    """The master's check of an aligned slave's position (the binlog window is checked after).

    The slave's data is a state of this node's history if its position is in that history, or if it
    has nothing of its own history yet (``seq`` at or below the end of its previous one, e.g. it was
    promoted and put back before any write) and its previous history's position is known here.
    """
    if key:  # a copy in progress: only from the same history
        return slave_history == history.id
    return history.knows(slave_history, seq) or (seq <= slave_end2 and history.knows(slave_history2, seq))


def restart_binlog(db, seq: int, history: History | None = None) -> None:
    """Delete every binlog record and number the next one ``seq + 1`` (after an aligned full copy);
    ``history`` remembers the numbers used twice."""
    b = db.binlog
    if history is not None:
        history.reused(seq, b.last_seq)
    db.commit()
    b.clear()
    b.last_seq = b.committed_seq = b.durable_seq = b.min_seq = seq
    b.save_marker()


def placeholder(db) -> None:
    """Stage a NOOP record (a sequence number the master used for nothing this node applies)."""
    b = db.binlog
    prev = b.type
    b.type = bl.NOOP
    try:
        b.add(bl.NONE, b"")
    finally:
        b.type = prev


def align_before(db, seq: int) -> bool:
    """Before applying the master's record ``seq``: fill the gap; False if this binlog is past it."""
    b = db.binlog
    if not b.enabled:
        return True
    if b.last_seq >= seq:
        return False
    while b.last_seq < seq - 1:
        placeholder(db)
    return True


def align_after(db, seq: int) -> bool:
    """After applying record ``seq``: a placeholder if the apply logged nothing; False if it logged more."""
    b = db.binlog
    if not b.enabled:
        return True
    if b.last_seq < seq:
        placeholder(db)
    return b.last_seq == seq
