"""The AWS-model stage: planned AWS resources as API requests, checked against botocore's models and AWS's documented rules.

The mutation corpus (tests/support/aws_model_cases.py) takes the prod plan, changes one input, and asserts that exactly
the expected rule fires on the expected resource. The baseline is the prod plan, which must be clean.
"""

from __future__ import annotations

from typing import Any

import pytest

from automation.aws_model import check_plan
from automation.engine import Plan, PlannedResource
from infra.config import ConfigError
from tests.support.aws_model_cases import (
    KEY_US_EAST_1,
    KEY_US_WEST_2,
    MUTATIONS,
    PRIMARY,
    SHAPE_CASES,
    fired,
    first_rule,
    inputs_of,
    plan_of,
)


def test_the_prod_plan_is_clean(baseline):
    report = check_plan(plan_of(baseline))
    assert report.findings == []
    assert report.resources_checked == sum(r["type"].startswith("aws:") for r in baseline["resources"])
    assert len(report.requests) >= report.resources_checked


def test_a_managed_password_on_a_replica_source_is_caught(baseline):
    """Issue 9 defect 1, the design main had: RDS refuses a replica of a source whose password it manages."""
    inputs_of(baseline, PRIMARY).update(manageMasterUserPassword=True)
    for key in ("passwordWo", "passwordWoVersion"):
        inputs_of(baseline, PRIMARY).pop(key)
    assert ("rds-managed-password-replica-source", PRIMARY) in fired(baseline)


@pytest.mark.parametrize("case, mutate, rule, resource", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_rule_fires_on_its_mutation_alone(baseline, case, mutate, rule, resource):
    mutate(baseline)
    assert fired(baseline) == {(rule, resource)}


def test_every_cross_field_rule_has_a_mutation():
    import inspect
    import re

    from automation.aws_model.rules import RULES

    source = "".join(inspect.getsource(inspect.getmodule(rule)) for rules in RULES.values() for rule in rules)
    rule_ids = set(re.findall(r'"((?:cw|rds|backup|iam|s3|sqs|kms|secrets)-[a-z0-9-]+)"', source))
    covered = {m[2] for m in MUTATIONS} | {"rds-managed-password-replica-source", "secrets-recovery-window", "secrets-replica-region"}
    assert rule_ids - covered == set()


@pytest.mark.parametrize("case, mutate, rule, member", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_botocore_model_violations(baseline, case, mutate, rule, member):
    mutate(baseline)
    findings = check_plan(plan_of(baseline)).findings
    assert (rule, member) in {(f.rule, f.member) for f in findings}
    assert all(f.rule == rule for f in findings)


def test_botocore_own_validator_misses_what_the_stage_catches():
    """botocore's ParamValidator checks only required, types and `min`: the enum and max above are the stage's own."""
    from botocore.validate import ParamValidator

    from automation.aws_model.models import request_model

    shape = request_model("cloudwatch", "PutMetricAlarm").input_shape
    params = {"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThan", "AlarmDescription": "x" * 1025}
    assert not ParamValidator().validate(params, shape).has_errors()


def test_zero_evaluation_periods_are_refused_by_config_and_caught_by_the_stage(plan_with, prod_plan):
    """Issue 9 item 2: scaleUpStabilizationSeconds 30 used to give alarms with EvaluationPeriods 0. The config
    model now refuses it; a plan that still carries 0 (built by mutation) is caught by this stage."""
    with pytest.raises(ConfigError):
        plan_with(autoscaling={"scaleUpStabilizationSeconds": 30})
    broken = prod_plan.model_copy(deep=True)
    for resource in broken.resources:
        if resource.name in ("monitoring-app-cpu-high", "monitoring-app-memory-high"):
            resource.inputs.update(evaluationPeriods=0, datapointsToAlarm=0)
    findings = [f for f in check_plan(broken).findings if f.rule == "aws-shape-range"]
    assert {(f.resource, f.member) for f in findings} >= {
        ("monitoring-app-cpu-high", "EvaluationPeriods"),
        ("monitoring-app-memory-high", "EvaluationPeriods"),
    }


def test_unknown_values_are_skipped_not_reported(baseline):
    inputs_of(baseline, "monitoring-app-cpu-high").update(period=None, evaluationPeriods=None, alarmActions=None)
    policy_resource = next(r for r in baseline["resources"] if r["name"] == "app-irsa-policy")
    policy_resource["outputs"]["name"] = None  # the generated name, unknown in a preview
    inputs_of(baseline, "storage-data-replication")["rules"][0]["destination"]["bucket"] = None
    report = check_plan(plan_of(baseline))
    assert report.findings == []
    put_role_policy = next(r for r in report.requests if r.resource == "app-irsa-policy")
    assert "PolicyName" in put_role_policy.unknown and "PolicyName" not in put_role_policy.params


def test_an_unmapped_input_key_is_reported_with_its_path(baseline):
    inputs_of(baseline, "messaging-scrape-jobs")["fifoQueueLimit"] = "x"
    first_rule(inputs_of(baseline, "backups-plan"))["lifecycle"]["bogus"] = 1
    findings = check_plan(plan_of(baseline)).findings
    assert {(f.kind, f.rule, f.resource, f.member) for f in findings} == {
        ("unmapped", "aws-unmapped-input", "messaging-scrape-jobs", "fifoQueueLimit"),
        ("unmapped", "aws-unmapped-input", "backups-plan", "rules[0].lifecycle.bogus"),
    }


def test_an_unknown_resource_type_is_reported(baseline):
    baseline["resources"].append(
        {
            "urn": "urn:pulumi:prod::social-media-scraper::aws:lambda/function:Function::fn",
            "type": "aws:lambda/function:Function", "name": "fn", "parent": None, "region": "us-east-1",
            "inputs": {"runtime": "python3.12"},
        }
    )
    findings = check_plan(plan_of(baseline)).findings
    assert [(f.kind, f.rule, f.resource) for f in findings] == [("unmapped", "aws-unmapped-type", "fn")]


def secret(inputs: dict[str, Any], type_: str = "aws:secretsmanager/secret:Secret", name: str = "db-password") -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:prod::social-media-scraper::{type_}::{name}", type=type_, name=name, parent=None,
        region="us-east-1", inputs=inputs,
        outputs={"name": "scraper-prod-db", "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:scraper-prod-db-AbCdEf"},
    )


def secrets_plan(*resources: PlannedResource) -> Plan:
    return Plan(project="social-media-scraper", stack="prod", resources=list(resources), outputs={})


def test_a_secret_with_a_dr_replica_and_its_write_only_version_translate_cleanly():
    report = check_plan(
        secrets_plan(
            secret({"name": "scraper-prod-db", "kmsKeyId": KEY_US_EAST_1, "recoveryWindowInDays": 7,
                    "replicas": [{"region": "us-west-2", "kmsKeyId": KEY_US_WEST_2}], "tags": {"Project": "x"}}),
            secret({"secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:scraper-prod-db-AbCdEf",
                    "secretStringWo": None, "secretStringWoVersion": 1},
                   "aws:secretsmanager/secretVersion:SecretVersion", "db-password-version"),
        )
    )
    assert report.findings == []
    requests = {r.operation: r for r in report.requests}
    assert requests["CreateSecret"].params["AddReplicaRegions"] == [{"Region": "us-west-2", "KmsKeyId": KEY_US_WEST_2}]
    assert requests["DeleteSecret"].params == {"RecoveryWindowInDays": 7, "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:scraper-prod-db-AbCdEf"}
    assert "SecretString" in requests["PutSecretValue"].unknown


@pytest.mark.parametrize(
    "inputs, rule",
    [
        ({"recoveryWindowInDays": 3}, "secrets-recovery-window"),
        ({"replicas": [{"region": "us-east-1"}]}, "secrets-replica-region"),
        ({"replicas": [{"region": "us-west-2", "kmsKeyId": KEY_US_EAST_1}]}, "secrets-replica-region"),
    ],
)
def test_secret_rules(inputs, rule):
    assert {f.rule for f in check_plan(secrets_plan(secret(inputs))).findings} == {rule}


def test_recovery_window_zero_is_a_forced_delete():
    report = check_plan(secrets_plan(secret({"recoveryWindowInDays": 0})))
    delete = next(r for r in report.requests if r.operation == "DeleteSecret")
    assert report.findings == [] and delete.params["ForceDeleteWithoutRecovery"] is True
