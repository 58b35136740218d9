"""`scraper-ops capacity report`: the guide's capacity planning, from CloudWatch and the stack's outputs (`sizing`).

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
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from automation.metrics import Query, get_metric_data
from automation.reports import Chart, Report, Table, Verdict, by_urgency, severity_in, when_in_words
from automation.slo import alb
from automation.smoke import percentile
from contract.outputs import Sizing, StackOutputs
from infra import signals
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


def build_report(cloudwatch: Any, outputs: StackOutputs, sizing: Sizing, days: int, now: datetime) -> CapacityReport:
    calls: list[int] = []
    queries = _queries(outputs)
    data = get_metric_data(cloudwatch, [q for q, _, _ in queries], now - timedelta(days=days), now, HOUR, calls)
    scale = {"pod_cpu": signals.request_relative(sizing, "cpu").factor,
             "pod_memory": signals.request_relative(sizing, "memory").factor, "db_free_storage": 1 / GIB}
    thresholds = {
        "pod_cpu": (sizing.cpuTargetPercent, True),
        "pod_memory": (sizing.memoryTargetPercent, True),
        "queue": (sizing.queueDepthTarget, True),
        "db_cpu": (sizing.dbCpuPercent, True),
        "db_free_storage": (sizing.dbFreeStorageGb, False),
    }
    series = []
    for query, title, unit in queries:
        factor = scale.get(query.id, 1.0)
        threshold, rising = thresholds.get(query.id, (None, True))
        points = [(t, v * factor) for t, v in data[query.id]]
        series.append(analyse(Series(query.id, title, unit, points, threshold, rising), now))
    by_key = {s.key: s for s in series}
    pods = [v for _, v in by_key["pods"].points]
    at_max = sum(1 for v in pods if v >= sizing.maxReplicas - 0.5)
    triggers = {
        name: _trigger(by_key[key].points, limit)
        for name, key, limit in (
            (f"cpu > {sizing.cpuTargetPercent}%", "pod_cpu", sizing.cpuTargetPercent),
            (f"memory > {sizing.memoryTargetPercent}%", "pod_memory", sizing.memoryTargetPercent),
            (f"queue depth > {sizing.queueDepthTarget}", "queue", sizing.queueDepthTarget),
        )
    }
    return CapacityReport(days, series, float(at_max), at_max / len(pods) if pods else 0.0, triggers,
                          rightsize(sizing, by_key), len(calls), sizing.minReplicas,
                          sizing.maxReplicas)


def _trigger(points: list[tuple[datetime, float]], limit: float) -> dict[str, Any]:
    above = [t for t, v in points if v > limit]
    return {"hours": len(above), "first": above[0].isoformat() if above else None,
            "last": above[-1].isoformat() if above else None}


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


def _breach(series: Series) -> tuple[list[bool], str, float] | None:
    """Which hours were past the threshold, the statistic that shows it ("p95", "max" or, where falling is bad,
    "p5", "minimum") and its value; None when no hour was."""
    values = [v for _, v in series.points]
    if series.threshold is None or not values:
        return None
    if series.rising_is_bad:
        past = [v > series.threshold for v in values]
        tail = ("p95", series.p95) if series.p95 is not None and series.p95 > series.threshold else ("max", max(values))
    else:
        past = [v < series.threshold for v in values]
        low = percentile(values, 5)
        tail = ("p5", low) if low < series.threshold else ("minimum", min(values))
    return (past, *tail) if any(past) else None


def series_verdicts(series: Series, now: datetime, window_days: int) -> list[Verdict]:
    """A metric's findings: a breach in the window (however far the mean trend is from the threshold: a
    trend must not hide it), then where the trend meets the threshold."""
    if not series.points or series.threshold is None:
        return []
    found = []
    limit = amount(series.threshold, series.unit)
    side = "above" if series.rising_is_bad else "below"
    breach = _breach(series)
    if breach is not None:
        past, statistic, value = breach
        sustained = statistic in ("p95", "p5")
        found.append(Verdict("critical" if sustained else "warning",
                             f"{series.title} {statistic} already {side} {limit} ({amount(value, series.unit)}; "
                             f"{sum(past)} h in the last {window_days} days)", now.date(), series.key))
    reaches = "reaches" if series.rising_is_bad else "falls to"
    if series.days_to_threshold == 0:
        found.append(Verdict("critical", f"{series.title} trend is already {side} {limit}", now.date(), series.key))
    elif series.days_to_threshold is not None:
        words, due = when_in_words(series.days_to_threshold, now)
        found.append(Verdict(severity_in(series.days_to_threshold) if due else "ok",
                             f"{series.title} {reaches} {limit} {words}", due, series.key))
    else:
        found.append(Verdict("ok", f"{series.title} {reaches} {limit} not within a year (the trend does not head there)",
                             None, series.key))
    return found


def verdicts(report: CapacityReport, now: datetime) -> list[Verdict]:
    """The report's verdict block: every metric's findings, time at the HPA maximum, metrics without data."""
    found = [v for s in report.series for v in series_verdicts(s, now, report.window_days)]
    if report.hours_at_max:
        recommended = (report.rightsizing.get("recommended") or {}).get("maxReplicas")
        advice = f"; raise maxReplicas to {recommended}" if recommended and recommended > report.max_replicas else ""
        found.append(Verdict("warning", f"Running pods at the HPA maximum of {report.max_replicas} for "
                             f"{report.hours_at_max:.0f} h ({100 * report.share_at_max:.1f} % of the window){advice}",
                             None, "pods"))
    silent = [s.title for s in report.series if not s.points]
    if silent:
        found.append(Verdict("warning", f"No data in the window for {', '.join(silent)}: those figures are unknown"))
    return by_urgency(found)


def threshold_table(report: CapacityReport, now: datetime) -> list[tuple[Any, ...]]:
    """Rows of the metrics table: percentiles, trend and when the threshold is reached, in words."""
    rows = []
    for s in report.series:
        reached = "-" if s.threshold is None or not s.points else (
            "already" if s.days_to_threshold == 0 else when_in_words(s.days_to_threshold, now)[0])
        rows.append((s.title, s.unit, s.p50, s.p95, s.max, s.slope_per_day, s.threshold, reached))
    return rows


RIGHTSIZING_ROWS = (  # (label, where in current/recommended)
    ("CPU request", ("requests", "cpu")), ("memory request", ("requests", "memory")),
    ("CPU limit", ("limits", "cpu")), ("memory limit", ("limits", "memory")),
    ("HPA minimum replicas", ("minReplicas",)), ("HPA maximum replicas", ("maxReplicas",)),
)


def rightsizing_table(rightsizing: dict[str, Any], savings: list[dict[str, Any]]) -> Table:
    """Current against recommended requests, limits and HPA bounds, and the monthly saving of the requests
    (KRR-style rows; the saving priced as cost.savings_from_capacity does)."""
    current, recommended = rightsizing["current"], rightsizing.get("recommended") or {}

    def pick(settings: dict[str, Any], path: tuple[str, ...]) -> Any:
        for key in path:
            settings = settings.get(key) if isinstance(settings, dict) else None
        return settings

    rows: list[tuple[Any, ...]] = []
    for label, path in RIGHTSIZING_ROWS:
        now_value, new_value = pick(current, path), pick(recommended, path)
        change = "-" if new_value is None else ("keep" if str(new_value) == str(now_value) else "change")
        rows.append((label, now_value, new_value, change))
    pods = next((s for s in savings if s["resource"] == "app pods (requests)"), None)
    rows.append(("monthly saving of the requests (USD)", None, None, pods["monthlySavingUsd"] if pods else 0.0))
    caption = (rightsizing.get("note") or "Requests: p90 CPU and p95 memory of the window plus 15 %; limits: the "
               "peak plus 30 %; HPA bounds from the pods that ran. The saving prices the requests freed at the HPA "
               "minimum of pods as their share of the node group's EC2 nodes (on-demand price table).")
    return Table("Rightsizing", ("setting", "current", "recommended", "action / USD per month"), rows, caption)


def charts(report: CapacityReport, now: datetime, found: list[Verdict]) -> list[Chart]:
    """A chart per metric with data; its alt text is the metric's most urgent finding."""
    result = []
    for series in report.series:
        if not series.points:
            continue
        about = [v.text for v in found if v.subject == series.key]
        guides = ((report.min_replicas, "HPA minimum"), (report.max_replicas, "HPA maximum")) if series.key == "pods" else ()
        alt = f"{series.title} ({series.unit}) over the last {report.window_days} days: " + (
            "; ".join(about) if about else f"p50 {amount(series.p50 or 0, series.unit)}, max "
                                           f"{amount(series.max or 0, series.unit)}, no threshold") + "."
        result.append(Chart(f"{series.title} ({series.unit})", chart(series, now, report.window_days, guides), alt))
    return result


def report_of(result: CapacityReport, stack: str, now: datetime, savings: list[dict[str, Any]],
              with_charts: bool) -> Report:
    """The capacity review as a report: verdict block, metrics, rightsizing and savings, a chart per metric.
    A critical finding fails it (exit 1)."""
    from automation.cost import savings_table

    found = verdicts(result, now)
    return Report(
        "capacity", f"Capacity report, last {result.window_days} days", stack,
        not any(v.severity == "critical" for v in found), {**result.to_json(), "savings": savings}, created=now,
        verdicts=found, charts=charts(result, now, found) if with_charts else [],
        summary=[f"{result.hours_at_max:.0f} h ({100 * result.share_at_max:.1f} %) at the HPA maximum of "
                 f"{result.max_replicas} replicas",
                 *[f"trigger {name}: {t['hours']} h" + (f", last {t['last']}" if t["last"] else "")
                   for name, t in result.triggers.items()]],
        tables=[Table("Metrics", ("metric", "unit", "p50", "p95", "max", "trend per day", "threshold",
                                  "trend reaches threshold"), threshold_table(result, now),
                      "Hourly values of the window: percentiles, the least-squares trend and when it meets the "
                      "threshold; free storage falls towards its threshold, the others rise."),
                rightsizing_table(result.rightsizing, savings), savings_table(savings)],
        footer=[f"GetMetricData calls: {result.api_calls}"],
    )


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) indexes of each run of consecutive true flags."""
    runs: list[tuple[int, int]] = []
    for index, flag in enumerate(flags):
        if flag and runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        elif flag:
            runs.append((index, index))
    return runs


def chart(series: Series, now: datetime, window_days: int, guides: tuple[tuple[float, str], ...] = ()) -> bytes:
    """A PNG of the hourly series: data over its trend, the trend dashed on to where it meets the threshold (a
    marker and the date, when that is within the window's length ahead), hours past the threshold shaded, "now",
    HPA bounds as lines; the legend outside the plot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4), dpi=150)
    times = [t for t, _ in series.points]
    values = [v for _, v in series.points]
    axes.plot(times, values, linewidth=1.2, color="tab:blue", label=f"{series.title}, hourly", zorder=3)
    if series.threshold is not None:
        axes.axhline(series.threshold, color="tab:red", linewidth=1,
                     label=f"threshold {amount(series.threshold, series.unit)}", zorder=2)
        breach = _breach(series)
        if breach is not None:
            label = f"{'above' if series.rising_is_bad else 'below'} threshold ({sum(breach[0])} h)"
            for index, (first, last) in enumerate(_runs(breach[0])):
                axes.axvspan(times[first], times[last] + timedelta(hours=1), color="tab:red", alpha=0.2, linewidth=0,
                             label=None if index else label, zorder=1)
    fit = linear_fit([(t - times[0]).total_seconds() / 86400 for t in times], values) if len(times) > 1 else None
    if fit is not None:
        slope, intercept = fit
        days = series.days_to_threshold
        crossing = series.threshold is not None and days is not None and 0 < days <= window_days
        end = now + timedelta(days=days) if crossing else now
        reach = (end - times[0]).total_seconds() / 86400
        axes.plot([times[0], end], [intercept, intercept + slope * reach], color="tab:orange", linestyle="--",
                  linewidth=1.2, label=f"trend {slope:+,.3g} {series.unit}/day", zorder=2)
        if crossing:
            axes.plot([end], [series.threshold], marker="o", markersize=7, color="tab:red", zorder=4,
                      label=f"trend meets threshold {end:%Y-%m-%d}")
            axes.annotate(f"{end:%Y-%m-%d}", (end, series.threshold), textcoords="offset points", xytext=(-8, 8),
                          ha="right", fontsize=9, color="tab:red")
    axes.axvline(now, color="0.3", linestyle=":", linewidth=1, label=f"now ({now:%Y-%m-%d %H:%M} UTC)")
    for (value, label), colour in zip(guides, ("tab:green", "tab:purple")):
        axes.axhline(value, color=colour, linestyle="-.", linewidth=1.2, label=f"{label} {value:g}")
    axes.set_ylabel(series.unit)
    axes.set_title(f"{series.title} ({series.unit}), last {window_days} days")
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    pyplot.close(figure)
    return buffer.getvalue()
