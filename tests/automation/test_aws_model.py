"""The AWS-model stage: planned AWS resources as API requests, checked against botocore's models and AWS's documented rules.

The mutation corpus takes the prod plan, changes one input, and asserts that exactly the expected rule fires on the
expected resource. The baseline is the prod plan, which must be clean.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from automation.aws_model import check_plan
from automation.engine import Plan, PlannedResource
from infra.config import ConfigError
from tests.support.cli import run_cli

PRIMARY = "database-primary"
KEY_US_EAST_1 = "arn:aws:kms:us-east-1:123456789012:key/5a622045-0b43-e4cf-a3e1-c16ae6b0d48c"
KEY_US_WEST_2 = "arn:aws:kms:us-west-2:123456789012:key/386b065e-cd08-3be5-cd47-5a4d2142f53b"


def inputs_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in document["resources"] if r["name"] == name)["inputs"]


@pytest.fixture
def baseline(prod_plan_json) -> dict[str, Any]:
    return copy.deepcopy(prod_plan_json)


def plan_of(document: dict[str, Any]) -> Plan:
    return Plan.model_validate(document)


def fired(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f.rule, f.resource) for f in check_plan(plan_of(document)).findings}


def policy(statements: list[dict[str, Any]], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": statements})


def set_in(resource_name: str, /, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda document: inputs_of(document, resource_name).update(changes)


def change_in(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda document: change(inputs_of(document, name))


def first_rule(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["rules"][0]


def replication_destination(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["rules"][0]["destination"]


def dashboard_widgets(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        body = json.loads(inputs["dashboardBody"])
        change(body["widgets"])
        inputs["dashboardBody"] = json.dumps(body)

    return apply


def error_rate_queries(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: change(inputs["metricQueries"])


MUTATIONS = [
    # CloudWatch PutMetricAlarm
    ("period-45s", set_in("monitoring-db-cpu-high", period=45), "cw-alarm-period", "monitoring-db-cpu-high"),
    ("math-period-45s", change_in("monitoring-app-cpu-high", lambda i: i["metricQueries"][0]["metric"].update(period=45)),
     "cw-alarm-period", "monitoring-app-cpu-high"),
    ("composite-names-alarm-of-other-region",
     set_in("monitoring-slo-99-9-page-14.4x-1h", alarmRule='ALARM("scraper-prod-replica-lag-high")'),
     "cw-composite-rule", "monitoring-slo-99-9-page-14.4x-1h"),
    ("composite-names-no-alarm", set_in("monitoring-slo-99-9-ticket-1x-3d", alarmRule="TRUE"),
     "cw-composite-rule", "monitoring-slo-99-9-ticket-1x-3d"),
    ("window-over-a-day", set_in("monitoring-app-cpu-high", evaluationPeriods=1441), "cw-alarm-evaluation-window", "monitoring-app-cpu-high"),
    ("window-over-7-days", set_in("monitoring-backup-stale", evaluationPeriods=169), "cw-alarm-evaluation-window", "monitoring-backup-stale"),
    ("m-above-n", set_in("monitoring-app-cpu-high", datapointsToAlarm=6), "cw-alarm-datapoints", "monitoring-app-cpu-high"),
    ("p101", set_in("monitoring-latency-p95-high", extendedStatistic="p101"), "cw-alarm-extended-statistic", "monitoring-latency-p95-high"),
    ("tm-out-of-range", set_in("monitoring-latency-p95-high", extendedStatistic="TM(5%:95%)"), "cw-alarm-extended-statistic", "monitoring-latency-p95-high"),
    ("both-statistics", set_in("monitoring-latency-p95-high", statistic="Average"), "cw-alarm-statistic", "monitoring-latency-p95-high"),
    ("math-with-metric-name", set_in("monitoring-error-rate-high", namespace="AWS/SQS"), "cw-alarm-metrics", "monitoring-error-rate-high"),
    ("two-return-data", change_in("monitoring-error-rate-high", error_rate_queries(lambda q: q[0].update(returnData=True))), "cw-alarm-metrics", "monitoring-error-rate-high"),
    ("topic-of-other-region", set_in("monitoring-app-cpu-high", alarmActions=["arn:aws:sns:us-west-2:123456789012:messaging-alerts-dr-6760e7f"]), "cw-alarm-action-arn", "monitoring-app-cpu-high"),
    ("topic-of-other-account", set_in("monitoring-app-cpu-high", okActions=["arn:aws:sns:us-east-1:210987654321:alerts"]), "cw-alarm-action-arn", "monitoring-app-cpu-high"),
    ("treat-missing-typo", set_in("monitoring-app-cpu-high", treatMissingData="notbreaching"), "cw-alarm-treat-missing-data", "monitoring-app-cpu-high"),
    # CloudWatch PutDashboard
    ("widget-width-25", change_in("monitoring-dashboard", dashboard_widgets(lambda w: w[0].update(width=25))), "cw-dashboard-body", "monitoring-dashboard"),
    ("metric-array-odd", change_in("monitoring-dashboard", dashboard_widgets(lambda w: w[0]["properties"]["metrics"][0].append("Stack"))), "cw-dashboard-body", "monitoring-dashboard"),
    ("widget-type", change_in("monitoring-dashboard", dashboard_widgets(lambda w: w[0].update(type="graph"))), "cw-dashboard-body", "monitoring-dashboard"),
    # RDS
    ("replica-source-by-name", set_in("database-replica", replicateSourceDb="scraper-prod"), "rds-replica-source-arn", "database-replica"),
    ("replica-key-of-source-region", set_in("database-replica", kmsKeyId=KEY_US_EAST_1), "rds-replica-kms-key", "database-replica"),
    ("replica-without-key", change_in("database-replica", lambda i: i.pop("kmsKeyId")), "rds-replica-kms-key", "database-replica"),
    ("password-with-slash", set_in(PRIMARY, passwordWo="not/allowed-1"), "rds-master-password", PRIMARY),
    ("password-too-short", set_in(PRIMARY, passwordWo="short1"), "rds-master-password", PRIMARY),
    ("autoscaling-ceiling", set_in(PRIMARY, maxAllocatedStorage=100), "rds-max-allocated-storage", PRIMARY),
    ("postgres-gp3-too-small", set_in(PRIMARY, allocatedStorage=10, maxAllocatedStorage=50), "rds-storage-size", PRIMARY),
    ("gp3-iops-below-400", set_in(PRIMARY, iops=12000), "rds-gp3-provisioning", PRIMARY),
    # AWS Backup
    ("cron-five-fields", change_in("backups-plan", lambda i: first_rule(i).update(schedule="cron(0 5 * * *)")), "backup-schedule-cron", "backups-plan"),
    ("cron-no-question-mark", change_in("backups-plan", lambda i: first_rule(i).update(schedule="cron(0 5 * * * *)")), "backup-schedule-cron", "backups-plan"),
    ("cron-every-15-minutes", change_in("backups-plan", lambda i: first_rule(i).update(schedule="cron(0/15 * * * ? *)")), "backup-schedule-frequency", "backups-plan"),
    ("copy-to-same-region", change_in("backups-plan", lambda i: first_rule(i)["copyActions"][0].update(destinationVaultArn="arn:aws:backup:us-east-1:123456789012:backup-vault:backups-vault-34d5fa6")), "backup-copy-destination", "backups-plan"),
    ("cold-storage-too-short", change_in("backups-plan", lambda i: first_rule(i).update(lifecycle={"coldStorageAfter": 30, "deleteAfter": 100})), "backup-cold-storage-lifecycle", "backups-plan"),
    ("start-window-30", change_in("backups-plan", lambda i: first_rule(i).update(startWindow=30)), "backup-start-window", "backups-plan"),
    # IAM
    ("policy-not-json", set_in("app-irsa-policy", policy="{not json"), "iam-policy-json", "app-irsa-policy"),
    ("policy-version-2008", set_in("app-irsa-policy", policy=policy([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], "2008-10-17")), "iam-policy-version", "app-irsa-policy"),
    ("effect-lowercase", set_in("app-irsa-policy", policy=policy([{"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}])), "iam-policy-statement", "app-irsa-policy"),
    ("resource-not-arn", set_in("app-irsa-policy", policy=policy([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "my-bucket/*"}])), "iam-policy-statement", "app-irsa-policy"),
    ("inline-policies-over-quota", set_in("app-irsa-policy", policy=policy([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(400)]}])), "iam-policy-size", "app-irsa-policy"),
    ("trust-principal-not-a-service", set_in("backups-role", assumeRolePolicy=policy([{"Effect": "Allow", "Principal": {"Service": "backup"}, "Action": "sts:AssumeRole"}])), "iam-policy-statement", "backups-role"),
    ("trust-without-principal", set_in("backups-role", assumeRolePolicy=policy([{"Effect": "Allow", "Action": "sts:AssumeRole"}])), "iam-policy-statement", "backups-role"),
    ("key-policy-action-form", set_in("keys-dr", policy=policy([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms all", "Resource": "*"}])), "iam-policy-statement", "keys-dr"),
    # S3 replication
    ("destination-by-name", change_in("storage-data-replication", lambda i: replication_destination(i).update(bucket="storage-data-replica-e0b6633")), "s3-replication-destination", "storage-data-replication"),
    ("rtc-10-minutes", change_in("storage-data-replication", lambda i: replication_destination(i)["replicationTime"]["time"].update(minutes=10)), "s3-replication-time", "storage-data-replication"),
    ("rtc-without-metrics", change_in("storage-data-replication", lambda i: replication_destination(i).pop("metrics")), "s3-replication-time", "storage-data-replication"),
    ("delete-markers-without-filter", change_in("storage-data-replication", lambda i: first_rule(i).pop("filter")), "s3-replication-schema", "storage-data-replication"),
    ("replica-key-of-source-region", change_in("storage-data-replication", lambda i: replication_destination(i)["encryptionConfiguration"].update(replicaKmsKeyId=KEY_US_EAST_1)), "s3-replication-kms-key", "storage-data-replication"),
    # SQS, SNS, KMS
    ("retention-30s", set_in("messaging-scrape-jobs", messageRetentionSeconds=30), "sqs-attribute-range", "messaging-scrape-jobs"),
    ("visibility-over-12h", set_in("messaging-scrape-jobs", visibilityTimeoutSeconds=43201), "sqs-attribute-range", "messaging-scrape-jobs"),
    ("data-key-reuse-30s", set_in("messaging-scrape-jobs", kmsDataKeyReusePeriodSeconds=30), "sqs-attribute-range", "messaging-scrape-jobs"),
    ("max-receive-count-0", set_in("messaging-scrape-jobs", redrivePolicy=json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:messaging-scrape-jobs-dlq-bc8f3f3", "maxReceiveCount": 0})), "sqs-redrive-policy", "messaging-scrape-jobs"),
    ("dlq-other-region", set_in("messaging-scrape-jobs", redrivePolicy=json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-west-2:123456789012:dlq", "maxReceiveCount": 5})), "sqs-redrive-policy", "messaging-scrape-jobs"),
    ("by-queue-without-sources", set_in("messaging-scrape-jobs-dlq-redrive-allow", redriveAllowPolicy=json.dumps({"redrivePermission": "byQueue"})), "sqs-redrive-allow-policy", "messaging-scrape-jobs-dlq-redrive-allow"),
    ("topic-key-of-other-region", set_in("messaging-alerts", kmsMasterKeyId=KEY_US_WEST_2), "kms-key-reference", "messaging-alerts"),
    ("key-deletion-5-days", set_in("keys-primary", deletionWindowInDays=5), "kms-deletion-window", "keys-primary"),
]


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
    from automation.aws_model.rules import RULES
    import inspect
    import re

    source = "".join(inspect.getsource(inspect.getmodule(rule)) for rules in RULES.values() for rule in rules)
    rule_ids = set(re.findall(r'"((?:cw|rds|backup|iam|s3|sqs|kms|secrets)-[a-z0-9-]+)"', source))
    covered = {m[2] for m in MUTATIONS} | {"rds-managed-password-replica-source", "secrets-recovery-window", "secrets-replica-region"}
    assert rule_ids - covered == set()


# Shapes from botocore's models ----------------------------------------------------------------

SHAPE_CASES = [
    ("bad-enum", set_in("monitoring-app-cpu-high", comparisonOperator="GreaterThan"), "aws-shape-enum", "ComparisonOperator"),
    ("below-minimum", set_in("monitoring-app-cpu-high", evaluationPeriods=0, datapointsToAlarm=0), "aws-shape-range", "EvaluationPeriods"),
    ("over-maximum", set_in("monitoring-app-cpu-high", alarmActions=["arn:aws:sns:us-east-1:123456789012:t"] * 6), "aws-shape-length", "AlarmActions"),
    ("missing-required", change_in("ops-jobs-scraper-ops-metrics-policy", lambda i: i.pop("role")), "aws-shape-required", "RoleName"),
    ("wrong-pattern", set_in("backups-role", name="backups role!"), "aws-shape-pattern", "RoleName"),
    ("wrong-type", set_in("monitoring-app-cpu-high", threshold="seventy"), "aws-shape-type", "Threshold"),
    ("too-long", set_in("monitoring-app-cpu-high", alarmDescription="x" * 1025), "aws-shape-length", "AlarmDescription"),
]


@pytest.mark.parametrize("case, mutate, rule, member", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_botocore_model_violations(baseline, case, mutate, rule, member):
    mutate(baseline)
    findings = check_plan(plan_of(baseline)).findings
    assert (rule, member) in {(f.rule, f.member) for f in findings}
    assert all(f.rule == rule for f in findings)


def test_botocore_own_validator_misses_what_the_stage_catches():
    """botocore's ParamValidator checks only required, types and `min`: the enum and max above are the stage's own."""
    from botocore.validate import ParamValidator

    from automation.aws_model.models import operation_model

    shape = operation_model("cloudwatch", "PutMetricAlarm").input_shape
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


# Unknowns, unmapped inputs and types ---------------------------------------------------------


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


# Secrets Manager (hand-built: the lead adds these resources) ----------------------------------


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


# CLI ------------------------------------------------------------------------------------------


def save(tmp_path, document, name="plan.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def policy_check(capsys, tmp_path, document, *options):
    return run_cli(capsys, "policy", "check", "--plan", str(save(tmp_path, document)), *options)


def test_policy_check_runs_the_stage_and_passes_a_clean_plan(capsys, tmp_path, baseline):
    code, out, _ = policy_check(capsys, tmp_path, baseline, "--json")
    assert code == 0
    stage = json.loads(out)["awsModel"]
    assert stage["violations"] == [] and stage["unmapped"] == []
    assert stage["resourcesChecked"] > 60 and stage["requestsValidated"] >= stage["resourcesChecked"]


def test_policy_check_fails_on_an_aws_model_violation_and_names_the_rule(capsys, tmp_path, baseline):
    inputs_of(baseline, "monitoring-db-cpu-high")["period"] = 45
    code, out, err = policy_check(capsys, tmp_path, baseline, "--json")
    assert code == 1
    assert json.loads(out)["violations"] == []
    [violation] = json.loads(out)["awsModel"]["violations"]
    assert violation["rule"] == "cw-alarm-period" and violation["member"] == "Period"
    assert violation["operation"] == "PutMetricAlarm" and violation["doc"].startswith("https://docs.aws.amazon.com/")
    assert "1 AWS-model violations" in err


def test_policy_check_fails_on_an_unmapped_input(capsys, tmp_path, baseline):
    inputs_of(baseline, "messaging-alerts")["archivePolicy"] = "{}"
    code, out, err = policy_check(capsys, tmp_path, baseline)
    assert code == 1
    assert "0 mandatory" in out and "aws-unmapped-input" in out and "1 unmapped" in out
    assert "cannot check" in err


def test_plan_json_carries_the_stage_and_prints_its_counts(capsys, prod_plan):
    code, out, err = run_cli(capsys, "plan", "--stack", "prod", "--json")
    stage = json.loads(out)["awsModel"]
    assert stage["resourcesChecked"] == sum(r.type.startswith("aws:") for r in prod_plan.resources)
    assert "AWS-model stage:" in err and f"{stage['resourcesChecked']} AWS resources checked" in err
    assert code == (1 if stage["violations"] or stage["unmapped"] else 0)


# The user cache of the models the stage reads (automation/aws_model/models.py) -------------------


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    """The user cache enabled in a temporary directory; `new_process()` forgets the models this process loaded, as
    a new process starts with none (also before and after the test)."""
    from types import SimpleNamespace

    from automation import user_cache
    from automation.aws_model import models

    loaded = (models.operation_model, models.service_description, models._cache_entry, models._loader)

    def new_process() -> None:
        for cached in loaded:
            cached.cache_clear()

    new_process()
    monkeypatch.setattr(user_cache, "directory", tmp_path / "cache")
    yield SimpleNamespace(directory=tmp_path / "cache", new_process=new_process)
    new_process()


def test_the_cached_models_find_what_the_whole_models_find(baseline, model_cache, monkeypatch):
    """The stage over the user cache reports exactly what it reports over botocore's whole models, and a second run
    (a new process) reads the cache only: loading any whole model fails the test."""
    from automation import user_cache
    from automation.aws_model import models

    for _, mutate, _, _ in SHAPE_CASES:
        mutate(baseline)
    findings = [f.to_json() for f in check_plan(plan_of(baseline)).findings]
    assert {f["rule"] for f in findings} == {case[2] for case in SHAPE_CASES}
    written = {p.name for p in (model_cache.directory / "aws-models").iterdir()}
    assert written >= {"cloudwatch.json", "iam.json", "s3.json"}

    model_cache.new_process()
    monkeypatch.setattr(models, "service_description", lambda service: pytest.fail(f"read the whole {service} model"))
    assert [f.to_json() for f in check_plan(plan_of(baseline)).findings] == findings

    monkeypatch.undo()  # no cache: the whole models
    assert user_cache.directory is None
    model_cache.new_process()
    assert [f.to_json() for f in check_plan(plan_of(baseline)).findings] == findings


def test_a_changed_model_file_or_botocore_version_is_read_again(tmp_path, model_cache, monkeypatch):
    """The cache key holds the size and mtime of each model file and botocore's version: a model edited in place
    (here a copy on AWS_DATA_PATH, which botocore's loader searches first) is read again, not served stale."""
    import gzip
    import os

    import botocore

    from automation.aws_model import models

    bundled = models._loader().load_service_model("cloudwatch", "service-2")
    version = models._loader().determine_latest_version("cloudwatch", "service-2")
    data_path = tmp_path / "models"
    model_file = data_path / "cloudwatch" / version / "service-2.json.gz"
    model_file.parent.mkdir(parents=True)
    monkeypatch.setenv("AWS_DATA_PATH", str(data_path))

    def install(description_max: int, mtime_ns: int) -> None:
        edited = copy.deepcopy(bundled)
        edited["shapes"]["AlarmDescription"]["max"] = description_max
        model_file.write_bytes(gzip.compress(json.dumps(edited).encode()))
        os.utime(model_file, ns=(mtime_ns, mtime_ns))

    def description_max() -> int:
        model_cache.new_process()
        shape = models.operation_model("cloudwatch", "PutMetricAlarm").input_shape.members["AlarmDescription"]
        return shape.metadata["max"]

    install(100, 1_000_000_000_000_000_000)
    assert description_max() == 100
    install(200, 2_000_000_000_000_000_000)
    assert description_max() == 200
    entry = json.loads((model_cache.directory / "aws-models" / "cloudwatch.json").read_text())
    assert [str(model_file), model_file.stat().st_size, 2_000_000_000_000_000_000] in entry["key"]["files"]

    reads = []
    whole_model = models.service_description
    monkeypatch.setattr(models, "service_description", lambda service: reads.append(service) or whole_model(service))
    assert description_max() == 200 and reads == []
    monkeypatch.setattr(botocore, "__version__", botocore.__version__ + ".other")
    assert description_max() == 200 and reads == ["cloudwatch"]
