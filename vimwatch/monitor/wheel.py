"""A timing wheel for one probe interval: the VIMs of that interval, spread over slots.

A loop timer per VIM per probe would put every probe through the loop's heap twice (arm
and fire), which at 100,000 probes a second costs more than the probes themselves. Here
a VIM sits in one slot of its interval for life, and one loop timer per slot fires the
whole slot: the heap sees a hundred timers a second, however many VIMs there are.

Each slot is a fixed point of the interval's grid, so probe times never drift; a stalled
loop fires each missed slot once on waking rather than every missed tick. New VIMs go to
the earliest slot (from now) that is below the average load, so a first probe comes soon
and 100,000 VIMs added at once still spread over the whole interval.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Generic, TypeVar

from vimwatch.monitor.slip import SlipHistogram

Member = TypeVar("Member")

#: Aimed-for slot width: fine enough that a slot's probes leave in a few milliseconds,
#: coarse enough that an idle slot costs little.
SLOT_SECONDS = 0.01
_MAX_SLOTS = 1024
# Headroom over the average slot load, so that VIMs added one by one start soon instead
# of queueing for the one slot that is below average.
_SLACK = 8


class Wheel(Generic[Member]):
    """The slots of one interval; `fire(members)` is called with each slot when it is due.

    A member's slot is an int the wheel hands out in `place` and takes back in `vacate`;
    the owner keeps it. Vacated members stay in their slot's list until it next fires,
    where `is_live` drops them, so removal is O(1) and firing needs no lookups.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        fire: Callable[[list[Member]], None],
        is_live: Callable[[Member], bool],
        slip: SlipHistogram,
    ) -> None:
        self.interval = interval
        self._slots_count = max(1, min(_MAX_SLOTS, round(interval / SLOT_SECONDS)))
        self._width = interval / self._slots_count
        self._slots: list[list[Member]] = [[] for _ in range(self._slots_count)]
        self._loads = [0] * self._slots_count
        self.members = 0
        self._loop = loop
        self._fire = fire
        self._is_live = is_live
        self._slip = slip
        self._origin = loop.time()
        self._next_tick = 0  # absolute tick number; its slot is next_tick % slots_count
        self._cursor = 0
        self._timer: asyncio.TimerHandle | None = None
        self._armed_tick = -1

    def place(self, member: Member) -> int:
        """Put `member` in the earliest slot from now with room; returns the slot."""
        count = self._slots_count
        now_tick = max(self._next_tick, self._tick_at(self._loop.time()))
        cursor = max(self._cursor, now_tick)
        if cursor >= now_tick + count:
            cursor -= count * ((cursor - now_tick) // count)
        room = self.members // count + _SLACK
        loads = self._loads
        for _ in range(count):
            if loads[cursor % count] < room:
                break
            cursor += 1
        self._cursor = cursor
        slot = cursor % count
        self._slots[slot].append(member)
        loads[slot] += 1
        self.members += 1
        tick = now_tick + (cursor - now_tick) % count
        if self._timer is None or tick < self._armed_tick:
            self._arm(tick)
        return slot

    def vacate(self, slot: int) -> None:
        self._loads[slot] -= 1
        self.members -= 1
        if not self._loads[slot]:
            # An empty slot is never fired, so nothing else would drop what it still holds.
            self._slots[slot] = []
        if not self.members:
            self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_tick = -1

    def _tick_at(self, when: float) -> int:
        return math.floor((when - self._origin) / self._width + 1e-9)

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_tick = tick
        self._timer = self._loop.call_at(self._origin + tick * self._width, self._on_tick)

    def _on_tick(self) -> None:
        self._timer = None
        count = self._slots_count
        now = self._loop.time()
        due = max(self._tick_at(now), self._armed_tick)
        # After a stall longer than the interval every slot is due: each fires once.
        first = max(self._next_tick, due - count + 1)
        self._next_tick = due + 1
        for tick in range(first, due + 1):
            self._run_slot(tick % count, self._origin + tick * self._width)
        if self.members:
            self._arm(self._next_busy_tick())

    def _run_slot(self, slot: int, scheduled: float) -> None:
        members = self._slots[slot]
        if len(members) != self._loads[slot]:
            is_live = self._is_live
            members = self._slots[slot] = [m for m in members if is_live(m)]
        if members:
            self._fire(members)
            self._slip.record(self._loop.time() - scheduled, len(members))

    def _next_busy_tick(self) -> int:
        count = self._slots_count
        tick = self._next_tick
        loads = self._loads
        for _ in range(count):
            if loads[tick % count]:
                return tick
            tick += 1
        return self._next_tick
