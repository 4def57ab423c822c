"""CommitTimes (pure): the age of the first record after a position, its resolution and its bounds."""

from __future__ import annotations

from ssdbpy.replication import lag
from ssdbpy.replication.lag import CommitTimes


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(start_seq: int = 0, lowest=lambda: None):
    state = {"seq": start_seq}
    clock = Clock()
    times = CommitTimes(lambda: state["seq"], lowest, clock)

    def commit(seq: int, at: float) -> None:
        clock.t = at
        state["seq"] = seq
        times.committed()

    return times, commit, clock


def test_age_is_that_of_the_first_record_after_the_position():
    times, commit, clock = make()
    commit(5, 1001.0)
    commit(9, 1002.0)
    commit(12, 1002.5)
    clock.t = 1003.0
    assert times.age_ms(12) == 0  # nothing after it
    assert times.age_ms(11) == 500  # record 12, committed at 1002.5
    assert times.age_ms(9) == 500
    assert times.age_ms(8) == 1000  # record 9, committed at 1002.0
    assert times.age_ms(5) == 1000
    assert times.age_ms(4) == 2000
    assert times.age_ms(0) == 2000


def test_records_older_than_the_start_are_as_old_as_the_start():
    times, commit, clock = make(start_seq=100)  # started at 1000.0 with 100 records
    commit(101, 1004.0)
    clock.t = 1010.0
    assert times.age_ms(0) == 10000  # a lower bound: written before the server started
    assert times.age_ms(100) == 6000


def test_commits_closer_than_the_resolution_share_a_pair():
    times, commit, clock = make()
    commit(1, 1001.0)
    commit(2, 1001.0 + lag.RESOLUTION / 2)
    commit(3, 1001.0 + lag.RESOLUTION / 4 * 3)
    assert len(times) == 2  # the start and one pair for records 1..3
    clock.t = 1002.0
    assert times.age_ms(2) == 1000  # at most RESOLUTION too old
    commit(4, 1001.0 + lag.RESOLUTION * 2)
    assert len(times) == 3


def test_pairs_below_every_slaves_position_are_dropped(monkeypatch):
    monkeypatch.setattr(lag, "PRUNE_EVERY", 4)
    low = {"v": 1}
    times, commit, clock = make(lowest=lambda: low["v"])
    for i in range(1, 4):
        commit(i, 1000.0 + i)
    assert len(times) == 4
    low["v"] = 3  # every slave holds records 1 and 2
    commit(4, 1004.0)  # the fourth pair added: prune
    assert len(times) == 2  # the pairs of 3 and 4
    clock.t = 1010.0
    assert times.age_ms(2) == 7000  # record 3, committed at 1003.0
    assert times.age_ms(0) == 7000  # dropped: the oldest pair kept is a lower bound


def test_at_most_max_pairs(monkeypatch):
    monkeypatch.setattr(lag, "MAX_PAIRS", 8)
    monkeypatch.setattr(lag, "PRUNE_EVERY", 1 << 30)
    times, commit, clock = make(lowest=lambda: 1)
    for i in range(1, 40):
        commit(i, 1000.0 + i)
        assert len(times) <= 9
    clock.t = 1040.0
    assert times.age_ms(38) == 1000
