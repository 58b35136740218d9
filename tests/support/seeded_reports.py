"""The reports of tests/automation/test_reports.py, rendered from seeded data at a fixed time: a capacity review with
known findings (from the prod plan's sizing), the issue's cost month, a maintenance record."""

from __future__ import annotations

import copy
import functools
from datetime import datetime, timedelta, timezone

from automation import capacity as capacity_job
from automation import cost as cost_job
from automation.maintenance import Record, StepRecord
from automation.reports import Report, counts_in_words
from contract.outputs import Sizing
from tests.support.programs import prod_config, run_program

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAYS = 30


def hourly(values_at) -> list[tuple[datetime, float]]:
    """Hourly points over the 30 days to NOW; values_at(hours since the first point)."""
    first = NOW - timedelta(days=DAYS) + timedelta(hours=1)
    return [(first + timedelta(hours=h), values_at(h)) for h in range(DAYS * 24)]


def seeded_capacity() -> capacity_job.CapacityReport:
    """Pod CPU rises 1 point a day to 50 % of the request (the 70 % target in 20 days: a warning). The queue's mean
    stays near 330, far from 1000, but one hour in ten holds 1500 messages: its p95 is over the threshold now
    (critical, whatever the trend). Free storage falls 2 GiB a day to 16 GiB (the 10 GiB alarm in 3 days: critical).
    Pods ran at the HPA maximum for the last day. Node metrics sent nothing."""
    sizing = Sizing.model_validate(run_program("prod", prod_config()).outputs["sizing"])  # as prod exports it
    hours = DAYS * 24
    points = {
        "pod_cpu": hourly(lambda h: 20 + 30 * (h + 1) / hours),
        "pod_memory": hourly(lambda h: 60.0),
        "node_cpu": [], "node_memory": [],
        "pods": hourly(lambda h: float(sizing.maxReplicas) if h >= hours - 24 else 3.0),
        "queue": hourly(lambda h: 1500.0 if h % 10 == 5 else 200.0),
        "db_cpu": hourly(lambda h: 12.0),
        "db_connections": hourly(lambda h: 40.0),
        "db_free_storage": hourly(lambda h: 76 - 60 * (h + 1) / hours),
        "requests": hourly(lambda h: 3600.0),
    }
    thresholds = {"pod_cpu": (70.0, True), "pod_memory": (80.0, True), "queue": (1000.0, True),
                  "db_cpu": (80.0, True), "db_free_storage": (10.0, False)}
    units = {"pod_cpu": "% of request", "pod_memory": "% of request", "pods": "pods", "queue": "messages",
             "db_connections": "connections", "db_free_storage": "GiB", "requests": "requests"}
    titles = {"pod_cpu": "Pod CPU", "pod_memory": "Pod memory", "node_cpu": "Node CPU", "node_memory": "Node memory",
              "pods": "Running pods", "queue": "Queue depth", "db_cpu": "Database CPU",
              "db_connections": "Database connections", "db_free_storage": "Database free storage",
              "requests": "Requests per hour"}
    series = [capacity_job.analyse(capacity_job.Series(key, titles[key], units.get(key, "%"), values,
                                                       *thresholds.get(key, (None, True))), NOW)
              for key, values in points.items()]
    by_key = {s.key: s for s in series}
    return capacity_job.CapacityReport(DAYS, series, 24.0, 24 / hours, {}, capacity_job.rightsize(sizing, by_key), 1,
                                       sizing.minReplicas, sizing.maxReplicas)


def savings_of(result: capacity_job.CapacityReport) -> list[dict]:
    """What the rightsizing saves on the prod stack's m6i.large nodes, and an idle db.r6g.xlarge one size down."""
    return cost_job.savings_from_capacity(result.rightsizing, result.min_replicas, "us-east-1", 12.0, "db.r6g.xlarge", 2,
                                          "m6i.large")


def capacity_report(with_charts: bool = True) -> Report:
    return copy.deepcopy(_rendered("capacity", with_charts))


@functools.lru_cache(maxsize=None)
def _rendered(kind: str, with_charts: bool) -> Report:
    """Each report rendered once per test process (its charts take a second): the reports are built from fixed
    data at a fixed time, and every test gets a copy of its own."""
    if kind == "capacity":
        result = seeded_capacity()
        return capacity_job.report_of(result, "prod", NOW, savings_of(result), with_charts)
    return cost_job.review_report(seeded_cost(), "prod", NOW, with_charts)


def seeded_cost() -> cost_job.CostReview:
    """The issue's month: 2,898.75 USD to yesterday and 207.05 forecast for the rest, 104 % of a 3,000 budget."""
    months = ["2026-08", "2026-09", "2026-10", "2026-11"]
    by_service = {m: {"Amazon Relational Database Service": 1500.0 + 50 * i, "Amazon S3": 60.0,
                      "Amazon Elastic Kubernetes Service": 700.0} for i, m in enumerate(months[:3])}
    by_service["2026-11"] = {"Amazon Relational Database Service": 1700.5, "Amazon S3": 198.0,
                             "Amazon Elastic Kubernetes Service": 1000.25}
    totals = {m: round(sum(v.values()), 2) for m, v in by_service.items()}
    by_tag = {"Environment": {m: {"prod": totals[m], "staging": 400.0, "(untagged)": 55.5} for m in months}}
    movers = [{"service": "Amazon Relational Database Service", "from": 1550.0, "to": 1600.0, "change": 50.0,
               "percent": 3.2}]
    return cost_job.CostReview(months, "2026-11", by_service, by_tag, totals, movers, 3000.0, 2898.75, 207.05,
                               "month to date plus Cost Explorer's forecast from today to the month's end",
                               {m: 0.42 for m in months}, savings_of(seeded_capacity()),
                               ["GetCostAndUsage calls: 3", "GetCostForecast calls: 1", "GetMetricData calls: 1"])


def cost_report(with_charts: bool = True) -> Report:
    return copy.deepcopy(_rendered("cost", with_charts))


def maintenance_report() -> Report:
    start = NOW.replace(hour=2)
    steps = [StepRecord("lock", start.isoformat(), (start + timedelta(seconds=2)).isoformat(), "ok", "taken"),
             StepRecord("backup", (start + timedelta(seconds=2)).isoformat(),
                        (start + timedelta(minutes=14, seconds=7)).isoformat(), "ok", "snapshot s-1 and its DR copy"),
             StepRecord("update", (start + timedelta(minutes=15)).isoformat(),
                        (start + timedelta(hours=1, minutes=17)).isoformat(), "ok",
                        f"update 7 succeeded: {counts_in_words({'same': 84, 'update': 2, 'replace': 1})}")]
    record = Record("m-1", "prod", "offline", "monthly window", "alice@laptop", steps=steps, outcome="succeeded",
                    previous_image="app:1", new_image="app:2", snapshot_id="s-1")
    return record.report(NOW)


REPORTS = {"capacity": capacity_report, "cost": cost_report, "maintenance": maintenance_report}
