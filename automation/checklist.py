"""`scraper-ops checklist daily|weekly|monthly`: the guide's checklists as checks with evidence.

Items only a person can do are listed as manual and never fail the checklist.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Callable

from automation.aws import Aws
from automation.backup import newest_backup
from automation.metrics import Query, get_metric_data
from automation.reports import latest_report
from automation.smoke import run_smoke
from contract import alarms as alarm_keys
from contract import metrics as names
from contract.outputs import StackOutputs

PASS, FAIL, MANUAL = "pass", "fail", "manual"


@dataclass
class Item:
    text: str
    state: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    aws: Aws
    outputs: StackOutputs
    now: datetime
    smoke_timeout: float = 5.0

    @cached_property
    def alarm_states(self) -> dict[str, str]:
        """Every alarm of the stack by name, from both regions (the replica's lives in the DR region)."""
        states: dict[str, str] = {}
        for client in (self.aws.client("cloudwatch"), self.aws.dr("cloudwatch")):
            paginator = client.get_paginator("describe_alarms")
            for page in paginator.paginate(AlarmNames=list(self.outputs.alarms.values())):
                states.update({a["AlarmName"]: a["StateValue"] for a in page["MetricAlarms"]})
        return states


def health_checks(ctx: Context) -> Item:
    result = run_smoke(ctx.outputs.serviceUrl, ctx.outputs.smokeChecks, "all",
                       ctx.outputs.objectives.latencyP95Seconds, timeout=ctx.smoke_timeout, retries=1)
    evidence = "all smoke checks pass" if result.ok else "; ".join(result.problems)
    return Item("Health checks pass", PASS if result.ok else FAIL, evidence)


def no_alarms(ctx: Context) -> Item:
    states = ctx.alarm_states
    missing = [n for n in ctx.outputs.alarms.values() if n not in states]
    firing = sorted(n for n, s in states.items() if s == "ALARM")
    if missing:
        return Item("No critical errors", FAIL, f"alarms missing from CloudWatch: {', '.join(missing)}")
    if firing:
        return Item("No critical errors", FAIL, f"in ALARM: {', '.join(firing)}")
    return Item("No critical errors", PASS, f"none of {len(states)} alarms in ALARM")


def resource_usage(ctx: Context) -> Item:
    states = ctx.alarm_states
    names = [ctx.outputs.alarms[key] for key in alarm_keys.RESOURCE_USAGE if key in ctx.outputs.alarms]
    watched = {name: states[name] for name in names if name in states}
    high = sorted(n for n, s in watched.items() if s == "ALARM")
    if high:
        return Item("Resource usage normal", FAIL, f"in ALARM: {', '.join(high)}")
    evidence = ", ".join(f"{name} {state}" for name, state in sorted(watched.items()))
    return Item("Resource usage normal", PASS, evidence or "no resource alarms")


def scraper_success(ctx: Context) -> Item:
    outputs = ctx.outputs
    app = (("Stack", outputs.stack),)
    series = get_metric_data(
        ctx.aws.client("cloudwatch"),
        [Query("attempts", outputs.metricsNamespace, names.SCRAPE_ATTEMPTS, "Sum", app),
         Query("ok", outputs.metricsNamespace, names.SCRAPE_SUCCESSES, "Sum", app)],
        ctx.now - timedelta(hours=24), ctx.now, 24 * 3600,
    )
    attempts = sum(v for _, v in series["attempts"])
    target = outputs.objectives.scraperSuccessPercent
    text = f"Scraper success rate > {target:g}%"
    if not attempts:
        return Item(text, FAIL, "no scrape attempts recorded in 24 h")
    rate = 100 * sum(v for _, v in series["ok"]) / attempts
    return Item(text, PASS if rate > target else FAIL, f"{rate:.2f}% of {attempts:.0f} scrapes in 24 h")


def error_budget(ctx: Context) -> Item:
    """The availability SLO's error budget over 30 days is not spent; the burn rate of the last 24 h as evidence."""
    from automation import slo

    outputs = ctx.outputs
    cloudwatch = ctx.aws.client("cloudwatch")
    traffic = slo.traffic_queries(outputs, "")
    month = get_metric_data(cloudwatch, traffic, ctx.now - slo.SLO_WINDOW, ctx.now, int(slo.SLO_WINDOW.total_seconds()))
    day = get_metric_data(cloudwatch, traffic, ctx.now - timedelta(hours=24), ctx.now, 24 * 3600)
    budget = slo.budget_report(month, day, outputs.objectives.availabilityPercent, 24)
    text = f"Error budget left (availability SLO {budget['objectivePercent']:g}%, {budget['windowDays']} d)"
    remaining, burn = budget["errorBudgetRemainingPercent"], budget["burnRate"]
    if remaining is None:
        return Item(text, FAIL, f"no requests at the load balancer in {budget['windowDays']} days")
    burning = "no requests in 24 h" if burn is None else f"burn rate {burn:.2f}x over 24 h"
    return Item(text, PASS if remaining > 0 else FAIL, f"{remaining:.1f}% of the budget left; {burning}")


def incidents_and_mttr(ctx: Context) -> Item:
    """Incidents of the last 30 days from the SLO page alerts' history; MTTR within the RTO, none still open."""
    from automation import slo

    found = slo.incidents_section(ctx.aws.client("cloudwatch"), ctx.outputs, ctx.now - slo.SLO_WINDOW, ctx.now)
    text = "Incidents and MTTR (30 d)"
    if "error" in found:
        return Item(text, FAIL, found["error"])
    rto = ctx.outputs.objectives.rtoMinutes
    mttr = found["mttrMinutes"]
    evidence = f"{found['count']} incident(s), {found['open']} open, MTTR " + (
        "n/a" if mttr is None else f"{mttr:.1f} min") + f" (RTO {rto} min)"
    healthy = not found["open"] and (mttr is None or mttr <= rto)
    return Item(text, PASS if healthy else FAIL, evidence)


def backups_completed(ctx: Context) -> Item:
    newest = newest_backup(ctx.aws.client("rds"), ctx.outputs.dbInstanceId)
    limit = ctx.outputs.objectives.backupMaxAgeHours
    if newest is None:
        return Item("Backups completed", FAIL, f"no snapshot of {ctx.outputs.dbInstanceId}")
    age = (ctx.now - newest["SnapshotCreateTime"]).total_seconds() / 3600
    return Item("Backups completed", PASS if age <= limit else FAIL,
                f"newest {newest['DBSnapshotIdentifier']} is {age:.1f} h old (limit {limit:g} h)")


def recent_report(kind: str, text: str, max_days: int, must_pass: bool) -> Callable[[Context], Item]:
    """A review counts as done when its report is in the ops bucket, recent (and passed, where it can fail)."""

    def check(ctx: Context) -> Item:
        found = latest_report(ctx.aws.client("s3"), ctx.outputs.opsBucket, kind)
        if found is None:
            return Item(text, FAIL, f"no {kind} report in s3://{ctx.outputs.opsBucket}/{kind}/")
        report, written = found
        age_days = (ctx.now - written).total_seconds() / 86400
        if age_days > max_days:
            return Item(text, FAIL, f"last {kind} report is {age_days:.0f} days old (limit {max_days})")
        if must_pass and not report.get("ok"):
            return Item(text, FAIL, f"last {kind} report ({written:%Y-%m-%d}) FAILED")
        return Item(text, PASS, f"{kind} report of {written:%Y-%m-%d %H:%M} UTC" + (", passed" if must_pass else ""))

    return check


def dr_drill(ctx: Context) -> Item:
    """A standby has no replica of its own to drill (`dr test` refuses it): its primary's drill covers it."""
    if ctx.outputs.dataReplicaBucket is None:
        primary = ctx.outputs.site.primaryStack if ctx.outputs.site else None
        return Item("Disaster recovery test", MANUAL, f"a standby stack: the drill runs on its primary "
                                                     f"({primary or 'see site.primaryStack'})")
    return recent_report("dr", "Disaster recovery test", 35, must_pass=True)(ctx)


def manual(text: str, how: str) -> Callable[[Context], Item]:
    return lambda ctx: Item(text, MANUAL, how)


CHECKLISTS: dict[str, list[Callable[[Context], Item]]] = {
    "daily": [health_checks, no_alarms, resource_usage, scraper_success, backups_completed, error_budget],
    "weekly": [
        recent_report("backups", "Backup verification", 8, must_pass=True),
        manual("Security review", "review access logs and anomalies; apply security patches"),
        manual("Performance review", "review the dashboard's response times and error rates"),
        recent_report("capacity", "Capacity planning", 8, must_pass=False),
        manual("Documentation updates", "update runbooks touched this week"),
    ],
    "monthly": [
        dr_drill,
        incidents_and_mttr,
        manual("Performance optimization", "pick optimizations from the capacity report"),
        recent_report("cost", "Cost review", 35, must_pass=False),
        manual("Security audit", "audit IAM, network policies and dependencies"),
        recent_report("capacity", "Capacity planning review", 35, must_pass=False),
    ],
}


def run_checklist(name: str, ctx: Context) -> list[Item]:
    return [item(ctx) for item in CHECKLISTS[name]]
