"""The alarm table: every metric alarm of the stack as an `AlarmSpec` (the scaling triggers, the service's
objectives, the data's safety) and the availability SLO's burn-rate pairs.

Thresholds come from the stack config (through `AlarmSettings`), the same values the HPA and the policy pack
read; what each alarm measures is defined once in `infra.signals`. Missing data is said explicitly: heartbeats
(smoke tests, backup age, replica lag, the app's scraper metrics) treat silence as breaching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from contract import alarms as alarm_keys
from contract import metrics
from infra import signals
from infra.config import ResourceQuantities
from infra.signals import BurnWindow, span

GIB = 1024**3


@dataclass(frozen=True)
class AlarmSettings:
    """What the alarms compare against and how, from the stack config (the guide's numbers by default)."""

    stack: str  # the `Stack` dimension of the app's own metrics
    serving: bool  # config site.serving: a standby's silent smoke tests are not an outage
    requests: ResourceQuantities  # config app.requests: the HPA's utilization is relative to them
    limits: ResourceQuantities  # config app.limits: Container Insights reports utilization relative to them
    cpu_target_percent: int  # config autoscaling.cpuTargetPercent
    memory_target_percent: int  # config autoscaling.memoryTargetPercent
    scale_up_stabilization_seconds: int  # config autoscaling.scaleUpStabilizationSeconds: the CPU/memory window
    queue_depth_target: int  # config autoscaling.queueDepthTarget
    dead_letter_messages: int  # config alarms.deadLetterMessages
    error_rate_percent: float  # config alarms.errorRatePercent
    db_cpu_percent: int  # config alarms.dbCpuPercent
    db_free_storage_gb: int  # config alarms.dbFreeStorageGb
    backup_max_age_hours: int  # config alarms.backupMaxAgeHours
    availability_percent: float  # config slo.availabilityPercent
    latency_p95_seconds: float  # config slo.latencyP95Seconds
    scraper_success_percent: float  # config slo.scraperSuccessPercent
    rpo_minutes: int  # config dr.rpoMinutes: the replica-lag alarm's threshold

@dataclass(frozen=True)
class AlarmSpec:
    key: str
    description: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    missing_data: str
    datapoints: int | None = None
    metric: dict[str, Any] | None = None  # namespace, metric_name, dimensions, statistic or extended_statistic
    queries: list[dict[str, Any]] = field(default_factory=list)  # metric math instead of a single metric
    dr_region: bool = False
    notifies: bool = True


def _ratio_queries(numerator: str, denominator: str, period: int, dims: dict[str, str]) -> list[dict[str, Any]]:
    """Metric math: 100 * numerator / denominator over `period`, both Sums of custom metrics."""

    def metric(query_id: str, name: str) -> dict[str, Any]:
        return {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": metrics.NAMESPACE,
                "metric_name": name,
                "dimensions": dims,
                "period": period,
                "stat": "Sum",
            },
        }

    return [
        metric("numerator", numerator),
        metric("denominator", denominator),
        {"id": "percent", "expression": "100 * numerator / denominator", "label": "percent", "return_data": True},
    ]


def _utilization_alarm(settings: AlarmSettings, pods: dict[str, str], resource: str, target: int,
                       minutes: int) -> AlarmSpec:
    """Pod CPU or memory in percent of the request, the quantity the HPA scales on (infra.signals)."""
    utilization = signals.request_relative(settings, resource)
    return AlarmSpec(
        {"cpu": alarm_keys.APP_CPU_HIGH, "memory": alarm_keys.APP_MEMORY_HIGH}[resource],
        f"App {resource} above {target}% of its request for {minutes} minutes (HPA scale-up trigger)",
        "GreaterThanThreshold",
        target,
        period=60,
        evaluation_periods=minutes,
        missing_data="notBreaching",
        queries=[
            {
                "id": "over_limit",
                "return_data": False,
                "metric": {
                    "namespace": signals.CONTAINER_INSIGHTS,
                    "metric_name": utilization.metric,
                    "dimensions": pods,
                    "period": 60,
                    "stat": "Average",
                },
            },
            {
                "id": "of_request",
                "expression": utilization.expression("over_limit"),
                "label": f"{resource} % of request",
                "return_data": True,
            },
        ],
    )


def alarm_specs(settings: AlarmSettings, pods: dict[str, str], load_balancer: pulumi.Input[str]) -> list[AlarmSpec]:
    """Every metric alarm of the stack: the scaling triggers, the service's objectives, the data's safety.
    `pods` are the Container Insights dimensions of the app's pods."""
    minutes = settings.scale_up_stabilization_seconds // 60
    return [
        _utilization_alarm(settings, pods, "cpu", settings.cpu_target_percent, minutes),
        _utilization_alarm(settings, pods, "memory", settings.memory_target_percent, minutes),
        *_queue_alarms(settings),
        *_service_alarms(settings, load_balancer),
        *_data_alarms(settings),
    ]


def _queue_alarms(settings: AlarmSettings) -> list[AlarmSpec]:
    """The guide's queue-depth trigger and the dead-letter queue (dimensions: the component's queues)."""
    return [
        AlarmSpec(
            alarm_keys.QUEUE_DEPTH_HIGH,
            f"Scrape-job queue deeper than {settings.queue_depth_target} messages (HPA scale-up trigger)",
            "GreaterThanThreshold",
            settings.queue_depth_target,
            period=60,
            evaluation_periods=5,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
        AlarmSpec(
            alarm_keys.DEAD_LETTER_MESSAGES,
            "Scrape jobs failed repeatedly and landed in the dead-letter queue",
            "GreaterThanThreshold",
            settings.dead_letter_messages,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
    ]


def _service_alarms(settings: AlarmSettings, load_balancer: pulumi.Input[str]) -> list[AlarmSpec]:
    """The objectives users feel: errors and latency at the ALB, scraper success, the smoke tests."""
    app = {metrics.STACK_DIMENSION: settings.stack}
    return [
        AlarmSpec(
            alarm_keys.ERROR_RATE_HIGH,
            f"Share of 5xx answers at the load balancer above {settings.error_rate_percent}%",
            "GreaterThanThreshold",
            settings.error_rate_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            queries=signals.error_ratio_queries(load_balancer, 300, percent=True),
        ),
        AlarmSpec(
            alarm_keys.LATENCY_P95_HIGH,
            f"p95 response time of the app's targets at the load balancer above {settings.latency_p95_seconds} s",
            "GreaterThanThreshold",
            settings.latency_p95_seconds,
            period=300,
            evaluation_periods=3,
            datapoints=2,
            missing_data="notBreaching",
            metric={
                "namespace": signals.ALB_NAMESPACE,
                "metric_name": signals.ALB_RESPONSE_TIME,
                "dimensions": {signals.ALB_DIMENSION: load_balancer},
                "extended_statistic": "p95",
            },
        ),
        AlarmSpec(
            alarm_keys.SCRAPER_SUCCESS_LOW,
            f"Scraper success rate below {settings.scraper_success_percent}%, or the app stopped reporting it",
            "LessThanThreshold",
            settings.scraper_success_percent,
            period=900,
            evaluation_periods=2,
            missing_data="breaching",  # the app's metric contract: silence means the scrapers (or the app) stopped
            queries=_ratio_queries(metrics.SCRAPE_SUCCESSES, metrics.SCRAPE_ATTEMPTS, 900, app),
        ),
        AlarmSpec(
            alarm_keys.SMOKE_TESTS_FAILING,
            f"Smoke tests failing or not running (uptime objective {settings.availability_percent}%)",
            "LessThanThreshold",
            1,
            period=300,
            evaluation_periods=2,
            # Silence is an outage, except for a standby's app waiting at zero replicas with its smoke job suspended.
            missing_data="breaching" if settings.serving else "notBreaching",
            metric={
                "namespace": metrics.NAMESPACE,
                "metric_name": metrics.SMOKE_SUCCESS,
                "dimensions": app,
                "statistic": "Minimum",
            },
        ),
    ]


def _data_alarms(settings: AlarmSettings) -> list[AlarmSpec]:
    """Zero data loss: backup age, replica lag against the RPO, database CPU and storage."""
    app = {metrics.STACK_DIMENSION: settings.stack}
    return [
        AlarmSpec(
            alarm_keys.BACKUP_STALE,
            f"Newest database snapshot older than {settings.backup_max_age_hours} h, or no report of it",
            "GreaterThanThreshold",
            settings.backup_max_age_hours,
            period=3600,
            evaluation_periods=2,
            missing_data="breaching",
            metric={
                "namespace": metrics.NAMESPACE,
                "metric_name": metrics.BACKUP_AGE,
                "dimensions": app,
                "statistic": "Maximum",
            },
        ),
        AlarmSpec(
            alarm_keys.REPLICA_LAG_HIGH,
            f"DR replica lag beyond the RPO of {settings.rpo_minutes} minutes, or no lag reported",
            "GreaterThanThreshold",
            settings.rpo_minutes * 60,
            period=60,
            evaluation_periods=3,
            missing_data="breaching",
            metric={"namespace": "AWS/RDS", "metric_name": "ReplicaLag", "statistic": "Maximum"},
            dr_region=True,
        ),
        AlarmSpec(
            alarm_keys.DB_CPU_HIGH,
            f"Database CPU above {settings.db_cpu_percent}% for 10 minutes",
            "GreaterThanThreshold",
            settings.db_cpu_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "CPUUtilization", "statistic": "Average"},
        ),
        AlarmSpec(
            alarm_keys.DB_FREE_STORAGE_LOW,
            f"Database free storage below {settings.db_free_storage_gb} GiB",
            "LessThanThreshold",
            settings.db_free_storage_gb * GIB,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "FreeStorageSpace", "statistic": "Minimum"},
        ),
    ]


def slo_alarm_specs(availability: float, load_balancer: pulumi.Input[str]) -> list[tuple[BurnWindow, AlarmSpec, AlarmSpec]]:
    """Per burn window of the availability SLO: the long-window and the short-window alarm on the error ratio.

    Both compare the ALB's error ratio over their window with factor x (1 - SLO); a composite alarm fires when
    both do (SRE workbook, "Alerting on SLOs", multiwindow, multi-burn-rate). Each window is one period:
    PutMetricAlarm allows Period x EvaluationPeriods up to 7 days for periods of an hour or more, 1 day below.
    No traffic is no burn (notBreaching); a dead app still shows at the ALB as 5xx from the load balancer.
    """
    specs = []
    for window in signals.BURN_WINDOWS:
        threshold = window.threshold(availability)
        key = signals.slo_alarm_key(availability, window)

        def spec(part: str, seconds: int) -> AlarmSpec:
            return AlarmSpec(
                f"{key}-{part}",
                f"Availability SLO {availability:g}%: error ratio over {span(seconds)} above {threshold:g} "
                f"({window.factor:g}x the error budget); part of the {window.severity} alert {key}",
                "GreaterThanThreshold",
                threshold,
                period=seconds,
                evaluation_periods=1,
                missing_data="notBreaching",
                queries=signals.error_ratio_queries(load_balancer, seconds),
                notifies=False,
            )

        specs.append((window, spec("long", window.long_seconds), spec("short", window.short_seconds)))
    return specs
