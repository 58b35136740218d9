"""The AWS-model stage's mutation corpus: each case takes the prod plan, changes one input, and names the rule that
must fire on the resource changed (tests/automation/test_aws_model.py); the baseline is the prod plan, which must be
clean."""

from __future__ import annotations

import json
from typing import Any, Callable

from automation.aws_model import check_plan
from automation.engine import Plan

PRIMARY = "database-primary"
KEY_US_EAST_1 = "arn:aws:kms:us-east-1:123456789012:key/5a622045-0b43-e4cf-a3e1-c16ae6b0d48c"
KEY_US_WEST_2 = "arn:aws:kms:us-west-2:123456789012:key/386b065e-cd08-3be5-cd47-5a4d2142f53b"


def inputs_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in document["resources"] if r["name"] == name)["inputs"]


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


SHAPE_CASES = [
    ("bad-enum", set_in("monitoring-app-cpu-high", comparisonOperator="GreaterThan"), "aws-shape-enum", "ComparisonOperator"),
    ("below-minimum", set_in("monitoring-app-cpu-high", evaluationPeriods=0, datapointsToAlarm=0), "aws-shape-range", "EvaluationPeriods"),
    ("over-maximum", set_in("monitoring-app-cpu-high", alarmActions=["arn:aws:sns:us-east-1:123456789012:t"] * 6), "aws-shape-length", "AlarmActions"),
    ("missing-required", change_in("ops-jobs-scraper-ops-metrics-policy", lambda i: i.pop("role")), "aws-shape-required", "RoleName"),
    ("wrong-pattern", set_in("backups-role", name="backups role!"), "aws-shape-pattern", "RoleName"),
    ("wrong-type", set_in("monitoring-app-cpu-high", threshold="seventy"), "aws-shape-type", "Threshold"),
    ("too-long", set_in("monitoring-app-cpu-high", alarmDescription="x" * 1025), "aws-shape-length", "AlarmDescription"),
]
