"""The alarm state machine: thresholds, hysteresis and delays, as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.alarms.engine import Level, Rule, State, due_us, expire, step

GAS = Rule(levels=(Level("major", 25), Level("critical", 50)), deadband=2.0, latch=True)
SECOND = 1_000_000

values = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60)


def run(
    rule: Rule, readings: list[float], spacing_us: int = SECOND
) -> tuple[State, list[tuple[int, int]]]:
    state, changes = State(), []
    for i, value in enumerate(readings):
        state, change = step(rule, state, (i + 1) * spacing_us, value)
        if change:
            changes.append((change.before, change.after))
    return state, changes


def plain_level(value: float) -> int:
    return 2 if value >= 50 else 1 if value >= 25 else 0


def test_gas_levels_by_hand() -> None:
    _state, changes = run(GAS, [3.0, 26.0, 51.0, 49.0, 24.0, 22.9, 60.0])
    # 49 is within the 2 %LEL deadband of 50: still level 2; 24 is below 48 but within the
    # deadband of 25: level 1; 22.9 is out of both: normal
    assert changes == [(0, 1), (1, 2), (2, 1), (1, 0), (0, 2)]


@given(values)
def test_without_deadband_or_delay_the_level_follows_the_value(readings: list[float]) -> None:
    rule = Rule(levels=GAS.levels)
    state = State()
    for i, value in enumerate(readings):
        state, _change = step(rule, state, (i + 1) * SECOND, value)
        assert state.level == plain_level(value)


@given(values)
def test_the_deadband_only_delays_stepping_down(readings: list[float]) -> None:
    plain, banded = Rule(levels=GAS.levels), GAS
    s1, s2 = State(), State()
    for i, value in enumerate(readings):
        s1, _ = step(plain, s1, (i + 1) * SECOND, value)
        s2, _ = step(banded, s2, (i + 1) * SECOND, value)
        assert s2.level >= s1.level  # hysteresis holds a level, never invents a higher one
        assert s2.level <= plain_level(value + 2.0)


@given(st.floats(23.1, 24.9), st.integers(2, 40))
def test_chatter_inside_the_deadband_raises_once(low: float, flips: int) -> None:
    _state, changes = run(GAS, [26.0, low] * flips)
    assert changes == [(0, 1)]


@given(st.integers(1, 29))
def test_a_condition_shorter_than_the_on_delay_never_raises(seconds: int) -> None:
    rule = Rule(levels=GAS.levels, on_delay_us=30 * SECOND)
    readings = [30.0] * seconds + [0.0]
    state, changes = run(rule, readings)
    assert changes == [] and state.level == 0


def test_the_on_delay_raises_once_it_has_held() -> None:
    rule = Rule(levels=GAS.levels, on_delay_us=30 * SECOND)
    _state, changes = run(rule, [30.0] * 32)
    assert changes == [(0, 1)]


def test_a_timer_applies_a_pending_level_without_new_readings() -> None:
    rule = Rule(levels=GAS.levels, on_delay_us=30 * SECOND)
    state, change = step(rule, State(), SECOND, 30.0)
    assert change is None and state.pending == 1
    early, nothing = expire(rule, state, 20 * SECOND)
    assert nothing is None and early.level == 0
    later, change = expire(rule, state, 31 * SECOND)
    assert change is not None and (change.before, change.after, change.at_us) == (0, 1, 31 * SECOND)
    assert later.level == 1


@given(values, st.floats(0, 100, allow_nan=False))
def test_a_late_reading_raises_or_changes_nothing_and_never_moves_the_state_back(
    readings: list[float], late_value: float
) -> None:
    """A reading older than the newest evaluated one (ingest workers draining side by side)
    raises or escalates when it asks for a worse level, at its own time; it never lowers the
    level, and the newest reading stays the newest."""
    state, _ = run(GAS, readings)
    again, change = step(GAS, state, SECOND // 2, late_value)
    assert (again.last_us, again.last_value) == (state.last_us, state.last_value)
    wanted = GAS.raw_level(late_value, state.level)
    if wanted > state.level:
        assert change is not None
        assert (change.before, change.after, change.at_us) == (state.level, wanted, SECOND // 2)
        assert again.level == wanted
    else:
        assert change is None and again == state


def test_a_late_gas_reading_raises_at_its_own_time_then_steps_down_from_the_newest_by_hand() -> (
    None
):
    """3 and 4 %LEL at 1 s and 2 s, then 30 %LEL taken at 1.5 s arrives: it raises level 1
    (25 %LEL, major) at 1.5 s. The newest reading (4 %LEL at 2 s) asks for normal, so normal
    is pending from 2 s and, with no off-delay, due then (the worker's timer applies it; the
    alarm latches until acknowledged)."""
    state, _ = run(GAS, [3.0, 4.0])
    raised, change = step(GAS, state, 1_500_000, 30.0)
    assert change is not None
    assert (change.before, change.after, change.at_us, change.value) == (0, 1, 1_500_000, 30.0)
    assert (raised.level, raised.pending, raised.pending_since_us) == (1, 0, 2 * SECOND)
    assert (raised.last_us, raised.last_value) == (2 * SECOND, 4.0)
    assert due_us(GAS, raised) == 2 * SECOND
    normal, back = expire(GAS, raised, 2 * SECOND)
    assert back is not None and (back.before, back.after, back.at_us) == (1, 0, 2 * SECOND)
    assert normal.level == 0
    # 51 %LEL late on level 1: escalates to level 2 (50 %LEL, critical)
    _same, up = step(GAS, raised, 1_700_000, 51.0)
    assert up is not None and (up.before, up.after) == (1, 2)


def test_below_rules_alarm_on_low_values() -> None:
    oxygen = Rule(levels=(Level("major", 19.5),), direction="below", deadband=0.2)
    _state, changes = run(oxygen, [20.9, 19.4, 19.6, 19.8])
    assert changes == [(0, 1), (1, 0)]


# Rate of change: temperature rising 5 °C/min is major, 10 °C/min critical (a fire's signature).
RISE = Rule(levels=(Level("major", 5.0), Level("critical", 10.0)), rate=True)
MINUTE = 60 * SECOND


def test_rate_of_change_by_hand() -> None:
    # one reading a minute: +1, +6, +12, +3 °C/min; the first reading has no rate yet
    _state, changes = run(RISE, [20.0, 21.0, 27.0, 39.0, 42.0], spacing_us=MINUTE)
    assert changes == [(0, 1), (1, 2), (2, 0)]


def test_a_rate_is_per_minute_whatever_the_spacing() -> None:
    state, change = step(RISE, State(), 0, 20.0)
    assert change is None and state.level == 0
    state, change = step(RISE, state, 10 * SECOND, 21.0)  # +1 °C in 10 s = 6 °C/min
    assert change is not None and change.after == 1
    assert change.value is not None and abs(change.value - 6.0) < 1e-9


def test_a_falling_rate_rule_alarms_on_drops_only() -> None:
    drop = Rule(levels=(Level("warning", 2.0),), direction="below", rate=True)
    _state, changes = run(drop, [50.0, 60.0, 70.0, 65.0, 64.5], spacing_us=MINUTE)
    assert changes == [(0, 1), (1, 0)]  # -5/min alarms; +10/min never did; -0.5/min clears


@given(st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=2, max_size=40))
def test_a_rate_rule_matches_the_difference_quotient(readings: list[float]) -> None:
    rule = Rule(levels=(Level("major", 5.0),), rate=True)
    state = State()
    for i, value in enumerate(readings):
        state, _ = step(rule, state, (i + 1) * MINUTE, value)
        diff = value - readings[i - 1] if i else 0.0
        if i and abs(diff - 5.0) > 1e-6:  # away from the threshold's last bit of rounding
            assert state.level == (1 if diff > 5.0 else 0)


# Oxygen (GB/T 50493-2019 §5.5.2): low 19.5 %VOL, high 23.5 %VOL, one level each side;
# deadband 0.2 %VOL as seeded.
OXYGEN = Rule(levels=(Level("major", 23.5),), low=(Level("major", 19.5),), deadband=0.2, latch=True)


def test_oxygen_goes_low_clears_then_goes_high_by_hand() -> None:
    _state, changes = run(OXYGEN, [20.9, 19.4, 19.6, 19.8, 20.9, 23.6, 23.4, 23.2])
    # 19.4 <= 19.5: low (-1); 19.6 is within the 0.2 deadband (<= 19.7): still low; 19.8 is out:
    # normal; 23.6 >= 23.5: high (+1); 23.4 within the deadband (>= 23.3): still high; 23.2: normal
    assert changes == [(0, -1), (-1, 0), (0, 1), (1, 0)]


def test_a_swing_from_low_to_high_is_one_change_across_sides() -> None:
    _state, changes = run(OXYGEN, [19.0, 24.0, 18.0])
    assert changes == [(0, -1), (-1, 1), (1, -1)]


def test_a_two_sided_level_two_is_further_out_on_its_side() -> None:
    rule = Rule(
        levels=(Level("major", 23.5), Level("critical", 25.0)),
        low=(Level("major", 19.5), Level("critical", 18.0)),
    )
    _state, changes = run(rule, [20.9, 19.0, 17.9, 19.0, 26.0])
    # 19.0 low level 1; 17.9 <= 18.0 low level 2; 19.0 back to low level 1 (stepping down);
    # 26.0 >= 25.0: the high side's level 2
    assert changes == [(0, -1), (-1, -2), (-2, -1), (-1, 2)]


def test_an_on_delay_holds_a_swing_to_the_other_side() -> None:
    rule = Rule(levels=OXYGEN.levels, low=OXYGEN.low, on_delay_us=2 * SECOND)
    state, changes = run(rule, [19.0, 19.0, 19.0, 24.0])
    # low after its 2 s on-delay (third reading); the swing to high waits for its own delay
    assert changes == [(0, -1)]
    assert (state.level, state.pending) == (-1, 1)
    after, change = expire(rule, state, 6 * SECOND)
    assert change is not None and (change.before, change.after) == (-1, 1)
    assert after.level == 1


@given(st.lists(st.floats(10, 30, allow_nan=False), min_size=1, max_size=60))
def test_without_deadband_a_two_sided_level_follows_the_value(readings: list[float]) -> None:
    rule = Rule(levels=OXYGEN.levels, low=OXYGEN.low)
    state, _changes = run(rule, readings)
    last = readings[-1]
    assert state.level == (1 if last >= 23.5 else -1 if last <= 19.5 else 0)


def test_late_readings_change_nothing_on_rate_or_on_delay_rules_or_across_sides() -> None:
    """A rate needs consecutive readings, and one reading cannot show that a condition held for
    an on-delay; a late reading on the other side of a two-sided rule (the newest one is on
    this side) does not swing it."""
    delayed = Rule(levels=GAS.levels, on_delay_us=30 * SECOND)
    for rule, readings, late_value in (
        (delayed, [3.0, 4.0], 99.0),
        (RISE, [20.0, 20.1], 90.0),
        (OXYGEN, [20.9, 24.0], 18.0),
    ):
        state, _ = run(rule, readings)
        assert step(rule, state, 1_500_000, late_value) == (state, None), rule
