"""The capacity model: series and their percentiles, trends and days to threshold, and rightsizing."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from automation.smoke import percentile
from contract.outputs import Sizing
from infra.quantities import parse_cpu, parse_memory

CPU_HEADROOM = 1.15  # the VPA recommender's safety margin over its target percentile
MEMORY_HEADROOM = 1.15
LIMIT_HEADROOM = 1.3
GIB = 1024**3


@dataclass
class Series:
    key: str
    title: str
    unit: str
    points: list[tuple[datetime, float]]
    threshold: float | None = None
    rising_is_bad: bool = True
    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    slope_per_day: float | None = None
    days_to_threshold: float | None = None
    daily: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("points")
        return document


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
    """Least-squares slope and intercept, or None with fewer than two distinct x (which `linear_regression` refuses)."""
    if len(set(xs)) < 2:
        return None
    fit = statistics.linear_regression(xs, ys)
    return fit.slope, fit.intercept


def analyse(series: Series, now: datetime) -> Series:
    values = [v for _, v in series.points]
    if not values:
        return series
    series.p50, series.p95, series.max = percentile(values, 50), percentile(values, 95), max(values)
    by_day: dict[str, list[float]] = {}
    for when, value in series.points:
        by_day.setdefault(when.strftime("%Y-%m-%d"), []).append(value)
    series.daily = [(day, sum(v) / len(v)) for day, v in sorted(by_day.items())]
    start = series.points[0][0]
    fit = linear_fit([(t - start).total_seconds() / 86400 for t, _ in series.points], values)
    if fit is None:
        return series
    slope, intercept = fit
    series.slope_per_day = slope
    if series.threshold is not None:
        current = intercept + slope * (now - start).total_seconds() / 86400
        gap = series.threshold - current if series.rising_is_bad else current - series.threshold
        heading = slope if series.rising_is_bad else -slope
        if gap <= 0:
            series.days_to_threshold = 0.0
        elif heading > 0:
            series.days_to_threshold = gap / heading
    return series


@dataclass
class CapacityReport:
    window_days: int
    series: list[Series]
    hours_at_max: float
    share_at_max: float
    triggers: dict[str, dict[str, Any]]
    rightsizing: dict[str, Any]
    api_calls: int
    min_replicas: int = 0
    max_replicas: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "windowDays": self.window_days,
            "metrics": {s.key: s.to_json() for s in self.series},
            "hpa": {"hoursAtMaxReplicas": self.hours_at_max, "shareAtMaxReplicas": self.share_at_max},
            "scalingTriggers": self.triggers,
            "rightsizing": self.rightsizing,
            "getMetricDataCalls": self.api_calls,
        }


def _cpu_text(cores: float) -> str:
    return f"{max(10, int(math.ceil(cores * 1000 / 10) * 10))}m"


def _memory_text(size: float) -> str:
    return f"{max(64, int(math.ceil(size / 2**20 / 32) * 32))}Mi"


def rightsize(sizing: Sizing, series: dict[str, Series]) -> dict[str, Any]:
    """Requests from the usage percentile plus headroom, limits from the peak plus headroom (VPA-style);
    HPA bounds from the pods that actually ran."""
    request_cpu, request_memory = parse_cpu(sizing.requests.cpu), parse_memory(sizing.requests.memory)
    result: dict[str, Any] = {"current": {"requests": sizing.requests.model_dump(), "limits": sizing.limits.model_dump(),
                                          "minReplicas": sizing.minReplicas, "maxReplicas": sizing.maxReplicas}}
    cpu, memory, pods = series["pod_cpu"], series["pod_memory"], series["pods"]
    if cpu.p95 is None or memory.p95 is None:
        result["recommended"] = None
        result["note"] = "no pod CPU or memory data in the window"
        return result
    cpu_p90 = percentile([v for _, v in cpu.points], 90) / 100 * request_cpu
    memory_p95 = memory.p95 / 100 * request_memory
    recommended = {
        "requests": {"cpu": _cpu_text(cpu_p90 * CPU_HEADROOM), "memory": _memory_text(memory_p95 * MEMORY_HEADROOM)},
        "limits": {"cpu": _cpu_text(cpu.max / 100 * request_cpu * LIMIT_HEADROOM),
                   "memory": _memory_text(memory.max / 100 * request_memory * LIMIT_HEADROOM)},
    }
    running = [v for _, v in pods.points]
    if running:
        floor = max(2, math.floor(percentile(running, 5)))
        peak = max(running)
        recommended["minReplicas"] = min(floor, sizing.minReplicas)
        recommended["maxReplicas"] = max(sizing.maxReplicas, math.ceil(peak * 1.5)) \
            if peak >= sizing.maxReplicas - 0.5 else sizing.maxReplicas
    result["recommended"] = recommended
    result["cpuCoresSavedPerPod"] = request_cpu - parse_cpu(recommended["requests"]["cpu"])
    result["memoryGiBSavedPerPod"] = (request_memory - parse_memory(recommended["requests"]["memory"])) / GIB
    return result


def amount(value: float, unit: str) -> str:
    """A figure with its unit, as a sentence says it: "70 % of request", "10 GiB", "1,000 messages"."""
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:,.3g} {unit}"
