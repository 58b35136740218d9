"""AWS Backup: CreateBackupPlan rules."""

from __future__ import annotations

import re
from typing import Any, Iterator

from automation.aws_model.facts import PlanFacts, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

BACKUP_RULE_DOC = "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html"
LIFECYCLE_DOC = "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Lifecycle.html"
CRON_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-cron-expressions"
FREQUENCY_DOC = "https://docs.aws.amazon.com/aws-backup/latest/devguide/creating-a-backup-plan.html"
COPY_DOC = "https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html"

MIN_START_WINDOW = 60
COLD_STORAGE_MIN_DAYS = 90

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _field(values: str, extra: str = "") -> re.Pattern:
    """One cron field: *, a value, a range, a list, an increment (EventBridge cron expressions)."""
    item = rf"(?:{values})(?:-(?:{values}))?(?:/\d+)?|\*(?:/\d+)?{extra}"
    return re.compile(rf"^(?:{item})(?:,(?:{item}))*$")


CRON_FIELDS = (
    ("minutes", _field(r"[0-5]?\d")),
    ("hours", _field(r"[01]?\d|2[0-3]")),
    ("day-of-month", _field(r"[1-9]|[12]\d|3[01]", r"|\?|L|L-\d+|(?:[1-9]|[12]\d|3[01])W|LW")),
    ("month", _field(rf"[1-9]|1[0-2]|{_MONTHS}")),
    ("day-of-week", _field(rf"[1-7]|{_DAYS}", rf"|\?|(?:[1-7]|{_DAYS})?L|(?:[1-7]|{_DAYS})#[1-5]")),
    ("year", _field(r"19[7-9]\d|2[01]\d\d")),
)


def cron_problems(expression: str) -> list[str]:
    """What is wrong with an AWS cron(...) expression: six fields, and `?` in exactly one of the day fields."""
    match = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if not match:
        return ["is not of the form cron(minutes hours day-of-month month day-of-week year)"]
    fields = match.group(1).split()
    if len(fields) != 6:
        return [f"has {len(fields)} fields; AWS cron has 6 (minutes hours day-of-month month day-of-week year)"]
    problems = [f"{name} '{value}' is not valid" for (name, pattern), value in zip(CRON_FIELDS, fields) if not pattern.match(value)]
    if (fields[2] == "?") == (fields[4] == "?"):
        problems.append("exactly one of day-of-month and day-of-week must be '?'")
    return problems


def _rules(request: ApiRequest) -> list[tuple[int, dict[str, Any]]]:
    rules = (request.params.get("BackupPlan") or {}).get("Rules") or []
    return [(index, rule) for index, rule in enumerate(rules) if isinstance(rule, dict)]


def schedule(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """ScheduleExpression is an AWS cron expression, run at most hourly (AWS Backup plans: frequency from 1 hour)."""
    for index, rule in _rules(request):
        expression = rule.get("ScheduleExpression")
        if not isinstance(expression, str):
            continue
        path = f"BackupPlan.Rules[{index}].ScheduleExpression"
        problems = cron_problems(expression)
        for problem in problems:
            yield request.finding("backup-schedule-cron", path, f"'{expression}' {problem}", CRON_DOC)
        if not problems and not re.fullmatch(r"[0-5]?\d", expression[5:-1].split()[0]):
            yield request.finding(
                "backup-schedule-frequency", path, f"'{expression}' runs more than once an hour; the minimum interval is 60 minutes",
                FREQUENCY_DOC,
            )


def windows(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """StartWindowMinutes, when given, is at least 60 (BackupRuleInput)."""
    for index, rule in _rules(request):
        start = rule.get("StartWindowMinutes")
        if isinstance(start, int) and start < MIN_START_WINDOW:
            yield request.finding(
                "backup-start-window", f"BackupPlan.Rules[{index}].StartWindowMinutes",
                f"{start} minutes; the start window must be at least {MIN_START_WINDOW}", BACKUP_RULE_DOC,
            )


def lifecycles(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """DeleteAfterDays is at least 90 days after MoveToColdStorageAfterDays (Lifecycle)."""
    for index, rule in _rules(request):
        places = [(f"BackupPlan.Rules[{index}].Lifecycle", rule.get("Lifecycle"))]
        places += [
            (f"BackupPlan.Rules[{index}].CopyActions[{i}].Lifecycle", copy.get("Lifecycle"))
            for i, copy in enumerate(rule.get("CopyActions") or [])
            if isinstance(copy, dict)
        ]
        for path, lifecycle in places:
            if not isinstance(lifecycle, dict):
                continue
            cold, delete = lifecycle.get("MoveToColdStorageAfterDays"), lifecycle.get("DeleteAfterDays")
            if isinstance(cold, int) and isinstance(delete, int) and delete < cold + COLD_STORAGE_MIN_DAYS:
                yield request.finding(
                    "backup-cold-storage-lifecycle", f"{path}.DeleteAfterDays",
                    f"{delete} days; with cold storage after {cold} days, deletion must be at least {cold + COLD_STORAGE_MIN_DAYS}",
                    LIFECYCLE_DOC,
                )


def copy_destinations(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """A copy action's destination is a backup vault ARN in the DR region: the plan's other region."""
    dr_regions = facts.other_regions(request.region)
    for index, rule in _rules(request):
        for i, copy in enumerate(rule.get("CopyActions") or []):
            destination = copy.get("DestinationBackupVaultArn") if isinstance(copy, dict) else None
            if destination is None:
                continue
            path = f"BackupPlan.Rules[{index}].CopyActions[{i}].DestinationBackupVaultArn"
            arn = parse_arn(destination)
            if arn is None or arn.service != "backup" or not arn.resource.startswith("backup-vault:"):
                yield request.finding("backup-copy-destination", path, f"'{destination}' is not a backup vault ARN", COPY_DOC)
            elif arn.region == request.region or (dr_regions and arn.region not in dr_regions):
                wanted = " or ".join(dr_regions) or "another region"
                yield request.finding(
                    "backup-copy-destination", path,
                    f"the destination vault is in {arn.region}; the DR copy belongs in {wanted}", COPY_DOC,
                )


RULES = {"CreateBackupPlan": (schedule, windows, lifecycles, copy_destinations)}
