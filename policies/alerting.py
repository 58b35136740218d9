"""Rules that refuse stacks which could fail silently: alarms for the guide's triggers and objectives,
alarms that page, encrypted topics and queues, dead-letter queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import guide
from .autoscaling import PAUSE_ANNOTATIONS
from .common import (
    KEDA_SCALED_OBJECT,
    METRIC_ALARM,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    SQS_QUEUE,
    depends_on,
    field,
    in_production,
    is_true,
    known,
    mapping,
    mappings,
    number,
    only,
    stack_of,
    text,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY
GREATER = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")
LESS = ("LessThanThreshold", "LessThanOrEqualToThreshold")


def _metric_names(props: Mapping[str, Any]) -> set[str]:
    names = {text(field(props, "metricName"))}
    for query in mappings(field(props, "metricQueries")):
        names.add(text(field(query, "metric", "metricName")))
    return {n for n in names if n}


@dataclass(frozen=True)
class Coverage:
    """One trigger or objective of the guide and what makes an alarm cover it."""

    what: str
    metric: str
    accepts: Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
    fix: str


def _threshold(props: Mapping[str, Any]) -> float | None:
    return number(field(props, "threshold"))


def _above(limit_key: str):
    def accepts(props, config) -> bool:
        threshold = _threshold(props)
        return text(field(props, "comparisonOperator")) in GREATER and threshold is not None and (
            threshold <= config[limit_key]
        )

    return accepts


def _below(limit_key: str):
    def accepts(props, config) -> bool:
        threshold = _threshold(props)
        return text(field(props, "comparisonOperator")) in LESS and threshold is not None and (
            threshold >= config[limit_key]
        )

    return accepts


def _any_threshold(props, config) -> bool:
    return _threshold(props) is not None


def _heartbeat(props, config) -> bool:
    return text(field(props, "treatMissingData")) == "breaching"


def _p95_latency(props, config) -> bool:
    return text(field(props, "extendedStatistic")) in ("p95", "p99") and _above("maxLatencyP95Seconds")(props, config)


COVERAGE = (
    Coverage("CPU above the HPA target", "pod_cpu_utilization_over_pod_limit", _above("maxCpuTargetPercent"),
             "alarm on Container Insights pod_cpu_utilization_over_pod_limit at <= the CPU target"),
    Coverage("memory above the HPA target", "pod_memory_utilization_over_pod_limit", _above("maxMemoryTargetPercent"),
             "alarm on Container Insights pod_memory_utilization_over_pod_limit at <= the memory target"),
    Coverage("API error rate", guide.ERROR_COUNT, _above("maxErrorRatePercent"),
             f"alarm on 100 * {guide.ERROR_COUNT} / {guide.REQUEST_COUNT}"),
    Coverage("p95 response time", guide.RESPONSE_TIME, _p95_latency,
             f"alarm on {guide.RESPONSE_TIME} p95 at <= the latency objective"),
    Coverage("scraper success rate", guide.SCRAPE_SUCCESSES, _below("minScraperSuccessPercent"),
             f"alarm when 100 * {guide.SCRAPE_SUCCESSES} / {guide.SCRAPE_ATTEMPTS} drops below the objective"),
    Coverage("uptime (smoke tests)", guide.SMOKE_SUCCESS, _heartbeat,
             f"alarm on {guide.SMOKE_SUCCESS} that treats missing data as breaching"),
    Coverage("backup age", guide.BACKUP_AGE, _heartbeat,
             f"alarm on {guide.BACKUP_AGE} that treats missing data as breaching"),
    Coverage("replica lag", "ReplicaLag", _any_threshold, "alarm on AWS/RDS ReplicaLag of the DR replica"),
    Coverage("database CPU", "CPUUtilization", _any_threshold, "alarm on AWS/RDS CPUUtilization"),
    Coverage("database free storage", "FreeStorageSpace", _any_threshold, "alarm on AWS/RDS FreeStorageSpace"),
)


def _standing_by(args: StackValidationArgs) -> bool:
    """A standby stack whose app waits paused at zero replicas: it sends no smoke-test heartbeat by design."""
    scalers = [r for r in args.resources if r.resource_type == KEDA_SCALED_OBJECT]
    return any(
        stack_of(r.urn) in args.get_config()["standbyStacks"]
        and any(name in mapping(field(r.props, "metadata", "annotations")) for name in PAUSE_ANNOTATIONS)
        for r in scalers
    )


def alarms_cover_guide(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    alarms = [r for r in args.resources if r.resource_type == METRIC_ALARM]
    standing_by = _standing_by(args)
    for coverage in COVERAGE:
        candidates = [a for a in alarms if coverage.metric in _metric_names(a.props)]
        accepts = _any_threshold if standing_by and coverage.metric == guide.SMOKE_SUCCESS else coverage.accepts
        if not any(accepts(a.props, config) for a in candidates):
            found = ", ".join(a.name for a in candidates) or "none"
            report_violation(
                f"No alarm covers {coverage.what} as the guide requires (alarms on {coverage.metric}: {found}); "
                f"{coverage.fix}.",
                None,
            )
    queues = [r for r in args.resources if r.resource_type == SQS_QUEUE]
    for queue in queues:
        watching = [a for a in alarms if depends_on(a, "dimensions", queue.urn)]
        if field(queue.props, "redrivePolicy"):  # set, even when the dead-letter ARN is unknown at preview
            if not any(_above("maxQueueDepth")(a.props, config) for a in watching):
                report_violation(
                    f"Queue {queue.name} has no depth alarm at <= {config['maxQueueDepth']} messages; add an alarm on "
                    "ApproximateNumberOfMessagesVisible with its QueueName.",
                    queue.urn,
                )
        elif not watching:
            report_violation(
                f"Dead-letter queue {queue.name} has no alarm; failed jobs would pile up unseen. Alarm on its "
                "ApproximateNumberOfMessagesVisible.",
                queue.urn,
            )


def alarm_pages(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    if known(field(props, "actionsEnabled")) is False:
        report_violation(f"Alarm {args.name} has its actions disabled; set actions_enabled=True.")
    # Actions are topic ARNs, unknown at preview until the topics exist: present is what counts here.
    if not field(props, "alarmActions"):
        report_violation(f"Alarm {args.name} notifies nobody; set alarm_actions to the alerts topic.")
    if not field(props, "okActions"):
        report_violation(f"Alarm {args.name} never announces recovery; set ok_actions to the alerts topic.")
    if not text(field(props, "treatMissingData")):
        report_violation(
            f"Alarm {args.name} leaves missing data to the default; set treat_missing_data explicitly "
            "(breaching for heartbeats)."
        )


def alerts_reach_someone(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """In production, every topic the alarms notify has a subscriber: an alarm that pages an empty topic pages
    nobody (the stack config's alarms.emails or alarms.httpsEndpoints make the subscriptions)."""
    alarms = [r for r in args.resources if r.resource_type == METRIC_ALARM]
    if not alarms or not in_production(alarms[0].urn, args.get_config()):
        return
    subscriptions = [r for r in args.resources if r.resource_type == SNS_SUBSCRIPTION]
    for topic in (r for r in args.resources if r.resource_type == SNS_TOPIC):
        paging = [a.name for a in alarms if depends_on(a, "alarmActions", topic.urn)]
        if paging and not any(depends_on(s, "topic", topic.urn) for s in subscriptions):
            report_violation(
                f"Topic {topic.name} has no subscription, so the {len(paging)} alarms that notify it "
                f"({', '.join(paging[:3])}{', ...' if len(paging) > 3 else ''}) page nobody; set alarms.emails or "
                "alarms.httpsEndpoints in the stack config.",
                topic.urn,
            )


def topic_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not field(args.props, "kmsMasterKeyId"):  # a key ARN unknown at preview is a key
        report_violation(f"Topic {args.name} is not encrypted; set kms_master_key_id to the stack's KMS key.")


def queue_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not field(args.props, "kmsMasterKeyId") and not is_true(field(args.props, "sqsManagedSseEnabled")):
        report_violation(
            f"Queue {args.name} is not encrypted; set kms_master_key_id (or sqs_managed_sse_enabled=True)."
        )


def queues_have_dead_letter(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    queues = [r for r in args.resources if r.resource_type == SQS_QUEUE]
    dead_letter = {q.urn for q in queues for other in queues if depends_on(other, "redrivePolicy", q.urn)}
    for queue in queues:
        if queue.urn not in dead_letter and not field(queue.props, "redrivePolicy"):
            report_violation(
                f"Queue {queue.name} has no dead-letter queue; poison messages would be retried forever or "
                "dropped. Set redrive_policy to a dead-letter queue.",
                queue.urn,
            )


POLICIES = [
    StackValidationPolicy(
        name="alarms-cover-guide",
        description="An alarm for every scaling trigger and objective of the operations guide, no looser.",
        validate=alarms_cover_guide, enforcement_level=MANDATORY,
        config_schema=schema(
            "maxCpuTargetPercent", "maxMemoryTargetPercent", "maxQueueDepth", "maxLatencyP95Seconds",
            "minScraperSuccessPercent", "maxErrorRatePercent", "standbyStacks",
        ),
    ),
    ResourceValidationPolicy(
        name="alarms-page-someone",
        description="Alarms notify on ALARM and OK and treat missing data explicitly.",
        validate=only([METRIC_ALARM], alarm_pages), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="alerts-reach-someone",
        description="In production, every topic the alarms notify has at least one subscriber.",
        validate=alerts_reach_someone, enforcement_level=MANDATORY, config_schema=schema("productionStacks"),
    ),
    ResourceValidationPolicy(
        name="sns-topics-encrypted", description="SNS topics are KMS-encrypted.",
        validate=only([SNS_TOPIC], topic_encrypted), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="sqs-queues-encrypted", description="SQS queues are encrypted.",
        validate=only([SQS_QUEUE], queue_encrypted), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="sqs-queues-dead-letter", description="Every queue has a dead-letter queue.",
        validate=queues_have_dead_letter, enforcement_level=MANDATORY,
    ),
]
