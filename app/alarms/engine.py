"""The alarm state machine for one (device, metric, rule): pure, no I/O.

A rule has up to two levels (level 1 below level 2), each with a severity and a threshold, a
direction (``above``: the value rising past a threshold alarms; ``below``: falling past it), a
deadband for hysteresis (to step down from a level the value must be back past its threshold by
the deadband), and on/off delays (a change of level takes effect only once it has held that
long). A ``state`` rule is a threshold rule at 0.5 on a 0/1 value. A rate-of-change rule
(``rate``) judges the change per minute between consecutive readings instead of the reading:
``above`` alarms when it rises at least that fast, ``below`` when it falls at least that fast
(thresholds are positive speeds either way).

A two-sided rule (``low``: the low limits, ``levels`` then the high ones, ``direction``
``above``; an oxygen detector's 19.5 and 23.5 %VOL) uses signed levels: 1, 2 on the high side,
-1, -2 on the low side. Each side is its own alarm (ISA-18.2: one alarm per setpoint), so a
swing from one side to the other returns the first to normal and raises the second.

``step()`` feeds one reading (in time order; a late one goes to ``late()``) and returns the new
state with the changes that took effect; ``expire()`` applies a delay that has run out without a
new reading (the worker's timer job calls it). Effective level changes become alarm transitions
in the service layer: 0 -> n raises, n -> m > n escalates, n -> 0 returns to normal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Direction = Literal["above", "below"]


@dataclass(frozen=True)
class Level:
    severity: str
    threshold: float


@dataclass(frozen=True)
class Rule:
    levels: tuple[Level, ...]  # ordered from level 1 up
    direction: Direction = "above"
    deadband: float = 0.0
    on_delay_us: int = 0
    off_delay_us: int = 0
    latch: bool = False
    rate: bool = False
    low: tuple[Level, ...] = ()  # a two-sided rule's low limits, level 1 first

    def level_spec(self, level: int) -> Level:
        """The limit of a (signed) level."""
        return self.levels[level - 1] if level > 0 else self.low[-level - 1]

    def past(self, value: float, threshold: float, margin: float = 0.0) -> bool:
        """Is ``value`` on the alarming side of ``threshold`` (moved back by ``margin``)?"""
        if self.direction == "above" or self.rate:
            return value >= threshold - margin
        return value <= threshold + margin

    def raw_level(self, value: float, current: int) -> int:
        """The level ``value`` asks for, with hysteresis around the current level."""
        level = 0
        for index, spec in enumerate(self.levels, start=1):
            margin = self.deadband if index <= current else 0.0
            if self.past(value, spec.threshold, margin):
                level = index
        if level or not self.low:
            return level
        for index, spec in enumerate(self.low, start=1):
            margin = self.deadband if index <= -current else 0.0
            if value <= spec.threshold + margin:
                level = -index
        return level


@dataclass(frozen=True)
class State:
    level: int = 0  # the effective level
    pending: int = 0  # a level asked for but still inside its delay
    pending_since_us: int | None = None
    last_us: int | None = None  # the newest reading evaluated
    last_value: float | None = None


@dataclass(frozen=True)
class Change:
    before: int
    after: int
    at_us: int
    value: float | None


def worse(before: int, after: int) -> bool:
    """Is ``after`` a more alarming level than ``before`` (further out, or the other side)?"""
    return abs(after) > abs(before) or (after != 0 and (after > 0) != (before > 0))


def _delay(rule: Rule, before: int, after: int) -> int:
    return rule.on_delay_us if worse(before, after) else rule.off_delay_us


US_PER_MINUTE = 60_000_000


def measure(rule: Rule, state: State, at_us: int, value: float) -> float | None:
    """What the rule judges: the reading itself, or for a rate rule its change per minute since
    the previous reading (negated for ``below``, so falling faster is larger); None for a rate
    rule's first reading."""
    if not rule.rate:
        return value
    if state.last_us is None or state.last_value is None:
        return None
    per_minute = (value - state.last_value) * US_PER_MINUTE / (at_us - state.last_us)
    return per_minute if rule.direction == "above" else -per_minute


def step(rule: Rule, state: State, at_us: int, value: float) -> tuple[State, Change | None]:
    """Feed one reading. A reading no newer than the newest evaluated one goes to
    :func:`late`."""
    if state.last_us is not None and at_us <= state.last_us:
        return late(rule, state, at_us, value)
    seen = replace(state, last_us=at_us, last_value=value)
    judged = measure(rule, state, at_us, value)
    if judged is None:
        return seen, None
    wanted = rule.raw_level(judged, state.level)
    if wanted == state.level:
        return replace(seen, pending=state.level, pending_since_us=None), None
    since = state.pending_since_us if state.pending == wanted and state.pending_since_us else at_us
    if at_us - since >= _delay(rule, state.level, wanted):
        change = Change(state.level, wanted, at_us, judged)
        return replace(seen, level=wanted, pending=wanted, pending_since_us=None), change
    return replace(seen, pending=wanted, pending_since_us=since), None


def late(rule: Rule, state: State, at_us: int, value: float) -> tuple[State, Change | None]:
    """A reading older than the newest evaluated one. Ingest workers sharing a subscription can
    evaluate one device's readings out of order (two draining a backlog side by side: a gas
    detector's 30 %LEL evaluated after its next ordinary reading, bench/park100k), so a reading
    over a threshold must not be lost for coming late: on a threshold rule without an on-delay,
    one that asks for a level further out on the same side (or any level from normal) raises or
    escalates at its own time. It never moves the state back: the newest reading stays the
    newest, and what that one asks for becomes pending from its time, so the level steps back
    down after the off-delay as it would have (a latched alarm stays until acknowledged). A rate
    rule (a rate needs consecutive readings), a rule with an on-delay (one reading cannot show
    that a condition held) and a reading asking for nothing worse change nothing."""
    if rule.rate or rule.on_delay_us or state.last_us is None or state.last_value is None:
        return state, None
    wanted = rule.raw_level(value, state.level)
    same_side = state.level == 0 or (wanted > 0) == (state.level > 0)
    if not (abs(wanted) > abs(state.level) and same_side):
        return state, None
    newest = rule.raw_level(state.last_value, wanted)
    if newest == wanted:
        raised = replace(state, level=wanted, pending=wanted, pending_since_us=None)
    else:
        held = state.pending == newest and state.pending_since_us is not None
        since = state.pending_since_us if held else state.last_us
        raised = replace(state, level=wanted, pending=newest, pending_since_us=since)
    return raised, Change(state.level, wanted, at_us, value)


def due_us(rule: Rule, state: State) -> int | None:
    """When a pending level takes effect without another reading, or None."""
    if state.pending_since_us is None or state.pending == state.level:
        return None
    return state.pending_since_us + _delay(rule, state.level, state.pending)


def expire(rule: Rule, state: State, now_us: int) -> tuple[State, Change | None]:
    """Apply a pending level whose delay has run out by ``now_us``."""
    due = due_us(rule, state)
    if due is None or now_us < due:
        return state, None
    # A rate rule's last_value is a reading, not a rate: its delayed change carries no value.
    change = Change(state.level, state.pending, due, None if rule.rate else state.last_value)
    return replace(state, level=state.pending, pending_since_us=None), change
