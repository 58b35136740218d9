"""The app's public name as a Route 53 failover record (README, "Disaster recovery").

A primary stack declares the PRIMARY record, a standby stack (site.role standby) the SECONDARY one, each an alias
of its own ALB with EvaluateTargetHealth (Route 53 Developer Guide, "Values specific for failover alias records":
an alias to an ELB load balancer inherits the health of its target groups, so a standby whose app waits at zero
replicas has no healthy target and is never answered while it stands by).

The PRIMARY record also carries a health check of type CLOUDWATCH_METRIC on the app's smoke-test alarm, with
insufficient data counted as unhealthy: the ALB is internal, out of reach of Route 53's health checkers, and when
the primary region fails its alarm stops reporting, which turns the check unhealthy by itself (Route 53
Developer Guide, "Configuring failover in a private hosted zone" and "How Route 53 determines whether a health
check is healthy", CloudWatch alarm health checks).

`scraper-ops dr failover` pins the switch: it disables and inverts the PRIMARY's health check, which Route 53
then holds unhealthy whatever the primary does (Route 53 API Reference, UpdateHealthCheck, Disabled: "in disabled
state, you can also invert the status of the health check"), so a primary region that comes back does not draw
traffic to an app still configured for the old, diverged database. `dr failback --switch` restores both flags.
The stack therefore ignores changes to them: the runbook owns them, and a `pulumi up` of the primary during a
failover must not undo the switch.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform

PRIMARY, SECONDARY = "PRIMARY", "SECONDARY"
RUNBOOK_OWNED_FLAGS = ["invertHealthcheck", "disabled"]


@dataclass(frozen=True)
class FailoverRecordArgs:
    platform: Platform
    hosted_zone_id: str  # config dns.hostedZoneId
    record_name: str  # config dns.recordName: the app's public name
    failover: str  # PRIMARY on a primary stack, SECONDARY on a standby (config site.role)
    load_balancer_dns_name: pulumi.Input[str]
    load_balancer_zone_id: pulumi.Input[str]
    health_alarm: aws.cloudwatch.MetricAlarm | None  # the primary's: its state is the PRIMARY record's health


class FailoverRecord(pulumi.ComponentResource):
    """One record of the failover pair for `dns.recordName`, PRIMARY on a primary stack, SECONDARY on a standby."""

    def __init__(self, name: str, args: FailoverRecordArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:dns:FailoverRecord", name, None, opts)
        platform = args.platform
        self.failover = args.failover
        self.health_check: aws.route53.HealthCheck | None = None
        if args.health_alarm is not None:
            self.health_check = aws.route53.HealthCheck(
                f"{name}-health-check",
                type="CLOUDWATCH_METRIC",
                cloudwatch_alarm_name=args.health_alarm.name,
                cloudwatch_alarm_region=platform.region,
                insufficient_data_health_status="Unhealthy",
                invert_healthcheck=False,
                disabled=False,
                opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, ignore_changes=RUNBOOK_OWNED_FLAGS),
            )
        self.record = aws.route53.Record(
            f"{name}-record",
            zone_id=args.hosted_zone_id,
            name=args.record_name,
            type="A",
            set_identifier=platform.stack,
            failover_routing_policies=[{"type": self.failover}],
            aliases=[{
                "name": args.load_balancer_dns_name,
                "zone_id": args.load_balancer_zone_id,
                "evaluate_target_health": True,
            }],
            health_check_id=self.health_check.id if self.health_check else None,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs({"recordName": args.record_name, "failover": self.failover})
