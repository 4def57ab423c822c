"""The hybrid logical clock: monotonic, past every observed stamp, never backwards across restarts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssdbpy.storage.hlc import COUNTER_BITS, HLC, WINDOW, offset_from_env, physical_ms, wall_clock


class FakeDisk:
    def __init__(self) -> None:
        self.ceiling = 0
        self.saves = 0

    def save(self, c: int) -> None:
        self.ceiling = c
        self.saves += 1


def make(now: list[int], disk: FakeDisk) -> HLC:
    return HLC(lambda: now[0], disk.ceiling, disk.save)


def test_tick_follows_the_wall_clock():
    now, disk = [1_700_000_000_000], FakeDisk()
    c = make(now, disk)
    a = c.tick()
    assert physical_ms(a) == now[0] and a & ((1 << COUNTER_BITS) - 1) == 0
    b = c.tick()  # same millisecond: the counter moves
    assert b == a + 1
    now[0] += 5
    assert physical_ms(c.tick()) == now[0]


def test_wall_clock_stepping_back_does_not_move_stamps_back():
    now, disk = [2_000_000], FakeDisk()
    c = make(now, disk)
    a = c.tick()
    now[0] -= 60_000
    assert c.tick() == a + 1


def test_observe_puts_later_ticks_above_a_clock_minutes_ahead():
    now, disk = [1_000_000], FakeDisk()
    c = make(now, disk)
    remote = (now[0] + 5 * 60_000) << COUNTER_BITS
    c.observe(remote)
    assert c.tick() > remote
    assert disk.ceiling >= c.last  # persisted before use


def test_restart_never_goes_backwards_even_if_the_wall_clock_did():
    now, disk = [10_000_000], FakeDisk()
    c = make(now, disk)
    issued = [c.tick() for _ in range(100)]
    c.observe((now[0] + 3_600_000) << COUNTER_BITS)
    seen = c.last
    now[0] -= 86_400_000  # the machine's clock is reset a day back; the process restarts
    c2 = make(now, disk)
    assert c2.tick() > max(max(issued), seen)


def test_ceiling_is_saved_once_per_window_not_per_tick():
    now, disk = [5_000_000], FakeDisk()
    c = make(now, disk)
    for _ in range(1000):
        c.tick()
        now[0] += 1  # 1,000 stamps over one second
    assert disk.saves == 1 and disk.ceiling - c.last <= WINDOW


def test_wall_clock_offset_and_env(monkeypatch):
    assert abs(wall_clock(60_000)() - wall_clock(0)() - 60_000) < 1000
    assert offset_from_env({"SSDBPY_CLOCK_OFFSET_MS": "-1500"}) == -1500
    assert offset_from_env({"SSDBPY_CLOCK_OFFSET_MS": "x"}) == 0
    assert offset_from_env({}) == 0


ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(-10_000, 10_000)),
        st.tuples(st.just("observe"), st.integers(0, 1 << 50)),
        st.tuples(st.just("restart"), st.integers(-10**7, 10**7)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_property_every_tick_above_everything_before(seq):
    """Whatever the wall clock does, across observes and restarts: each tick is above every
    stamp issued or observed before, and the persisted ceiling covers them all."""
    now, disk = [1 << 30], FakeDisk()
    c = make(now, disk)
    high = 0
    for op, arg in seq:
        if op == "tick":
            now[0] = max(0, now[0] + arg)
            s = c.tick()
            assert s > high
            high = s
        elif op == "observe":
            c.observe(arg)
            high = max(high, arg)
        else:
            now[0] = max(0, now[0] + arg)
            c = make(now, disk)
        assert disk.ceiling >= high
