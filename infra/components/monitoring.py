"""CloudWatch alarms for every scaling trigger and objective of the guide, the availability SLO's burn-rate
alerts, and the dashboard.

Thresholds come from the stack config, the same values the HPA and the policy
pack read; what each alarm measures is defined once in `infra.signals`. Every
alarm notifies the alerts topic of its region on ALARM and OK (the burn-rate
windows through the composite alarm that joins them), and says explicitly what
missing data means: heartbeats (smoke tests, backup age, replica lag, the app's
scraper metrics) treat silence as breaching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from contract import alarms as alarm_keys
from contract import metrics
from infra import signals
from infra.components.base import Platform
from infra.config import StackConfig
from infra.signals import BurnWindow, span

GIB = 1024**3


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


@dataclass(frozen=True)
class MonitoringArgs:
    platform: Platform
    deployment_name: str
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    database: aws.rds.Instance
    replica: aws.rds.Instance | None  # None on a standby stack, which has no replica of its own
    alerts_topic: aws.sns.Topic
    dr_alerts_topic: aws.sns.Topic
    load_balancer: pulumi.Input[str]  # the app's ALB as CloudWatch names it: app/<name>/<id>


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


def _utilization_alarm(config: StackConfig, pods: dict[str, str], resource: str, target: int, minutes: int) -> AlarmSpec:
    """Pod CPU or memory in percent of the request, the quantity the HPA scales on (infra.signals)."""
    utilization = signals.request_relative(config.app, resource)
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


def alarm_specs(platform: Platform, deployment_name: str, load_balancer: pulumi.Input[str]) -> list[AlarmSpec]:
    """Every metric alarm of the stack: the scaling triggers, the service's objectives, the data's safety."""
    config = platform.config
    pods = {"ClusterName": config.cluster.name, "Namespace": config.namespace, "PodName": deployment_name}
    scaling = config.autoscaling
    minutes = scaling.scale_up_stabilization_seconds // 60
    return [
        _utilization_alarm(config, pods, "cpu", scaling.cpu_target_percent, minutes),
        _utilization_alarm(config, pods, "memory", scaling.memory_target_percent, minutes),
        *_queue_alarms(config),
        *_service_alarms(platform, load_balancer),
        *_data_alarms(platform),
    ]


def _queue_alarms(config: StackConfig) -> list[AlarmSpec]:
    """The guide's queue-depth trigger and the dead-letter queue (dimensions: the component's queues)."""
    scaling = config.autoscaling
    return [
        AlarmSpec(
            alarm_keys.QUEUE_DEPTH_HIGH,
            f"Scrape-job queue deeper than {scaling.queue_depth_target} messages (HPA scale-up trigger)",
            "GreaterThanThreshold",
            scaling.queue_depth_target,
            period=60,
            evaluation_periods=5,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
        AlarmSpec(
            alarm_keys.DEAD_LETTER_MESSAGES,
            "Scrape jobs failed repeatedly and landed in the dead-letter queue",
            "GreaterThanThreshold",
            config.alarms.dead_letter_messages,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
    ]


def _service_alarms(platform: Platform, load_balancer: pulumi.Input[str]) -> list[AlarmSpec]:
    """The objectives users feel: errors and latency at the ALB, scraper success, the smoke tests."""
    config = platform.config
    app = {metrics.STACK_DIMENSION: platform.stack}
    return [
        AlarmSpec(
            alarm_keys.ERROR_RATE_HIGH,
            f"Share of 5xx answers at the load balancer above {config.alarms.error_rate_percent}%",
            "GreaterThanThreshold",
            config.alarms.error_rate_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            queries=signals.error_ratio_queries(load_balancer, 300, percent=True),
        ),
        AlarmSpec(
            alarm_keys.LATENCY_P95_HIGH,
            f"p95 response time of the app's targets at the load balancer above {config.slo.latency_p95_seconds} s",
            "GreaterThanThreshold",
            config.slo.latency_p95_seconds,
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
            f"Scraper success rate below {config.slo.scraper_success_percent}%, or the app stopped reporting it",
            "LessThanThreshold",
            config.slo.scraper_success_percent,
            period=900,
            evaluation_periods=2,
            missing_data="breaching",  # the app's metric contract: silence means the scrapers (or the app) stopped
            queries=_ratio_queries(metrics.SCRAPE_SUCCESSES, metrics.SCRAPE_ATTEMPTS, 900, app),
        ),
        AlarmSpec(
            alarm_keys.SMOKE_TESTS_FAILING,
            f"Smoke tests failing or not running (uptime objective {config.slo.availability_percent}%)",
            "LessThanThreshold",
            1,
            period=300,
            evaluation_periods=2,
            # Silence is an outage, except for a standby's app waiting at zero replicas with its smoke job suspended.
            missing_data="breaching" if config.site.serving else "notBreaching",
            metric={
                "namespace": metrics.NAMESPACE,
                "metric_name": metrics.SMOKE_SUCCESS,
                "dimensions": app,
                "statistic": "Minimum",
            },
        ),
    ]


def _data_alarms(platform: Platform) -> list[AlarmSpec]:
    """Zero data loss: backup age, replica lag against the RPO, database CPU and storage."""
    config = platform.config
    app = {metrics.STACK_DIMENSION: platform.stack}
    return [
        AlarmSpec(
            alarm_keys.BACKUP_STALE,
            f"Newest database snapshot older than {config.alarms.backup_max_age_hours} h, or no report of it",
            "GreaterThanThreshold",
            config.alarms.backup_max_age_hours,
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
            f"DR replica lag beyond the RPO of {config.dr.rpo_minutes} minutes, or no lag reported",
            "GreaterThanThreshold",
            config.dr.rpo_minutes * 60,
            period=60,
            evaluation_periods=3,
            missing_data="breaching",
            metric={"namespace": "AWS/RDS", "metric_name": "ReplicaLag", "statistic": "Maximum"},
            dr_region=True,
        ),
        AlarmSpec(
            alarm_keys.DB_CPU_HIGH,
            f"Database CPU above {config.alarms.db_cpu_percent}% for 10 minutes",
            "GreaterThanThreshold",
            config.alarms.db_cpu_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "CPUUtilization", "statistic": "Average"},
        ),
        AlarmSpec(
            alarm_keys.DB_FREE_STORAGE_LOW,
            f"Database free storage below {config.alarms.db_free_storage_gb} GiB",
            "LessThanThreshold",
            config.alarms.db_free_storage_gb * GIB,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "FreeStorageSpace", "statistic": "Minimum"},
        ),
    ]


def slo_alarm_specs(config: StackConfig, load_balancer: pulumi.Input[str]) -> list[tuple[BurnWindow, AlarmSpec, AlarmSpec]]:
    """Per burn window of the availability SLO: the long-window and the short-window alarm on the error ratio.

    Both compare the ALB's error ratio over their window with factor x (1 - SLO); a composite alarm fires when
    both do (SRE workbook, "Alerting on SLOs", multiwindow, multi-burn-rate). Each window is one period:
    PutMetricAlarm allows Period x EvaluationPeriods up to 7 days for periods of an hour or more, 1 day below.
    No traffic is no burn (notBreaching); a dead app still shows at the ALB as 5xx from the load balancer.
    """
    availability = config.slo.availability_percent
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


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:monitoring:Monitoring", name, None, opts)
        platform = args.platform
        resource_dimensions: dict[str, dict[str, pulumi.Input[str]]] = {
            alarm_keys.QUEUE_DEPTH_HIGH: {"QueueName": args.queue.name},
            alarm_keys.DEAD_LETTER_MESSAGES: {"QueueName": args.dead_letter_queue.name},
            # On a standby stack the database is the primary's replica, in this stack's own region.
            alarm_keys.REPLICA_LAG_HIGH: {"DBInstanceIdentifier": (args.replica or args.database).identifier},
            alarm_keys.DB_CPU_HIGH: {"DBInstanceIdentifier": args.database.identifier},
            alarm_keys.DB_FREE_STORAGE_LOW: {"DBInstanceIdentifier": args.database.identifier},
        }
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in alarm_specs(platform, args.deployment_name, args.load_balancer):
            metric = dict(spec.metric or {})
            if spec.key in resource_dimensions:
                metric["dimensions"] = resource_dimensions[spec.key]
            self.alarms[spec.key] = self._alarm(name, platform, args, spec, metric)
        self.slo_alarms: dict[str, aws.cloudwatch.CompositeAlarm] = {}
        for window, long_spec, short_spec in slo_alarm_specs(platform.config, args.load_balancer):
            long_alarm = self._alarm(name, platform, args, long_spec, {})
            short_alarm = self._alarm(name, platform, args, short_spec, {})
            key = signals.slo_alarm_key(platform.config.slo.availability_percent, window)
            self.slo_alarms[key] = aws.cloudwatch.CompositeAlarm(
                f"{name}-{key}",
                alarm_name=f"{platform.prefix}-{key}",
                alarm_description=(
                    f"{window.severity.upper()}: the availability SLO ({platform.config.slo.availability_percent:g}% "
                    f"over {signals.SLO_WINDOW_DAYS} days) burns its error budget {window.factor:g}x too fast over "
                    f"{span(window.long_seconds)}, still so over the last {span(window.short_seconds)}"
                ),
                alarm_rule=pulumi.Output.all(long_alarm.name, short_alarm.name).apply(
                    lambda names: " AND ".join(f'ALARM("{n}")' for n in names)
                ),
                actions_enabled=True,
                alarm_actions=[args.alerts_topic.arn],
                ok_actions=[args.alerts_topic.arn],
                tags=platform.tags,
                opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
            )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=platform.prefix,
            dashboard_body=pulumi.Output.json_dumps(_dashboard(platform, args)),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs(
            {
                "dashboardName": self.dashboard.dashboard_name,
                "alarms": {key: alarm.name for key, alarm in self.alarms.items()},
                "sloAlarms": {key: alarm.alarm_name for key, alarm in self.slo_alarms.items()},
            }
        )

    def _alarm(self, name: str, platform: Platform, args: MonitoringArgs, spec: AlarmSpec,
               metric: dict[str, Any]) -> aws.cloudwatch.MetricAlarm:
        # A standby stack's database is the primary's replica itself, in this stack's own region.
        in_dr_region = spec.dr_region and args.replica is not None
        topic = args.dr_alerts_topic if in_dr_region else args.alerts_topic
        actions = [topic.arn] if spec.notifies else None  # composite alarms notify for their parts
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}",
            name=f"{platform.prefix}-{spec.key}",
            alarm_description=spec.description,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints or spec.evaluation_periods,
            period=spec.period if spec.metric else None,
            treat_missing_data=spec.missing_data,
            metric_queries=spec.queries or None,
            alarm_actions=actions,
            ok_actions=actions,
            actions_enabled=True,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr if in_dr_region else platform.aws),
            **metric,
        )


def _dashboard(platform: Platform, args: MonitoringArgs) -> dict[str, Any]:
    """The guide's key metrics (request rate, error rate, response time, resources, queue depth, scraper success)
    and the availability SLO beside them: the SLI over 30 days, the error budget left and the burn rate.

    Long on purpose: the dashboard's grid (x, y of every widget) reads as one layout only in one place."""
    config = platform.config
    region, dr_region = config.region, config.dr_region
    app = [metrics.STACK_DIMENSION, platform.stack]
    alb = [signals.ALB_DIMENSION, args.load_balancer]
    pods = ["ClusterName", config.cluster.name, "Namespace", config.namespace, "PodName", args.deployment_name]
    db = ["DBInstanceIdentifier", args.database.identifier]
    # A standby stack's database is the primary's replica itself, in this stack's region.
    lagging, lag_region = (args.replica, dr_region) if args.replica else (args.database, region)
    availability = config.slo.availability_percent
    budget = signals.error_budget(availability)

    def widget(title: str, series: list[list[Any]], *, x: int, y: int, stat: str = "Average", where: str = region,
               annotation: float | None = None, period: int = 300, view: str | None = None,
               lines: list[tuple[str, float]] = (), since: str | None = None) -> dict[str, Any]:
        properties: dict[str, Any] = {"title": title, "region": where, "metrics": series, "stat": stat, "period": period}
        if view:
            properties["view"] = view
        if since:  # the widget's own time range, one period over all of it (Dashboard Body Structure: start, setPeriodToTimeRange)
            properties.update(start=since, setPeriodToTimeRange=True)
        horizontal = [{"label": "threshold", "value": annotation}] if annotation is not None else []
        horizontal += [{"label": label, "value": value} for label, value in lines]
        if horizontal:
            properties["annotations"] = {"horizontal": horizontal}
        return {"type": "metric", "x": x, "y": y, "width": 8, "height": 6, "properties": properties}

    def error_ratio_series(prefix: str) -> list[list[Any]]:
        return [
            [signals.ALB_NAMESPACE, metric, *alb, {"id": f"{prefix}{query_id}", "visible": False}]
            for query_id, metric in signals.ERROR_RATIO_METRICS.items()
        ]

    def ratio(prefix: str) -> str:
        return signals.ERROR_RATIO_EXPRESSION.replace("target_5xx", f"{prefix}target_5xx").replace(
            "elb_5xx", f"{prefix}elb_5xx").replace("/ requests", f"/ {prefix}requests")

    def utilization(resource: str) -> list[list[Any]]:
        definition = signals.request_relative(config.app, resource)
        return [
            [{"expression": definition.expression(f"{resource}_limit"), "label": f"{resource} % of request",
              "id": f"{resource}_request"}],
            [signals.CONTAINER_INSIGHTS, definition.metric, *pods, {"id": f"{resource}_limit", "visible": False}],
        ]

    thirty_days = signals.SLO_WINDOW_DAYS * 86400
    return {
        "periodOverride": "inherit",  # widgets keep their periods (the burn rate is per hour) whatever the time range
        "widgets": [
            widget("Request rate (ALB)", [[signals.ALB_NAMESPACE, signals.ALB_REQUESTS, *alb]], x=0, y=0, stat="Sum"),
            widget(
                "Error rate (%, 5xx at the ALB)",
                [[{"expression": f"100 * {ratio('')}", "label": "error rate", "id": "rate"}], *error_ratio_series("")],
                x=8, y=0, stat="Sum", annotation=config.alarms.error_rate_percent,
            ),
            widget(
                "Response time (s, ALB targets)",
                [[signals.ALB_NAMESPACE, signals.ALB_RESPONSE_TIME, *alb, {"stat": s, "label": s}] for s in ("p50", "p95", "p99")],
                x=16, y=0, annotation=config.slo.latency_p95_seconds,
            ),
            widget(
                f"Availability SLO {availability:g}% ({signals.SLO_WINDOW_DAYS} d): SLI and error budget left (%)",
                [
                    [{"expression": f"100 * (1 - {ratio('')})", "label": "availability SLI", "id": "sli"}],
                    [{"expression": f"100 * (1 - {ratio('')} / {budget!r})", "label": "error budget left", "id": "left"}],
                    *error_ratio_series(""),
                ],
                x=0, y=6, stat="Sum", period=thirty_days, view="singleValue", since=f"-P{signals.SLO_WINDOW_DAYS}D",
            ),
            widget(
                "Error budget burn rate (1 h)",
                [[{"expression": f"{ratio('')} / {budget!r}", "label": "burn rate", "id": "burn"}], *error_ratio_series("")],
                x=8, y=6, stat="Sum", period=3600,
                lines=[(f"{w.severity} {w.factor:g}x", w.factor) for w in signals.BURN_WINDOWS],
            ),
            widget(
                "Pod CPU and memory (% of request, the HPA's measure)",
                [*utilization("cpu"), *utilization("memory")],
                x=16, y=6, annotation=config.autoscaling.cpu_target_percent,
                lines=[("memory target", config.autoscaling.memory_target_percent)],
            ),
            widget(
                "Queue depth",
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.queue.name],
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.dead_letter_queue.name],
                ],
                x=0, y=12, stat="Maximum", annotation=config.autoscaling.queue_depth_target,
            ),
            widget(
                "Scraper success rate (%)",
                [
                    [{"expression": "100 * ok / attempts", "label": "success", "id": "rate"}],
                    [metrics.NAMESPACE, metrics.SCRAPE_SUCCESSES, *app, {"id": "ok", "visible": False}],
                    [metrics.NAMESPACE, metrics.SCRAPE_ATTEMPTS, *app, {"id": "attempts", "visible": False}],
                ],
                x=8, y=12, stat="Sum", annotation=config.slo.scraper_success_percent,
            ),
            widget(
                "Database",
                [
                    ["AWS/RDS", "CPUUtilization", *db],
                    ["AWS/RDS", "DatabaseConnections", *db],
                    ["AWS/RDS", "FreeStorageSpace", *db, {"yAxis": "right"}],
                ],
                x=16, y=12,
            ),
            widget(
                "DR replica lag (s)",
                [["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", lagging.identifier]],
                x=0, y=18, stat="Maximum", where=lag_region, annotation=config.dr.rpo_minutes * 60,
            ),
            widget(
                "Smoke tests and backup age",
                [
                    [metrics.NAMESPACE, metrics.SMOKE_SUCCESS, *app, {"stat": "Minimum"}],
                    [metrics.NAMESPACE, metrics.BACKUP_AGE, *app, {"stat": "Maximum", "yAxis": "right"}],
                ],
                x=8, y=18,
            ),
        ]
    }
