"""The warm standby (`Pulumi.prod-dr.yaml`, site.role standby): the same program in prod's DR region, with no
database of its own, its app paused at zero replicas, held to production rules, and wired to what prod declares."""

from __future__ import annotations

import pytest

from automation import aws_model
from automation.engine import run_program
from automation.stack_files import read_stack_file
from infra.config import ConfigError, parse_stack_config
from tests.support.programs import REPO_ROOT, policy_statements, prod_config, resource, resources_of, with_changes
from tests.policies.conftest import PlanEditor, violated

PAUSED = "autoscaling.keda.sh/paused-replicas"


def standby_config() -> dict[str, str]:
    return read_stack_file("prod-dr", REPO_ROOT)


def scaled_object(plan) -> dict:
    return resource(plan, "kubernetes:keda.sh/v1alpha1:ScaledObject", "autoscaling-scaled-object").inputs


def test_the_standby_declares_no_database_and_waits_at_zero_replicas(standby_plan, prod_plan):
    assert resources_of(standby_plan, "aws:rds/instance:Instance") == []
    assert resources_of(standby_plan, "aws:secretsmanager/secret:Secret") == []
    assert scaled_object(standby_plan)["metadata"]["annotations"] == {PAUSED: "0"}
    assert "annotations" not in scaled_object(prod_plan)["metadata"]
    # Paused, not shrunk: the scaler keeps prod's bounds for the day it serves.
    assert scaled_object(standby_plan)["spec"]["minReplicaCount"] == scaled_object(prod_plan)["spec"]["minReplicaCount"]
    assert standby_plan.outputs["site"] == {"role": "standby", "serving": False, "primaryStack": "prod"}
    assert standby_plan.outputs["dbReplicaId"] is None


def test_the_standby_is_wired_to_what_prod_declares(standby_plan, prod_plan):
    """Regions swapped; its database is prod's replica; its app reads prod's secret replicated into its region;
    its "DR" network is prod's database network, where `dr failback` builds the new replica."""
    prod, standby = prod_plan.outputs, standby_plan.outputs
    assert (standby["region"], standby["drRegion"]) == (prod["drRegion"], prod["region"])
    assert standby["dbInstanceId"] == prod["dbReplicaId"]
    secret = resource(prod_plan, "aws:secretsmanager/secret:Secret", "database-master-secret").inputs
    assert standby["dbSecretArn"].split(":secret:")[1].startswith(secret["name"] + "-")
    assert ":us-west-2:" in standby["dbSecretArn"]
    prod_db = parse_stack_config(prod_config()).database
    assert standby["drSubnetGroupName"] == prod_db.subnet_group_name
    assert standby["drSecurityGroupIds"] == list(prod_db.security_group_ids)
    app_env = {e["name"]: e.get("value") for e in
               resource(standby_plan, "kubernetes:apps/v1:Deployment", "app-deployment").inputs["spec"]["template"]
               ["spec"]["containers"][0]["env"]}
    assert app_env["DATABASE_HOST"].startswith(prod["dbReplicaId"] + ".")


def test_the_standby_app_may_read_the_replicated_secret(standby_plan):
    """Secrets Manager encrypts the secret's replica with the key the primary named for this region (prod's DR
    key, alias/scraper-prod-dr): the standby's app needs kms:Decrypt on it besides its own stack's key."""
    statements = policy_statements(standby_plan, "app-irsa-policy")
    own_key = resource(standby_plan, "aws:kms/key:Key", "keys-primary").outputs["arn"]
    decrypting = [arn for s in statements if "kms:Decrypt" in s["Action"] for arn in s["Resource"]]
    [secret_key] = {arn for arn in decrypting if arn != own_key}  # also the data bucket's key: standby_storage tests
    assert secret_key.startswith("arn:aws:kms:us-west-2:") and own_key in decrypting


def test_the_standby_watches_the_lag_of_the_replica_it_will_take_over(standby_plan):
    alarm = resource(standby_plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-replica-lag-high")
    assert alarm.inputs["dimensions"] == {"DBInstanceIdentifier": standby_plan.outputs["dbInstanceId"]}
    assert alarm.region == "us-west-2"


def test_the_standby_passes_the_pack_under_production_rules_and_the_aws_model_stage(standby_plan):
    assert violated(standby_plan) == {}
    report = aws_model.check_plan(standby_plan)
    assert report.violations == [] and report.unmapped == []
    shrunk = PlanEditor(standby_plan)
    shrunk.inputs("autoscaling-scaled-object")["spec"]["minReplicaCount"] = 1
    assert violated(shrunk.plan) == {"hpa-bounds": {"autoscaling-scaled-object"}}, "production rules apply to it"


def smoke(plan) -> tuple[dict, dict]:
    job = resource(plan, "kubernetes:batch/v1:CronJob", "ops-jobs-scraper-ops-smoke-tests").inputs["spec"]
    alarm = resource(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring-smoke-tests-failing").inputs
    return job, alarm


def test_standing_by_pages_nobody_for_the_missing_smoke_heartbeat(standby_plan, prod_plan):
    job, alarm = smoke(standby_plan)
    assert job["suspend"] is True and alarm["treatMissingData"] == "notBreaching"
    job, alarm = smoke(prod_plan)
    assert "suspend" not in job and alarm["treatMissingData"] == "breaching"
    unpaused = PlanEditor(standby_plan)
    unpaused.inputs("autoscaling-scaled-object")["metadata"].pop("annotations")
    assert violated(unpaused.plan) == {"alarms-cover-guide": {"(stack)"}}, "a serving app's silence is an outage"


@pytest.mark.slow  # plans the standby failed over (a run of its own)
def test_a_failover_unpauses_the_app_and_its_smoke_tests():
    plan = run_program("prod-dr", with_changes(standby_config(), site={"serving": True}))
    assert "annotations" not in scaled_object(plan)["metadata"]
    job, alarm = smoke(plan)
    assert "suspend" not in job and alarm["treatMissingData"] == "breaching"
    assert violated(plan) == {}


def problems(**changes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(with_changes(standby_config(), **changes))
    return caught.value.problems


def test_site_settings_that_cannot_work_are_refused_with_the_key():
    assert problems(site={"databaseInstanceId": None}) == [
        "social-media-scraper:site.databaseInstanceId = null: required with role standby: the stack and the "
        "replica the standby takes over"]
    assert problems(site={"role": "primary", "serving": True}) == [
        'social-media-scraper:site.primaryStack = "prod": only for role standby; a primary owns its database',
        'social-media-scraper:site.databaseInstanceId = "scraper-prod-dr": only for role standby; a primary owns '
        "its database",
        'social-media-scraper:site.dataBucket = "storage-data-replica-0000000": only for role standby; a primary '
        "owns its data bucket"]
    primary = with_changes(prod_config(), site={"serving": False})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(primary)
    assert caught.value.problems == [
        "social-media-scraper:site.serving = false: a primary stack always serves; only role standby waits with "
        "serving false"]
    assert problems(site={"databaseInstanceId": "Scraper_Prod"})[0].startswith(
        'social-media-scraper:site.databaseInstanceId = "Scraper_Prod": must be lowercase letters')


def test_the_prod_stack_is_a_primary_by_default(prod_plan):
    assert parse_stack_config(prod_config()).site.role == "primary"
    assert prod_plan.outputs["site"] == {"role": "primary", "serving": True, "primaryStack": None}
