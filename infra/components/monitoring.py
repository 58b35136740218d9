"""CloudWatch alarms for every scaling trigger and objective of the guide, and its dashboard.

Thresholds come from the stack config, the same values the HPA and the policy
pack read. Every alarm notifies the alerts topic of its region on ALARM and OK,
and says explicitly what missing data means: heartbeats (smoke tests, backup
age, replica lag) treat silence as breaching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import metrics
from infra.components.base import Platform, json_output

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


def alarm_specs(platform: Platform, deployment_name: str) -> list[AlarmSpec]:
    config = platform.config
    pods = {"ClusterName": config.cluster.name, "Namespace": config.namespace, "PodName": deployment_name}
    app = {metrics.STACK_DIMENSION: platform.stack}
    scaling = config.autoscaling
    minutes = scaling.scale_up_stabilization_seconds // 60
    return [
        AlarmSpec(
            "app-cpu-high",
            f"App CPU above {scaling.cpu_target_percent}% for {minutes} minutes (HPA scale-up trigger)",
            "GreaterThanThreshold",
            scaling.cpu_target_percent,
            period=60,
            evaluation_periods=minutes,
            missing_data="notBreaching",
            metric={
                "namespace": metrics.CONTAINER_INSIGHTS,
                "metric_name": "pod_cpu_utilization_over_pod_limit",
                "dimensions": pods,
                "statistic": "Average",
            },
        ),
        AlarmSpec(
            "app-memory-high",
            f"App memory above {scaling.memory_target_percent}% for {minutes} minutes (HPA scale-up trigger)",
            "GreaterThanThreshold",
            scaling.memory_target_percent,
            period=60,
            evaluation_periods=minutes,
            missing_data="notBreaching",
            metric={
                "namespace": metrics.CONTAINER_INSIGHTS,
                "metric_name": "pod_memory_utilization_over_pod_limit",
                "dimensions": pods,
                "statistic": "Average",
            },
        ),
        AlarmSpec(
            "queue-depth-high",
            f"Scrape-job queue deeper than {scaling.queue_depth_target} messages (HPA scale-up trigger)",
            "GreaterThanThreshold",
            scaling.queue_depth_target,
            period=60,
            evaluation_periods=5,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
        AlarmSpec(
            "dead-letter-messages",
            "Scrape jobs failed repeatedly and landed in the dead-letter queue",
            "GreaterThanThreshold",
            config.alarms.dead_letter_messages,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible", "statistic": "Maximum"},
        ),
        AlarmSpec(
            "error-rate-high",
            f"API error rate above {config.alarms.error_rate_percent}%",
            "GreaterThanThreshold",
            config.alarms.error_rate_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            queries=_ratio_queries(metrics.ERROR_COUNT, metrics.REQUEST_COUNT, 300, app),
        ),
        AlarmSpec(
            "latency-p95-high",
            f"API p95 response time above {config.slo.latency_p95_seconds} s",
            "GreaterThanThreshold",
            config.slo.latency_p95_seconds,
            period=300,
            evaluation_periods=3,
            datapoints=2,
            missing_data="notBreaching",
            metric={
                "namespace": metrics.NAMESPACE,
                "metric_name": metrics.RESPONSE_TIME,
                "dimensions": app,
                "extended_statistic": "p95",
            },
        ),
        AlarmSpec(
            "scraper-success-low",
            f"Scraper success rate below {config.slo.scraper_success_percent}%",
            "LessThanThreshold",
            config.slo.scraper_success_percent,
            period=900,
            evaluation_periods=2,
            missing_data="notBreaching",
            queries=_ratio_queries(metrics.SCRAPE_SUCCESSES, metrics.SCRAPE_ATTEMPTS, 900, app),
        ),
        AlarmSpec(
            "smoke-tests-failing",
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
        AlarmSpec(
            "backup-stale",
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
            "replica-lag-high",
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
            "db-cpu-high",
            f"Database CPU above {config.alarms.db_cpu_percent}% for 10 minutes",
            "GreaterThanThreshold",
            config.alarms.db_cpu_percent,
            period=300,
            evaluation_periods=2,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "CPUUtilization", "statistic": "Average"},
        ),
        AlarmSpec(
            "db-free-storage-low",
            f"Database free storage below {config.alarms.db_free_storage_gb} GiB",
            "LessThanThreshold",
            config.alarms.db_free_storage_gb * GIB,
            period=300,
            evaluation_periods=1,
            missing_data="notBreaching",
            metric={"namespace": "AWS/RDS", "metric_name": "FreeStorageSpace", "statistic": "Minimum"},
        ),
    ]


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:monitoring:Monitoring", name, None, opts)
        platform = args.platform
        resource_dimensions: dict[str, dict[str, pulumi.Input[str]]] = {
            "queue-depth-high": {"QueueName": args.queue.name},
            "dead-letter-messages": {"QueueName": args.dead_letter_queue.name},
            # On a standby stack the database is the primary's replica, in this stack's own region.
            "replica-lag-high": {"DBInstanceIdentifier": (args.replica or args.database).identifier},
            "db-cpu-high": {"DBInstanceIdentifier": args.database.identifier},
            "db-free-storage-low": {"DBInstanceIdentifier": args.database.identifier},
        }
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in alarm_specs(platform, args.deployment_name):
            in_dr_region = spec.dr_region and args.replica is not None
            topic = args.dr_alerts_topic if in_dr_region else args.alerts_topic
            metric = dict(spec.metric or {})
            if spec.key in resource_dimensions:
                metric["dimensions"] = resource_dimensions[spec.key]
            self.alarms[spec.key] = aws.cloudwatch.MetricAlarm(
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
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                actions_enabled=True,
                tags=platform.tags,
                opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr if in_dr_region else platform.aws),
                **metric,
            )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=platform.prefix,
            dashboard_body=json_output(_dashboard(platform, args)),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs(
            {"dashboardName": self.dashboard.dashboard_name, "alarmNames": [a.name for a in self.alarms.values()]}
        )


def _dashboard(platform: Platform, args: MonitoringArgs) -> dict[str, Any]:
    """The guide's key metrics: request rate, error rate, response time, resources, queue depth, scraper success."""
    config = platform.config
    region, dr_region = config.region, config.dr_region
    app = [metrics.STACK_DIMENSION, platform.stack]
    pods = ["ClusterName", config.cluster.name, "Namespace", config.namespace, "PodName", args.deployment_name]
    db = ["DBInstanceIdentifier", args.database.identifier]
    # A standby stack's database is the primary's replica itself, in this stack's region.
    lagging, lag_region = (args.replica, dr_region) if args.replica else (args.database, region)

    def widget(title: str, series: list[list[Any]], *, x: int, y: int, stat: str = "Average", where: str = region,
               annotation: float | None = None) -> dict[str, Any]:
        properties: dict[str, Any] = {"title": title, "region": where, "metrics": series, "stat": stat, "period": 300}
        if annotation is not None:
            properties["annotations"] = {"horizontal": [{"label": "threshold", "value": annotation}]}
        return {"type": "metric", "x": x, "y": y, "width": 8, "height": 6, "properties": properties}

    return {
        "widgets": [
            widget("Request rate", [[metrics.NAMESPACE, metrics.REQUEST_COUNT, *app]], x=0, y=0, stat="Sum"),
            widget(
                "Error rate (%)",
                [
                    [{"expression": "100 * errors / requests", "label": "error rate", "id": "rate"}],
                    [metrics.NAMESPACE, metrics.ERROR_COUNT, *app, {"id": "errors", "visible": False}],
                    [metrics.NAMESPACE, metrics.REQUEST_COUNT, *app, {"id": "requests", "visible": False}],
                ],
                x=8, y=0, stat="Sum", annotation=config.alarms.error_rate_percent,
            ),
            widget(
                "Response time (s)",
                [[metrics.NAMESPACE, metrics.RESPONSE_TIME, *app, {"stat": s, "label": s}] for s in ("p50", "p95", "p99")],
                x=16, y=0, annotation=config.slo.latency_p95_seconds,
            ),
            widget(
                "Pod CPU and memory (% of limit)",
                [
                    [metrics.CONTAINER_INSIGHTS, "pod_cpu_utilization_over_pod_limit", *pods],
                    [metrics.CONTAINER_INSIGHTS, "pod_memory_utilization_over_pod_limit", *pods],
                ],
                x=0, y=6, annotation=config.autoscaling.cpu_target_percent,
            ),
            widget(
                "Queue depth",
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.queue.name],
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.dead_letter_queue.name],
                ],
                x=8, y=6, stat="Maximum", annotation=config.autoscaling.queue_depth_target,
            ),
            widget(
                "Scraper success rate (%)",
                [
                    [{"expression": "100 * ok / attempts", "label": "success", "id": "rate"}],
                    [metrics.NAMESPACE, metrics.SCRAPE_SUCCESSES, *app, {"id": "ok", "visible": False}],
                    [metrics.NAMESPACE, metrics.SCRAPE_ATTEMPTS, *app, {"id": "attempts", "visible": False}],
                ],
                x=16, y=6, stat="Sum", annotation=config.slo.scraper_success_percent,
            ),
            widget(
                "Database",
                [
                    ["AWS/RDS", "CPUUtilization", *db],
                    ["AWS/RDS", "DatabaseConnections", *db],
                    ["AWS/RDS", "FreeStorageSpace", *db, {"yAxis": "right"}],
                ],
                x=0, y=12,
            ),
            widget(
                "DR replica lag (s)",
                [["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", lagging.identifier]],
                x=8, y=12, stat="Maximum", where=lag_region, annotation=config.dr.rpo_minutes * 60,
            ),
            widget(
                "Smoke tests and backup age",
                [
                    [metrics.NAMESPACE, metrics.SMOKE_SUCCESS, *app, {"stat": "Minimum"}],
                    [metrics.NAMESPACE, metrics.BACKUP_AGE, *app, {"stat": "Maximum", "yAxis": "right"}],
                ],
                x=16, y=12,
            ),
        ]
    }
