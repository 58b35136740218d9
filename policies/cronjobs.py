"""Rules for CronJobs: no overlapping runs, deadlines, bounded retries and history, valid schedules,
and the guide's scheduled jobs present (the maintenance trigger runs in CI, not in the cluster)."""

from __future__ import annotations

from croniter import croniter
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import K8S_CRONJOB, count, field, mapping, mappings, number, only, pod_spec_of, text, texts
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY

# The guide's scheduled scripts and the scraper-ops commands that replace them.
GUIDE_JOBS = {
    ("backup", "create"): "database backup (backup_db.sh)",
    ("backup", "verify"): "backup verification (automated-backup.sh)",
    ("smoke",): "smoke tests (smoke-tests.sh all)",
    ("metrics", "collect"): "operational metrics (operational-metrics.sh)",
    ("dr", "test"): "monthly disaster recovery test (disaster-recovery.sh test)",
    ("capacity", "report"): "weekly capacity review (capacity-planning.sh)",
    ("cost", "review"): "monthly cost review",
}


def _spec(args: ResourceValidationArgs):
    return mapping(field(args.props, "spec"))


def forbid_concurrency(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if text(field(_spec(args), "concurrencyPolicy")) != "Forbid":
        report_violation(f"CronJob {args.name} may run twice at once; set concurrencyPolicy: Forbid.")


def deadlines(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = _spec(args)
    job = mapping(field(spec, "jobTemplate", "spec"))
    if not number(field(spec, "startingDeadlineSeconds")):
        report_violation(
            f"CronJob {args.name} has no startingDeadlineSeconds; missed runs could all start at once. Set one."
        )
    if not number(field(job, "activeDeadlineSeconds")):
        report_violation(
            f"CronJob {args.name} has no activeDeadlineSeconds; a hung run would block every later one. Set one."
        )


def bounded_retries_and_history(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    spec = _spec(args)
    job = mapping(field(spec, "jobTemplate", "spec"))
    # Unset fields take the Kubernetes defaults (backoffLimit 6, history 3 successful and 1 failed), which
    # is what the rule judges; a value that is not a number is refused like one over the limit.
    retries = count(field(job, "backoffLimit"), 6)
    if retries is None or retries > config["maxJobRetries"]:
        report_violation(
            f"CronJob {args.name} retries {field(job, 'backoffLimit') if retries is None else retries} times; "
            f"set backoffLimit <= {config['maxJobRetries']}."
        )
    for key, default in (("successfulJobsHistoryLimit", 3), ("failedJobsHistoryLimit", 1)):
        kept = count(field(spec, key), default)
        if kept is None or kept > config["maxJobHistory"]:
            report_violation(
                f"CronJob {args.name} keeps {field(spec, key) if kept is None else kept} jobs; "
                f"set {key} <= {config['maxJobHistory']}."
            )
    if text(field(pod_spec_of(K8S_CRONJOB, args.props), "restartPolicy")) not in ("Never", "OnFailure"):
        report_violation(f"CronJob {args.name} pods need restartPolicy Never or OnFailure.")


def valid_schedule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    schedule = text(field(_spec(args), "schedule")) or ""
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule) or any(c in schedule for c in "#LW"):
        report_violation(f"CronJob {args.name} has the invalid schedule '{schedule}'; use 5-field standard cron.")
    if not text(field(_spec(args), "timeZone")):
        report_violation(f"CronJob {args.name} runs in the controller's local time; set timeZone: Etc/UTC.")


def guide_jobs_present(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    commands = set()
    for cron in (r for r in args.resources if r.resource_type == K8S_CRONJOB):
        for container in mappings(field(pod_spec_of(K8S_CRONJOB, cron.props), "containers")):
            words = [*texts(field(container, "command")), *texts(field(container, "args"))]
            if words and words[0] == "scraper-ops":
                commands.add(tuple(words[1:3]))
    for command, what in GUIDE_JOBS.items():
        if not any(found[: len(command)] == command for found in commands):
            report_violation(
                f"No CronJob runs the guide's {what}; add one running `scraper-ops {' '.join(command)}`.", None
            )


POLICIES = [
    ResourceValidationPolicy(
        name="cronjob-forbid-concurrency", description="CronJobs never overlap.",
        validate=only([K8S_CRONJOB], forbid_concurrency), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="cronjob-deadlines", description="CronJobs have starting and active deadlines.",
        validate=only([K8S_CRONJOB], deadlines), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="cronjob-bounded-retries-and-history", description="CronJobs bound their retries and history.",
        validate=only([K8S_CRONJOB], bounded_retries_and_history), enforcement_level=MANDATORY,
        config_schema=schema("maxJobRetries", "maxJobHistory"),
    ),
    ResourceValidationPolicy(
        name="cronjob-valid-schedule", description="CronJob schedules are valid standard cron in UTC.",
        validate=only([K8S_CRONJOB], valid_schedule), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="ops-cronjobs-present",
        description="The guide's scheduled jobs (backup, verification, smoke tests, metrics, DR test, capacity and "
                    "cost reviews) exist.",
        validate=guide_jobs_present, enforcement_level=MANDATORY,
    ),
]
