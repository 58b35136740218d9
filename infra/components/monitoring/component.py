"""The monitoring component: the alarms of the table in `alarms.py` on the stack's own resources, the SLO's
composite burn-rate alarms, and the dashboard.

Every alarm notifies the alerts topic of its region on ALARM and OK (the burn-rate windows through the composite
alarm that joins them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from contract import alarms as alarm_keys
from infra import signals
from infra.components.base import Platform
from infra.components.monitoring.alarms import AlarmSettings, AlarmSpec, alarm_specs, slo_alarm_specs
from infra.components.monitoring.dashboard import dashboard_body
from infra.signals import span


@dataclass(frozen=True)
class MonitoringArgs:
    platform: Platform
    settings: AlarmSettings  # thresholds and the app's sizing, from the config
    cluster_name: str  # config cluster.name: a Container Insights dimension of the app's pods
    namespace_name: str  # config namespace: another
    deployment_name: str
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    database: aws.rds.Instance
    replica: aws.rds.Instance | None  # None on a standby stack, which has no replica of its own
    alerts_topic: aws.sns.Topic
    dr_alerts_topic: aws.sns.Topic
    load_balancer: pulumi.Input[str]  # the app's ALB as CloudWatch names it: app/<name>/<id>

    def pod_dimensions(self) -> dict[str, str]:
        """The Container Insights dimensions of the app's pods."""
        return {"ClusterName": self.cluster_name, "Namespace": self.namespace_name, "PodName": self.deployment_name}


class Monitoring(pulumi.ComponentResource):
    """The stack's metric alarms, its SLO burn-rate alerts and its dashboard."""

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
        for spec in alarm_specs(args.settings, args.pod_dimensions(), args.load_balancer):
            metric = dict(spec.metric or {})
            if spec.key in resource_dimensions:
                metric["dimensions"] = resource_dimensions[spec.key]
            self.alarms[spec.key] = self._alarm(name, platform, args, spec, metric)
        self.slo_alarms: dict[str, aws.cloudwatch.CompositeAlarm] = {}
        availability = args.settings.availability_percent
        for window, long_spec, short_spec in slo_alarm_specs(availability, args.load_balancer):
            long_alarm = self._alarm(name, platform, args, long_spec, {})
            short_alarm = self._alarm(name, platform, args, short_spec, {})
            key = signals.slo_alarm_key(availability, window)
            self.slo_alarms[key] = aws.cloudwatch.CompositeAlarm(
                f"{name}-{key}",
                alarm_name=f"{platform.prefix}-{key}",
                alarm_description=(
                    f"{window.severity.upper()}: the availability SLO ({availability:g}% "
                    f"over {signals.SLO_WINDOW_DAYS} days) burns its error budget {window.factor:g}x too fast over "
                    f"{span(window.long_seconds)}, still so over the last {span(window.short_seconds)}"
                ),
                alarm_rule=pulumi.Output.all(long_alarm.name, short_alarm.name).apply(
                    lambda names: " AND ".join(f'ALARM("{n}")' for n in names)
                ),
                actions_enabled=True,
                alarm_actions=[args.alerts_topic.arn],
                ok_actions=[args.alerts_topic.arn],
                opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
            )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=platform.prefix,
            dashboard_body=pulumi.Output.json_dumps(dashboard_body(args)),
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
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr if in_dr_region else platform.aws),
            **metric,
        )
