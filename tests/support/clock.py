"""Simulated time for the smoke checks and the fake app: no test waits on the wall clock."""

from __future__ import annotations

import threading


class SimulatedClock:
    """Time that passes only when something sleeps on it or a fake server is slow: no test waits on the wall clock.

    The delays the fakes use are binary fractions (0.5 s), so simulated differences are exact."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
