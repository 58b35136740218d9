"""Rules that refuse stacks which could fail silently: alarms for the guide's triggers and objectives,
alarms that page, encrypted topics and queues, dead-letter queues."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
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
    COMPOSITE_ALARM,
    K8S_DEPLOYMENT,
    KEDA_SCALED_OBJECT,
    METRIC_ALARM,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    SQS_QUEUE,
    StackIndex,
    containers_of,
    field,
    in_production,
    is_true,
    known,
    mapping,
    mappings,
    number,
    only,
    parse_quantity,
    pod_spec_of,
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
    """One trigger or objective of the guide and what makes an alarm cover it (props, config, limit/request
    ratios of the app's pods)."""

    what: str
    metric: str
    accepts: Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, float]], bool]
    fix: str


def _threshold(props: Mapping[str, Any]) -> float | None:
    return number(field(props, "threshold"))


def _above(limit_key: str):
    def accepts(props, config, ratios=None) -> bool:
        threshold = _threshold(props)
        return text(field(props, "comparisonOperator")) in GREATER and threshold is not None and (
            threshold <= config[limit_key]
        )

    return accepts


_SCALED = re.compile(r"^\s*(\w+)\s*\*\s*(\d+(?:\.\d+)?)\s*$")


def request_relative_threshold(props: Mapping[str, Any], resource: str, limit_per_request: float) -> float | None:
    """The alarm's threshold in percent of the pod's request, the HPA's measure.

    Container Insights' pod_*_utilization_over_pod_limit is percent of the limit; an alarm on it directly fires at
    threshold x limit/request of the request. Metric math `<id> * <factor>` over it (the stack's definition) has
    already scaled by `factor`.
    """
    threshold = _threshold(props)
    if threshold is None:
        return None
    metric = guide.POD_OVER_LIMIT[resource]
    if text(field(props, "metricName")) == metric:
        return threshold * limit_per_request
    queries = mappings(field(props, "metricQueries"))
    ids = {text(field(q, "id")) for q in queries if text(field(q, "metric", "metricName")) == metric}
    for query in queries:
        match = _SCALED.match(text(field(query, "expression")) or "")
        if is_true(field(query, "returnData")) and match and match.group(1) in ids:
            return threshold * limit_per_request / float(match.group(2))
    return None


def _above_request(resource: str, limit_key: str):
    def accepts(props, config, ratios) -> bool:
        relative = request_relative_threshold(props, resource, ratios.get(resource, 1.0))
        return text(field(props, "comparisonOperator")) in GREATER and relative is not None and (
            relative <= config[limit_key] * (1 + 1e-9)
        )

    return accepts


def limit_per_request(resources: Any) -> dict[str, float]:
    """Limit / request of CPU and memory of the app's Deployment (summed over its containers), where both are set."""
    ratios: dict[str, float] = {}
    for deployment in (r for r in resources if r.resource_type == K8S_DEPLOYMENT):
        containers = list(containers_of(pod_spec_of(K8S_DEPLOYMENT, deployment.props)))
        for resource in ("cpu", "memory"):
            try:
                request = sum((parse_quantity(str(known(field(c, "resources", "requests", resource)))) for c in containers), Decimal(0))
                limit = sum((parse_quantity(str(known(field(c, "resources", "limits", resource)))) for c in containers), Decimal(0))
            except ValueError:
                continue
            if request > 0 and limit > 0:
                ratios[resource] = max(ratios.get(resource, 0.0), float(limit / request))
    return ratios


def _below(limit_key: str):
    def accepts(props, config, ratios=None) -> bool:
        threshold = _threshold(props)
        return text(field(props, "comparisonOperator")) in LESS and threshold is not None and (
            threshold >= config[limit_key]
        )

    return accepts


def _any_threshold(props, config, ratios=None) -> bool:
    return _threshold(props) is not None


def _heartbeat(props, config, ratios=None) -> bool:
    return text(field(props, "treatMissingData")) == "breaching"


def _p95_latency(props, config, ratios=None) -> bool:
    return text(field(props, "extendedStatistic")) in ("p95", "p99") and _above("maxLatencyP95Seconds")(props, config)


def _scraper_success(props, config, ratios=None) -> bool:
    """Below the objective, and firing when the app stops publishing (its metric contract)."""
    return _below("minScraperSuccessPercent")(props, config) and _heartbeat(props, config)


COVERAGE = (
    Coverage("CPU above the HPA target (percent of the request)", guide.POD_OVER_LIMIT["cpu"],
             _above_request("cpu", "maxCpuTargetPercent"),
             f"alarm on {guide.POD_OVER_LIMIT['cpu']} * limit/request (metric math) at <= the CPU target"),
    Coverage("memory above the HPA target (percent of the request)", guide.POD_OVER_LIMIT["memory"],
             _above_request("memory", "maxMemoryTargetPercent"),
             f"alarm on {guide.POD_OVER_LIMIT['memory']} * limit/request (metric math) at <= the memory target"),
    Coverage("API error rate", guide.ALB_TARGET_5XX, _above("maxErrorRatePercent"),
             f"alarm on the load balancer's 100 * {guide.ALB_TARGET_5XX} / RequestCount"),
    Coverage("p95 response time", guide.ALB_RESPONSE_TIME, _p95_latency,
             f"alarm on the load balancer's {guide.ALB_RESPONSE_TIME} p95 at <= the latency objective"),
    Coverage("scraper success rate", guide.SCRAPE_SUCCESSES, _scraper_success,
             f"alarm when 100 * {guide.SCRAPE_SUCCESSES} / {guide.SCRAPE_ATTEMPTS} drops below the objective or "
             "stops arriving (treat missing data as breaching)"),
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
    index = StackIndex(args.resources)
    alarms = index.of_type(METRIC_ALARM)
    ratios = limit_per_request(args.resources)
    standing_by = _standing_by(args)
    for coverage in COVERAGE:
        candidates = [a for a in alarms if coverage.metric in _metric_names(a.props)]
        accepts = _any_threshold if standing_by and coverage.metric == guide.SMOKE_SUCCESS else coverage.accepts
        if not any(accepts(a.props, config, ratios) for a in candidates):
            found = ", ".join(a.name for a in candidates) or "none"
            report_violation(
                f"No alarm covers {coverage.what} as the guide requires (alarms on {coverage.metric}: {found}); "
                f"{coverage.fix}.",
                None,
            )
    for queue in index.of_type(SQS_QUEUE):
        watching = index.dependents(queue.urn, "dimensions", METRIC_ALARM)
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


_RULE_NAMES = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+?)"?\s*\)')


def alarm_pages(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every alarm notifies on ALARM and OK, except a metric alarm that a composite alarm of the stack names in its
    rule: the composite notifies for it (the burn-rate windows of an SLO alert)."""
    composites = [r for r in args.resources if r.resource_type == COMPOSITE_ALARM]
    in_composites = {name for c in composites for name in _RULE_NAMES.findall(text(field(c.props, "alarmRule")) or "")}
    for alarm in (r for r in args.resources if r.resource_type in (METRIC_ALARM, COMPOSITE_ALARM)):
        props = alarm.props
        named = text(field(props, "name")) or text(field(props, "alarmName"))
        if known(field(props, "actionsEnabled")) is False:
            report_violation(f"Alarm {alarm.name} has its actions disabled; set actions_enabled=True.", alarm.urn)
        notified_by_composite = alarm.resource_type == METRIC_ALARM and named in in_composites
        # Actions are topic ARNs, unknown at preview until the topics exist: present is what counts here.
        if not notified_by_composite and not field(props, "alarmActions"):
            report_violation(f"Alarm {alarm.name} notifies nobody; set alarm_actions to the alerts topic.", alarm.urn)
        if not notified_by_composite and not field(props, "okActions"):
            report_violation(f"Alarm {alarm.name} never announces recovery; set ok_actions to the alerts topic.", alarm.urn)
        if alarm.resource_type == METRIC_ALARM and not text(field(props, "treatMissingData")):
            report_violation(
                f"Alarm {alarm.name} leaves missing data to the default; set treat_missing_data explicitly "
                "(breaching for heartbeats).",
                alarm.urn,
            )


def alerts_reach_someone(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """In production, every topic the alarms notify has a subscriber: an alarm that pages an empty topic pages
    nobody (the stack config's alarms.emails or alarms.httpsEndpoints make the subscriptions)."""
    index = StackIndex(args.resources)
    alarms = index.of_type(METRIC_ALARM)
    if not alarms or not in_production(alarms[0].urn, args.get_config()):
        return
    for topic in index.of_type(SNS_TOPIC):
        paging = [a.name for a in index.dependents(topic.urn, "alarmActions", METRIC_ALARM)]
        if paging and not index.dependents(topic.urn, "topic", SNS_SUBSCRIPTION):
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
    index = StackIndex(args.resources)
    for queue in index.of_type(SQS_QUEUE):
        dead_letter = index.dependents(queue.urn, "redrivePolicy", SQS_QUEUE)
        if not dead_letter and not field(queue.props, "redrivePolicy"):
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
    StackValidationPolicy(
        name="alarms-page-someone",
        description="Alarms notify on ALARM and OK (directly or through a composite alarm) and treat missing data "
                    "explicitly.",
        validate=alarm_pages, enforcement_level=MANDATORY,
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
