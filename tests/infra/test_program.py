"""The Pulumi program under the recording engine: the values the guide asks for, as declared; here the
outputs, alarms and dashboard, cost tags and the component tree (workloads, IAM and data in the test_program_*
modules beside this one)."""

from __future__ import annotations

import importlib
import inspect
import json

from automation.engine import Plan
from contract import alarms as alarm_keys
from tests.support.programs import resource, resources_of
from tests.support.resource_types import (
    ALARM,
    RDS,
)


def by_urn(plan: Plan):
    return {r.urn: r for r in plan.resources}


def test_outputs_follow_the_contract(prod_plan):
    """Which outputs exist is tests/infra/test_contract.py's; here, what the prod stack puts in them."""
    outputs = prod_plan.outputs
    assert outputs["region"] == "us-east-1" and outputs["drRegion"] == "us-west-2"
    assert outputs["deploymentName"] == outputs["hpaName"] == "social-media-scraper-app"
    assert outputs["namespace"] == "social-media-scraper"
    assert outputs["cronJobs"] == {
        "backup": "scraper-ops-backup",
        "backupVerify": "scraper-ops-backup-verify",
        "smokeTests": "scraper-ops-smoke-tests",
        "metrics": "scraper-ops-metrics",
        "drTest": "scraper-ops-dr-test",
        "capacityReport": "scraper-ops-capacity-report",
        "costReview": "scraper-ops-cost-review",
    }
    assert outputs["drKmsKeyArn"].startswith("arn:aws:kms:us-west-2:")
    assert outputs["queueUrl"].startswith("https://sqs.us-east-1.amazonaws.com/")
    alarm_names = {r.inputs["name"] for r in resources_of(prod_plan, ALARM)}
    burn_windows = {n for n in alarm_names if n.endswith(("-long", "-short"))}
    assert set(outputs["alarms"].values()) == alarm_names - burn_windows
    assert set(outputs["alarms"]) == set(alarm_keys.ALL) and len(outputs["alarms"]) == len(EXPECTED_ALARMS)
    assert all(name.endswith(key) for key, name in outputs["alarms"].items())
    composites = resources_of(prod_plan, "aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert set(outputs["sloAlarms"].values()) == {c.inputs["alarmName"] for c in composites}
    assert outputs["loadBalancer"].startswith("app/scraper-prod/")


def test_the_outputs_configmap_holds_the_same_outputs(prod_plan):
    config_map = resource(prod_plan, "kubernetes:core/v1:ConfigMap", "ops-jobs-outputs")
    assert json.loads(config_map.inputs["data"]["outputs.json"]) == prod_plan.outputs


EXPECTED_ALARMS = {
    "app-cpu-high": ("GreaterThanThreshold", 70, "notBreaching"),
    "app-memory-high": ("GreaterThanThreshold", 80, "notBreaching"),
    "queue-depth-high": ("GreaterThanThreshold", 1000, "notBreaching"),
    "dead-letter-messages": ("GreaterThanThreshold", 0, "notBreaching"),
    "error-rate-high": ("GreaterThanThreshold", 5, "notBreaching"),
    "latency-p95-high": ("GreaterThanThreshold", 2, "notBreaching"),
    "scraper-success-low": ("LessThanThreshold", 95, "breaching"),
    "smoke-tests-failing": ("LessThanThreshold", 1, "breaching"),
    "backup-stale": ("GreaterThanThreshold", 26, "breaching"),
    "replica-lag-high": ("GreaterThanThreshold", 900, "breaching"),
    "db-cpu-high": ("GreaterThanThreshold", 80, "notBreaching"),
    "db-free-storage-low": ("LessThanThreshold", 10 * 1024**3, "notBreaching"),
}


def test_every_trigger_and_objective_has_an_alarm_that_pages(prod_plan):
    topic_arns = {
        "us-east-1": prod_plan.outputs["alertsTopicArn"],
        "us-west-2": resource(prod_plan, "aws:sns/topic:Topic", "messaging-alerts-dr").outputs["arn"],
    }
    for key, (comparison, threshold, missing) in EXPECTED_ALARMS.items():
        alarm = resource(prod_plan, ALARM, f"monitoring-{key}")
        inputs = alarm.inputs
        assert inputs["name"] == f"scraper-prod-{key}"
        assert (inputs["comparisonOperator"], inputs["threshold"], inputs["treatMissingData"]) == (
            comparison, threshold, missing,
        ), key
        assert inputs["alarmActions"] == [topic_arns[alarm.region]] == inputs["okActions"], key
    assert resource(prod_plan, ALARM, "monitoring-replica-lag-high").region == "us-west-2"
    cpu = resource(prod_plan, ALARM, "monitoring-app-cpu-high").inputs
    [measured] = [q for q in cpu["metricQueries"] if "metric" in q]
    assert measured["metric"]["period"] * cpu["evaluationPeriods"] == 300, "CPU > 70 % for 5 minutes"
    assert resource(prod_plan, ALARM, "monitoring-latency-p95-high").inputs["extendedStatistic"] == "p95"
    success = resource(prod_plan, ALARM, "monitoring-scraper-success-low").inputs["metricQueries"]
    assert [q["id"] for q in success if q.get("returnData")] == ["percent"]


def test_dashboard_shows_the_guides_key_metrics(prod_plan):
    body = json.loads(resource(prod_plan, "aws:cloudwatch/dashboard:Dashboard", "monitoring-dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for metric in ("Request rate", "Error rate", "Response time", "CPU and memory", "Queue depth", "Scraper success"):
        assert any(metric in title for title in titles), metric


def _takes_tags(type_token: str) -> bool:
    """Whether the pulumi-aws resource class of a type token has a `tags` argument."""
    module_path, class_name = type_token.split(":")[1].split("/")[0], type_token.rsplit(":", 1)[1]
    module = importlib.import_module(f"pulumi_aws.{module_path}")
    return "tags" in inspect.signature(getattr(module, class_name)._internal_init).parameters


def _default_tags(plan, provider_urn: str | None) -> dict:
    """The tags a resource gets from its provider: the AWS provider's `defaultTags.tags` (sent as JSON text)."""
    provider = next((r for r in plan.resources if r.urn == provider_urn), None)
    default_tags = (provider.inputs.get("defaultTags") if provider else None) or "{}"
    return json.loads(default_tags).get("tags", {}) if isinstance(default_tags, str) else default_tags.get("tags", {})


def test_every_aws_resource_that_takes_tags_carries_the_cost_tags(prod_plan):
    """Through its provider's default tags (infra/providers.py), merged with any tags of its own."""
    taggable = [r for r in prod_plan.resources if r.custom and r.type.startswith("aws:") and _takes_tags(r.type)]
    assert len(taggable) > 20
    for r in taggable:
        tags = {**_default_tags(prod_plan, r.provider), **(r.inputs.get("tags") or {})}
        assert tags == prod_plan.outputs["costTags"], r.name


def test_both_aws_providers_tag_with_the_cost_tags_and_recovery_points_too(prod_plan):
    """Default tags reach only a resource's own `tags`: the backup plan's recovery points get them explicitly."""
    providers = [r for r in prod_plan.resources if r.type == "pulumi:providers:aws"]
    assert {r.name for r in providers} == {"aws-primary", "aws-dr"}
    for provider in providers:
        assert _default_tags(prod_plan, provider.urn) == prod_plan.outputs["costTags"], provider.name
    plan = next(r for r in prod_plan.resources if r.type == "aws:backup/plan:Plan")
    assert [rule["recoveryPointTags"] for rule in plan.inputs["rules"]] == [prod_plan.outputs["costTags"]]


def test_every_resource_belongs_to_a_component_and_stateful_ones_are_protected(prod_plan):
    index = by_urn(prod_plan)
    stateful = {RDS, "aws:s3/bucket:Bucket", "aws:backup/vault:Vault", "aws:kms/key:Key", "aws:dynamodb/table:Table"}
    for r in prod_plan.resources:
        if r.type.startswith("pulumi:providers:"):
            continue
        parent = index.get(r.parent or "")
        if r.custom:
            assert parent is not None and parent.type.startswith("scraper:"), r.name
        else:
            assert r.type.startswith("scraper:") and r.type.count(":") == 2
        if r.type in stateful:
            assert r.protect, r.name
    providers = {r.name: r.region for r in prod_plan.resources if r.type == "pulumi:providers:aws"}
    assert providers == {"aws-primary": "us-east-1", "aws-dr": "us-west-2"}
