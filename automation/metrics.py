"""`scraper-ops metrics collect`: the guide's operational-metrics.sh, from CloudWatch in batched calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from contract import metrics as names
from contract.outputs import StackOutputs
from infra import signals

MAX_QUERIES_PER_CALL = 500


@dataclass(frozen=True)
class Query:
    id: str
    namespace: str
    metric: str
    stat: str
    dimensions: tuple[tuple[str, str], ...]


def get_metric_data(cloudwatch: Any, queries: Iterable[Query], start: datetime, end: datetime, period: int,
                    counter: list[int] | None = None) -> dict[str, list[tuple[datetime, float]]]:
    """Every query's datapoints, oldest first: at most 500 queries per call, every page of each."""
    queries = list(queries)
    series: dict[str, list[tuple[datetime, float]]] = {q.id: [] for q in queries}
    for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
        batch = queries[offset: offset + MAX_QUERIES_PER_CALL]
        request: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": q.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": q.namespace,
                            "MetricName": q.metric,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions],
                        },
                        "Period": period,
                        "Stat": q.stat,
                    },
                    "ReturnData": True,
                }
                for q in batch
            ],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        for page in cloudwatch.get_paginator("get_metric_data").paginate(**request):
            if counter is not None:
                counter.append(1)
            for result in page.get("MetricDataResults", []):
                series[result["Id"]].extend(zip(result.get("Timestamps", []), result.get("Values", [])))
    for values in series.values():
        values.sort(key=lambda point: point[0])
    return series


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return 100.0 * numerator / denominator


def _total(points: list[tuple[datetime, float]]) -> float | None:
    return sum(v for _, v in points) if points else None


def _single(points: list[tuple[datetime, float]]) -> float | None:
    return points[-1][1] if points else None


@dataclass
class Objective:
    name: str
    value: float | None
    target: float
    higher_is_better: bool
    required: bool  # with no data, a required objective counts as missed

    @property
    def met(self) -> bool:
        if self.value is None:
            return not self.required
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


def collect(cloudwatch: Any, outputs: StackOutputs, hours: int, now: datetime,
            backup_age_hours: float | None, counter: list[int] | None = None) -> tuple[dict[str, Any], list[Objective]]:
    """The guide's metrics over the last `hours` in one GetMetricData call, the SLO's 30 days in another, and the
    incidents of the period from the SLO page alerts' history. Request, error and latency figures are the ALB's."""
    from automation import slo

    app = (("Stack", outputs.stack),)
    queue = (("QueueName", outputs.queueUrl.rsplit("/", 1)[1]),)
    dead_letter = (("QueueName", outputs.deadLetterQueueUrl.rsplit("/", 1)[1]),)
    ns = outputs.metricsNamespace
    latency = [Query(stat, signals.ALB_NAMESPACE, signals.ALB_RESPONSE_TIME, stat, slo.alb(outputs)) for stat in ("p50", "p95", "p99")]
    queries = [
        *slo.traffic_queries(outputs, ""),
        *latency,
        Query("attempts", ns, names.SCRAPE_ATTEMPTS, "Sum", app),
        Query("successes", ns, names.SCRAPE_SUCCESSES, "Sum", app),
        Query("jobs_ok", ns, names.JOBS_COMPLETED, "Sum", app),
        Query("jobs_failed", ns, names.JOBS_FAILED, "Sum", app),
        Query("smoke", ns, names.SMOKE_SUCCESS, "Average", app),
        Query("queue", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", queue),
        Query("dead_letter", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", dead_letter),
    ]
    window = hours * 3600
    start = now - timedelta(hours=hours)
    series = get_metric_data(cloudwatch, queries, start, now, window, counter)
    month = get_metric_data(cloudwatch, slo.traffic_queries(outputs, ""), now - slo.SLO_WINDOW, now,
                            int(slo.SLO_WINDOW.total_seconds()), counter)
    bad, requests_total = slo.bad_and_total(series, "")
    has_traffic = bool(series["requests"])
    jobs_ok, jobs_failed = _total(series["jobs_ok"]), _total(series["jobs_failed"])
    smoke = _single(series["smoke"])
    objectives = outputs.objectives
    budget = slo.budget_report(month, series, objectives.availabilityPercent, hours)
    report = {
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_hours": hours,
        "uptime": None if smoke is None else 100.0 * smoke,
        "response_time_p95": _single(series["p95"]),
        "error_rate": _ratio(bad, requests_total) if has_traffic else None,
        "scraper_success_rate": _ratio(_total(series["successes"]) or 0.0, _total(series["attempts"])),
        "request_rate_per_second": requests_total / window if has_traffic else None,
        "response_time_p50": _single(series["p50"]),
        "response_time_p99": _single(series["p99"]),
        "job_completion_rate": _ratio(jobs_ok or 0.0, (jobs_ok or 0.0) + (jobs_failed or 0.0)),
        "queue_depth": _single(series["queue"]),
        "dead_letter_depth": _single(series["dead_letter"]),
        "backup_age_hours": backup_age_hours,
        "slo": budget,
        "incidents": slo.incidents_section(cloudwatch, outputs, start, now),
    }
    verdicts = [
        Objective("uptime", report["uptime"], objectives.availabilityPercent, True, required=True),
        Objective("response_time_p95", report["response_time_p95"], objectives.latencyP95Seconds, False, False),
        Objective("error_rate", report["error_rate"], objectives.errorRatePercent, False, False),
        Objective("scraper_success_rate", report["scraper_success_rate"], objectives.scraperSuccessPercent, True, False),
        Objective("backup_age_hours", backup_age_hours, objectives.backupMaxAgeHours, False, required=True),
        Objective("error_budget_remaining_percent", budget["errorBudgetRemainingPercent"], 0.0, True, False),
    ]
    report["objectives"] = {
        o.name: {"target": o.target, "value": o.value, "met": o.met} for o in verdicts
    }
    return report, verdicts


def publish_backup_age(cloudwatch: Any, outputs: StackOutputs, age_hours: float) -> None:
    """The backup-stale alarm's heartbeat; with no snapshot nothing is published and the alarm fires."""
    cloudwatch.put_metric_data(
        Namespace=outputs.metricsNamespace,
        MetricData=[{
            "MetricName": names.BACKUP_AGE,
            "Dimensions": [{"Name": "Stack", "Value": outputs.stack}],
            "Value": age_hours,
            "Unit": "None",
        }],
    )
