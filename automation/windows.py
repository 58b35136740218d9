"""Maintenance windows: the stack's window schedule (a cron of the start, a duration, a cutoff) as times.

Apart from the maintenance run (automation/maintenance/), which needs AWS and the stack runner: `maintenance
next` computes windows without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from croniter import croniter

if TYPE_CHECKING:
    from contract.outputs import Maintenance

# The longest each step of a maintenance run may take: a run starts no step that could not end before the cutoff.
STEP_BUDGET_MINUTES = {"backup": 30, "preview": 10, "update": 45}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    cutoff: datetime  # no step starts that cannot end before this


def window_at(maintenance: Maintenance, start: datetime) -> Window:
    """The window that starts at `start` (a time the schedule gives, or now for emergency maintenance)."""
    end = start + timedelta(minutes=maintenance.durationMinutes)
    return Window(start, end, end - timedelta(minutes=maintenance.cutoffMinutes))


def next_windows(maintenance: Maintenance, after: datetime, count: int) -> list[Window]:
    schedule = croniter(maintenance.windowStart, after)
    return [window_at(maintenance, schedule.get_next(datetime)) for _ in range(count)]


def current_window(maintenance: Maintenance, now: datetime) -> Window | None:
    start = croniter(maintenance.windowStart, now + timedelta(seconds=1)).get_prev(datetime)
    window = window_at(maintenance, start)
    return window if window.start <= now < window.end else None
