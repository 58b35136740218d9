"""What a job reports while it waits: jobs never print, they hand a `Waiting` to the observer the CLI gave them.

The CLI turns these into a live line on a terminal and a periodic plain line in pipes and CI
(automation/console.py, `WaitReporter`); a job run from a test or a library reports to nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Waiting:
    """One look at a long wait: what is awaited, for how long so far, and how long it may take in all."""

    what: str
    elapsed_seconds: float
    deadline_seconds: float | None  # after the start of the wait; None when nothing bounds it
    done: bool = False


Observer = Callable[[Waiting], None]


def unobserved(_: Waiting) -> None:
    """The observer of a job nobody watches."""


def duration(seconds: float) -> str:
    """`1:02:03` (h:mm:ss): the form Rich's TimeElapsedColumn uses, read at a glance on a terminal and in a log."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def describe(waiting: Waiting) -> str:
    """`snapshot X: 0:01:30 elapsed, deadline 3:00:00 (2:58:30 left)`, or `...: ended after 0:04:12`."""
    if waiting.done:
        return f"{waiting.what}: ended after {duration(waiting.elapsed_seconds)}"
    line = f"{waiting.what}: {duration(waiting.elapsed_seconds)} elapsed"
    if waiting.deadline_seconds is not None:
        left = waiting.deadline_seconds - waiting.elapsed_seconds
        line += (f", deadline {duration(waiting.deadline_seconds)} "
                 + (f"({duration(left)} left)" if left >= 0 else f"(PASSED {duration(-left)} ago)"))
    return line
