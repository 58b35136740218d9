"""`scraper-ops capacity report`: the guide's capacity planning, from CloudWatch and the stack's config.

Every series comes from one batched GetMetricData call (paged by NextToken), as
hourly values over the window. For each: p50, p95 and max, a least-squares trend
per day, and the days until the guide's threshold at that trend. Pod CPU and
memory are measured as a share of the pod limit by Container Insights and turned
into a share of the request, which is what the HPA's 70 % and 80 % refer to, by
the same definition the alarms and the dashboard use (`infra.signals`). Node
metrics exist because the app runs on a managed node group's EC2 nodes (the
compute model the cost estimate prices). Requests per hour are the ALB's.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from automation.metrics import Query, get_metric_data
from contract.outputs import StackOutputs
from automation.slo import alb
from automation.smoke import percentile
from infra import signals
from infra.config import StackConfig
from infra.quantities import parse_cpu, parse_memory

HOUR = 3600
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
    """Least-squares slope and intercept, or None with fewer than two distinct x."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return slope, mean_y - slope * mean_x


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

    def to_json(self) -> dict[str, Any]:
        return {
            "windowDays": self.window_days,
            "metrics": {s.key: s.to_json() for s in self.series},
            "hpa": {"hoursAtMaxReplicas": self.hours_at_max, "shareAtMaxReplicas": self.share_at_max},
            "scalingTriggers": self.triggers,
            "rightsizing": self.rightsizing,
            "getMetricDataCalls": self.api_calls,
        }


def _queries(outputs: StackOutputs) -> list[tuple[Query, str, str]]:
    cluster, namespace, deployment = outputs.clusterName, outputs.namespace, outputs.deploymentName
    pods = (("ClusterName", cluster), ("Namespace", namespace), ("PodName", deployment))
    nodes = (("ClusterName", cluster),)
    db = (("DBInstanceIdentifier", outputs.dbInstanceId),)
    insights = signals.CONTAINER_INSIGHTS
    return [
        (Query("pod_cpu", insights, signals.POD_OVER_LIMIT["cpu"], "Average", pods), "Pod CPU", "% of request"),
        (Query("pod_memory", insights, signals.POD_OVER_LIMIT["memory"], "Average", pods), "Pod memory", "% of request"),
        (Query("node_cpu", insights, "node_cpu_utilization", "Average", nodes), "Node CPU", "%"),
        (Query("node_memory", insights, "node_memory_utilization", "Average", nodes), "Node memory", "%"),
        (Query("pods", insights, "service_number_of_running_pods", "Average",
               (("ClusterName", cluster), ("Namespace", namespace), ("Service", deployment))), "Running pods", "pods"),
        (Query("queue", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
               (("QueueName", outputs.queueUrl.rsplit("/", 1)[1]),)), "Queue depth", "messages"),
        (Query("db_cpu", "AWS/RDS", "CPUUtilization", "Average", db), "Database CPU", "%"),
        (Query("db_connections", "AWS/RDS", "DatabaseConnections", "Average", db), "Database connections", "connections"),
        (Query("db_free_storage", "AWS/RDS", "FreeStorageSpace", "Minimum", db), "Database free storage", "GiB"),
        (Query("requests", signals.ALB_NAMESPACE, signals.ALB_REQUESTS, "Sum", alb(outputs)), "Requests per hour", "requests"),
    ]


def build_report(cloudwatch: Any, outputs: StackOutputs, config: StackConfig, days: int, now: datetime) -> CapacityReport:
    calls: list[int] = []
    queries = _queries(outputs)
    data = get_metric_data(cloudwatch, [q for q, _, _ in queries], now - timedelta(days=days), now, HOUR, calls)
    scale = {"pod_cpu": signals.request_relative(config.app, "cpu").factor,
             "pod_memory": signals.request_relative(config.app, "memory").factor, "db_free_storage": 1 / GIB}
    thresholds = {
        "pod_cpu": (config.autoscaling.cpu_target_percent, True),
        "pod_memory": (config.autoscaling.memory_target_percent, True),
        "queue": (config.autoscaling.queue_depth_target, True),
        "db_cpu": (config.alarms.db_cpu_percent, True),
        "db_free_storage": (config.alarms.db_free_storage_gb, False),
    }
    series = []
    for query, title, unit in queries:
        factor = scale.get(query.id, 1.0)
        threshold, rising = thresholds.get(query.id, (None, True))
        points = [(t, v * factor) for t, v in data[query.id]]
        series.append(analyse(Series(query.id, title, unit, points, threshold, rising), now))
    by_key = {s.key: s for s in series}
    pods = [v for _, v in by_key["pods"].points]
    at_max = sum(1 for v in pods if v >= config.autoscaling.max_replicas - 0.5)
    triggers = {
        name: _trigger(by_key[key].points, limit)
        for name, key, limit in (
            (f"cpu > {config.autoscaling.cpu_target_percent}%", "pod_cpu", config.autoscaling.cpu_target_percent),
            (f"memory > {config.autoscaling.memory_target_percent}%", "pod_memory", config.autoscaling.memory_target_percent),
            (f"queue depth > {config.autoscaling.queue_depth_target}", "queue", config.autoscaling.queue_depth_target),
        )
    }
    return CapacityReport(days, series, float(at_max), at_max / len(pods) if pods else 0.0, triggers,
                          rightsize(config, by_key), len(calls))


def _trigger(points: list[tuple[datetime, float]], limit: float) -> dict[str, Any]:
    above = [t for t, v in points if v > limit]
    return {"hours": len(above), "first": above[0].isoformat() if above else None,
            "last": above[-1].isoformat() if above else None}


def _cpu_text(cores: float) -> str:
    return f"{max(10, int(math.ceil(cores * 1000 / 10) * 10))}m"


def _memory_text(size: float) -> str:
    return f"{max(64, int(math.ceil(size / 2**20 / 32) * 32))}Mi"


def rightsize(config: StackConfig, series: dict[str, Series]) -> dict[str, Any]:
    """Requests from the usage percentile plus headroom, limits from the peak plus headroom (VPA-style);
    HPA bounds from the pods that actually ran."""
    app = config.app
    request_cpu, request_memory = parse_cpu(app.requests.cpu), parse_memory(app.requests.memory)
    result: dict[str, Any] = {"current": {"requests": app.requests.model_dump(), "limits": app.limits.model_dump(),
                                          "minReplicas": config.autoscaling.min_replicas,
                                          "maxReplicas": config.autoscaling.max_replicas}}
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
        recommended["minReplicas"] = min(floor, config.autoscaling.min_replicas)
        recommended["maxReplicas"] = max(config.autoscaling.max_replicas, math.ceil(peak * 1.5)) \
            if peak >= config.autoscaling.max_replicas - 0.5 else config.autoscaling.max_replicas
    result["recommended"] = recommended
    result["cpuCoresSavedPerPod"] = request_cpu - parse_cpu(recommended["requests"]["cpu"])
    result["memoryGiBSavedPerPod"] = (request_memory - parse_memory(recommended["requests"]["memory"])) / GIB
    return result


def chart(series: Series) -> bytes:
    """A PNG of the hourly series with its threshold and trend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 3.2), dpi=100)
    times = [t for t, _ in series.points]
    axes.plot(times, [v for _, v in series.points], linewidth=1, label=series.title)
    if series.threshold is not None:
        axes.axhline(series.threshold, color="tab:red", linestyle="--", linewidth=1, label=f"threshold {series.threshold:g}")
    if series.slope_per_day is not None and len(times) > 1:
        start = times[0]
        xs = [(t - start).total_seconds() / 86400 for t in times]
        fit = linear_fit(xs, [v for _, v in series.points])
        if fit:
            axes.plot([times[0], times[-1]], [fit[1], fit[1] + fit[0] * xs[-1]], color="tab:orange", linewidth=1,
                      label=f"trend {series.slope_per_day:+.2f}/day")
    axes.set_title(f"{series.title} ({series.unit})")
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()
