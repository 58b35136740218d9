"""The availability SLO as the ops reports see it: error budget left, burn rate, incidents and MTTR.

The SLI is good / all requests at the Application Load Balancer over 30 days (`infra.signals`): 5xx from the
targets and from the load balancer (no healthy target, timeouts) are bad. Incidents come from the state history
of the SLO's page alerts (the composite alarms in the stack output `sloAlarms` whose severity is page):
every span from entering ALARM to returning to OK is an incident; spans of the two page alerts that overlap are
one incident (one outage trips both windows). MTTR is the mean length of the incidents that ended in the period.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from automation.aws import error_code
from automation.metrics import Query
from contract.outputs import StackOutputs
from infra import signals

SLO_WINDOW = timedelta(days=signals.SLO_WINDOW_DAYS)
# DescribeAlarmHistory returns metric alarms only unless AlarmTypes names CompositeAlarm (CloudWatch API Reference,
# DescribeAlarmHistory, AlarmTypes); the SLO alerts are composite alarms.
ALARM_TYPES = ["CompositeAlarm", "MetricAlarm"]


def alb(outputs: StackOutputs) -> tuple[tuple[str, str], ...]:
    """The ALB's dimension; stacks deployed before the ALB existed have none, and their queries find nothing."""
    return ((signals.ALB_DIMENSION, outputs.loadBalancer or ""),)


def traffic_queries(outputs: StackOutputs, prefix: str) -> list[Query]:
    """Requests and bad requests at the stack's ALB (Sum)."""
    return [
        Query(f"{prefix}{query_id}", signals.ALB_NAMESPACE, metric, "Sum", alb(outputs))
        for query_id, metric in signals.ERROR_RATIO_METRICS.items()
    ]


def bad_and_total(series: dict[str, list[tuple[datetime, float]]], prefix: str) -> tuple[float, float]:
    def total(query_id: str) -> float:
        return sum(v for _, v in series.get(f"{prefix}{query_id}", []))

    return total("target_5xx") + total("elb_5xx"), total("requests")


def budget_report(series_30d: dict[str, list[tuple[datetime, float]]], series: dict[str, list[tuple[datetime, float]]],
                  availability: float, window_hours: int) -> dict[str, Any]:
    """The JSON section `slo` (README, "SLOs and error budget"): the 30-day SLI and budget left, and the burn
    rate over the report's window."""
    bad_30d, total_30d = bad_and_total(series_30d, "")
    bad, total = bad_and_total(series, "")
    remaining = signals.budget_remaining(bad_30d, total_30d, availability)
    burn = signals.burn_rate(bad, total, availability)
    return {
        "objectivePercent": availability,
        "windowDays": signals.SLO_WINDOW_DAYS,
        "requests": total_30d,
        "badRequests": bad_30d,
        "availabilityPercent": None if not total_30d else 100.0 * (1 - bad_30d / total_30d),
        "errorBudgetRemainingPercent": None if remaining is None else 100.0 * remaining,
        "burnRate": burn,
        "burnRateWindowHours": window_hours,
    }


@dataclass
class Incident:
    start: datetime
    end: datetime | None  # None: still in ALARM at the end of the period
    alarms: list[str] = field(default_factory=list)
    started_before_period: bool = False

    def minutes(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds() / 60

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": None if self.end is None else self.end.isoformat(),
            "minutes": self.minutes(), "alarms": self.alarms, "startedBeforePeriod": self.started_before_period,
        }


def page_alarms(outputs: StackOutputs) -> list[str]:
    """The SLO's page alerts among the stack's composite alarms (their names carry the window's key)."""
    keys = [signals.slo_alarm_key(outputs.objectives.availabilityPercent, w)
            for w in signals.BURN_WINDOWS if w.severity == "page"]
    return [outputs.sloAlarms[key] for key in keys if key in outputs.sloAlarms]


def _state_changes(cloudwatch: Any, name: str, start: datetime, end: datetime) -> list[tuple[datetime, str, str]]:
    """(when, old state, new state) of one alarm in [start, end), oldest first."""
    changes = []
    paginator = cloudwatch.get_paginator("describe_alarm_history")
    for page in paginator.paginate(AlarmName=name, AlarmTypes=ALARM_TYPES, HistoryItemType="StateUpdate",
                                   StartDate=start, EndDate=end, ScanBy="TimestampAscending"):
        for item in page.get("AlarmHistoryItems", []):
            data = json.loads(item.get("HistoryData") or "{}")
            old = (data.get("oldState") or {}).get("stateValue")
            new = (data.get("newState") or {}).get("stateValue")
            if old and new:
                changes.append((item["Timestamp"], old, new))
    return sorted(changes)


def alarm_spans(changes: list[tuple[datetime, str, str]], start: datetime) -> list[Incident]:
    spans: list[Incident] = []
    for when, old, new in changes:
        if new == "ALARM" and (not spans or spans[-1].end is not None):
            spans.append(Incident(when, None))
        elif old == "ALARM" and new != "ALARM":
            if spans and spans[-1].end is None:
                spans[-1].end = when
            elif not spans:  # in ALARM since before the period began
                spans.append(Incident(start, when, started_before_period=True))
    return spans


def incidents(cloudwatch: Any, alarm_names: list[str], start: datetime, end: datetime) -> list[Incident]:
    """Incidents of the period: the alarms' ALARM spans, overlapping spans of different alarms merged."""
    spans = []
    for name in alarm_names:
        for span in alarm_spans(_state_changes(cloudwatch, name, start, end), start):
            span.alarms = [name]
            spans.append(span)
    merged: list[Incident] = []
    for span in sorted(spans, key=lambda s: s.start):
        last = merged[-1] if merged else None
        if last is not None and (last.end is None or span.start <= last.end):
            last.end = None if last.end is None or span.end is None else max(last.end, span.end)
            last.alarms = sorted(set(last.alarms) | set(span.alarms))
            last.started_before_period |= span.started_before_period
        else:
            merged.append(span)
    return merged


def incident_report(found: list[Incident], start: datetime, end: datetime) -> dict[str, Any]:
    """The JSON section `incidents` (README, "SLOs and error budget")."""
    ended = [i.minutes() for i in found if i.end is not None]
    return {
        "periodStart": start.isoformat(),
        "periodEnd": end.isoformat(),
        "count": len(found),
        "open": sum(1 for i in found if i.end is None),
        "mttrMinutes": sum(ended) / len(ended) if ended else None,
        "downtimeMinutes": sum(ended),
        "incidents": [i.to_json() for i in found],
    }


def incidents_section(cloudwatch: Any, outputs: StackOutputs, start: datetime, end: datetime) -> dict[str, Any]:
    """`incident_report` of the SLO page alerts; when the history cannot be read, the reason instead, so the rest
    of a report still stands and the gap shows (`error`)."""
    try:
        return incident_report(incidents(cloudwatch, page_alarms(outputs), start, end), start, end)
    except ClientError as error:
        return {"periodStart": start.isoformat(), "periodEnd": end.isoformat(), "count": None, "mttrMinutes": None,
                "error": f"DescribeAlarmHistory failed: {error_code(error)}: {error}"}


def summary(report: dict[str, Any]) -> dict[str, float | None]:
    """The figures of the `slo` and `incidents` sections as flat rows, for tables and checklists."""
    budget, found = report.get("slo") or {}, report.get("incidents") or {}
    return {
        "error_budget_remaining_percent": budget.get("errorBudgetRemainingPercent"),
        "burn_rate": budget.get("burnRate"),
        "incidents": found.get("count"),
        "mttr_minutes": found.get("mttrMinutes"),
    }
