"""The alarms measure what their sources publish: CPU in percent of the request, burn rates from the ALB.

moto stores metrics and alarms but never evaluates an alarm; tests/alarm_evaluation.py reads the seeded
metrics back from moto and applies the alarm's own metric math and M-of-N rule.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from contract import metrics
from infra import signals
from infra.components.observability import CONTAINER_INSIGHTS_ADDON
from tests.alarm_evaluation import alarm_state, composite_state, dimension_list
from tests.support.moto_stack import client
from tests.support.programs import resource, resources_of

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
AT = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)


def seed(namespace: str, name: str, dimensions: dict[str, str], values_by_minute: list[float]) -> None:
    """values_by_minute[0] is the newest minute before AT, one datapoint in the middle of each minute."""
    client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": name, "Dimensions": dimension_list(dimensions),
         "Timestamp": AT - timedelta(seconds=60 * minute + 30), "Value": value}
        for minute, value in enumerate(values_by_minute)
    ])


def pod_dimensions(prod_plan) -> dict[str, str]:
    outputs = prod_plan.outputs
    return {"ClusterName": outputs["clusterName"], "Namespace": outputs["namespace"], "PodName": outputs["deploymentName"]}


@pytest.mark.parametrize("resource_name, percent_of_request, expected", [
    ("cpu", [70.5] * 5, "ALARM"),
    ("cpu", [69.0] * 5, "OK"),
    ("cpu", [70.0] * 5, "OK"),  # the HPA acts above its target, and so does the alarm
    ("cpu", [71.0] * 4 + [69.0], "OK"),  # four minutes are not five
    ("cpu", [72.0] * 5, "ALARM"),  # 36 % of the limit: the old alarm on percent of the limit stayed silent here
    ("memory", [80.5] * 5, "ALARM"),
    ("memory", [79.0] * 5, "OK"),
])
def test_utilization_alarm_fires_above_the_hpa_target_of_the_request_for_five_minutes(
    aws_env, prod_plan, resource_name, percent_of_request, expected
):
    config = prod_plan.config
    definition = signals.request_relative(config.app, resource_name)
    assert definition.factor == 2.0, "prod sizes: request 500m/512Mi, limit 1/1Gi"
    seed(signals.CONTAINER_INSIGHTS, definition.metric, pod_dimensions(prod_plan),
         [value / definition.factor for value in percent_of_request])  # what Container Insights publishes
    alarm = resource(prod_plan, ALARM, f"monitoring-app-{resource_name}-high").inputs
    assert alarm_state(client("cloudwatch"), alarm, AT) == expected


def alb_traffic(prod_plan, requests_per_minute: float, bad_per_minute: list[float]) -> None:
    dimensions = {signals.ALB_DIMENSION: prod_plan.outputs["loadBalancer"]}
    seed(signals.ALB_NAMESPACE, signals.ALB_REQUESTS, dimensions, [requests_per_minute] * len(bad_per_minute))
    seed(signals.ALB_NAMESPACE, signals.ALB_TARGET_5XX, dimensions, [b * 0.8 for b in bad_per_minute])
    seed(signals.ALB_NAMESPACE, signals.ALB_ELB_5XX, dimensions, [b * 0.2 for b in bad_per_minute])


def page_alert(prod_plan) -> tuple[str, dict[str, str]]:
    composite = resource(prod_plan, COMPOSITE, "monitoring-slo-99-9-page-14.4x-1h").inputs
    cloudwatch = client("cloudwatch")
    states = {
        alarm.inputs["name"]: alarm_state(cloudwatch, alarm.inputs, AT)
        for alarm in resources_of(prod_plan, ALARM) if alarm.inputs["name"].startswith(composite["alarmName"] + "-")
    }
    return composite_state(composite["alarmRule"], states), states


@pytest.mark.parametrize("bad_per_minute, expected", [
    ([14.5] * 60, "ALARM"),  # 1.45 % of requests bad for an hour: burn 14.5x > 14.4x
    ([14.3] * 60, "OK"),  # 1.43 %: burn 14.3x
    ([14.5] * 5 + [0.0] * 55, "OK"),  # a 5-minute spike: the short window alone does not page
    ([0.0] * 5 + [17.0] * 55, "OK"),  # over, but not any more: the short window resets the page
])
def test_fast_burn_page_needs_14_4x_over_the_hour_and_the_last_five_minutes(aws_env, prod_plan, bad_per_minute, expected):
    alb_traffic(prod_plan, 1000.0, bad_per_minute)
    assert page_alert(prod_plan)[0] == expected


@pytest.mark.parametrize("availability", [99.9, 99.5])
def test_burn_rate_thresholds_and_names_come_from_the_slo(plan_with, prod_plan, availability):
    plan = prod_plan if availability == 99.9 else plan_with(slo={"availabilityPercent": availability})
    label = f"{availability:g}".replace(".", "-")
    composites = {c.inputs["alarmName"]: c.inputs for c in resources_of(plan, COMPOSITE)}
    alarms = {a.inputs["name"]: a.inputs for a in resources_of(plan, ALARM)}
    expected = {(14.4, 3600, 300), (6.0, 6 * 3600, 1800), (1.0, 3 * 86400, 6 * 3600)}
    found = set()
    for factor, long_seconds, short_seconds in expected:
        span = {3600: "1h", 21600: "6h", 259200: "3d"}[long_seconds]
        severity = "ticket" if factor == 1.0 else "page"
        name = f"scraper-prod-slo-{label}-{severity}-{factor:g}x-{span}"
        assert composites[name]["alarmRule"] == f'ALARM("{name}-long") AND ALARM("{name}-short")'
        for part, seconds in (("long", long_seconds), ("short", short_seconds)):
            alarm = alarms[f"{name}-{part}"]
            assert alarm["threshold"] == pytest.approx(factor * (1 - availability / 100), rel=1e-9)
            assert alarm["comparisonOperator"] == "GreaterThanThreshold" and alarm["evaluationPeriods"] == 1
            assert {q["metric"]["period"] for q in alarm["metricQueries"] if "metric" in q} == {seconds}
            assert "alarmActions" not in alarm, "the composite alarm notifies for its windows"
        assert composites[name]["alarmActions"] == composites[name]["okActions"] == [plan.outputs["alertsTopicArn"]]
        found.add((factor, long_seconds, short_seconds))
    assert found == expected and set(plan.outputs["sloAlarms"].values()) == set(composites)


def test_every_alarm_names_a_metric_that_something_publishes(prod_plan):
    """Walk the plan: each metric an alarm reads comes from AWS for a resource this stack declares, from Container
    Insights that this stack installs, from an ops CronJob of this stack, or from the app's documented contract."""
    plan = prod_plan
    types = {r.type for r in plan.resources}
    addons = {r.inputs["addonName"] for r in resources_of(plan, "aws:eks/addon:Addon")}
    charts = {r.inputs["chart"] for r in resources_of(plan, "kubernetes:helm.sh/v3:Release")}
    ingresses = resources_of(plan, "kubernetes:networking.k8s.io/v1:Ingress")
    cron_jobs = {r.inputs["metadata"]["name"] for r in resources_of(plan, "kubernetes:batch/v1:CronJob")}
    aws_sources = {
        "AWS/SQS": "aws:sqs/queue:Queue" in types,
        "AWS/RDS": "aws:rds/instance:Instance" in types,
        signals.ALB_NAMESPACE: "aws-load-balancer-controller" in charts
        and any(i.inputs["spec"]["ingressClassName"] == "alb" for i in ingresses),
    }

    def source(namespace: str, name: str, dimensions: dict[str, str]) -> str | None:
        if namespace in aws_sources:
            if namespace == signals.ALB_NAMESPACE and dimensions.get(signals.ALB_DIMENSION) != plan.outputs["loadBalancer"]:
                return None
            return "AWS" if aws_sources[namespace] else None
        if namespace == signals.CONTAINER_INSIGHTS:
            return "Container Insights add-on" if CONTAINER_INSIGHTS_ADDON in addons else None
        if namespace == metrics.NAMESPACE and dimensions == {metrics.STACK_DIMENSION: plan.stack}:
            if name in metrics.OPS_JOB_METRICS:
                return "ops CronJob" if plan.outputs["cronJobs"][metrics.OPS_JOB_METRICS[name]] in cron_jobs else None
            return "app contract" if name in metrics.APP_CONTRACT else None
        return None

    checked = []
    for alarm in resources_of(plan, ALARM):
        inputs = alarm.inputs
        read = [q["metric"] for q in inputs.get("metricQueries") or [] if "metric" in q] or [inputs]
        for metric in read:
            origin = source(metric["namespace"], metric["metricName"], metric.get("dimensions") or {})
            assert origin, f"{inputs['name']} reads {metric['namespace']}/{metric['metricName']}, which nothing publishes"
            checked.append(origin)
    assert set(checked) == {"AWS", "Container Insights add-on", "ops CronJob", "app contract"}
    alarm_names = {a.inputs["name"] for a in resources_of(plan, ALARM)}
    for composite in resources_of(plan, COMPOSITE):
        named = {term.strip()[len('ALARM("'):-2] for term in composite.inputs["alarmRule"].split(" AND ")}
        assert named <= alarm_names


def test_dashboard_shows_the_slo_budget_left_and_burn_rate_beside_the_key_metrics(prod_plan):
    body = json.loads(resource(prod_plan, "aws:cloudwatch/dashboard:Dashboard", "monitoring-dashboard").inputs["dashboardBody"])
    by_title = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
    [slo] = [p for t, p in by_title.items() if t.startswith("Availability SLO 99.9%")]
    labels = {m[0]["label"] for m in slo["metrics"] if isinstance(m[0], dict)}
    assert labels == {"availability SLI", "error budget left"} and slo["period"] == 30 * 86400
    assert (slo["start"], slo["setPeriodToTimeRange"], body["periodOverride"]) == ("-P30D", True, "inherit")
    assert "/ 0.001)" in next(m[0]["expression"] for m in slo["metrics"] if isinstance(m[0], dict)
                                              and m[0]["label"] == "error budget left")
    [burn] = [p for t, p in by_title.items() if t.startswith("Error budget burn rate")]
    assert {a["value"] for a in burn["annotations"]["horizontal"]} == {14.4, 6.0, 1.0}
    [cpu] = [p for t, p in by_title.items() if "% of request" in t]
    expressions = [m[0]["expression"] for m in cpu["metrics"] if isinstance(m[0], dict)]
    assert expressions == ["cpu_limit * 2.0", "memory_limit * 2.0"]
    for metric in ("Request rate", "Error rate", "Response time", "Queue depth", "Scraper success"):
        assert any(metric in title for title in by_title), metric
