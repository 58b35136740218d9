"""Every rule of the pack, through the offline evaluator's own path: the prod plan passes it, and a plan
with one misconfiguration fails it, with that rule alone, on the resource at fault."""

from __future__ import annotations

import json

import pytest

from automation.policy_check import load_plan
from policies.pack import POLICIES
from tests.policies.conftest import PlanEditor, under_provider_without_default_tags, violated


def container(plan: PlanEditor, name: str) -> dict:
    spec = plan.inputs(name)["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"][0]


def set_input(name: str, key: str, value):
    return lambda p: p.inputs(name).__setitem__(key, value)


def scaler_spec(p: PlanEditor) -> dict:
    return p.inputs("autoscaling-scaled-object")["spec"]


def scaler_trigger(p: PlanEditor, kind: str) -> dict:
    return next(t for t in scaler_spec(p)["triggers"] if t["type"] == kind)


def add_statement(name: str, statement: dict):
    def change(p: PlanEditor) -> None:
        document = json.loads(p.inputs(name)["policy"])
        document["Statement"].append(statement)
        p.inputs(name)["policy"] = json.dumps(document)

    return change


def trust_condition(p: PlanEditor, role: str, operator: str, subject: str) -> None:
    """Trust a role's web identity under `operator` (StringEquals, StringLike) for the subject `subject`."""
    document = json.loads(p.inputs(role)["assumeRolePolicy"])
    condition = document["Statement"][0]["Condition"]
    issuer = next(iter(condition["StringEquals"])).rsplit(":", 1)[0]
    document["Statement"][0]["Condition"] = {operator: {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}}
    p.inputs(role)["assumeRolePolicy"] = json.dumps(document)


def remove_subscriptions(*topics: str):
    """The plan of a stack config with no alarm e-mail or endpoint: the topics' subscriptions are not declared."""
    def change(p: PlanEditor) -> None:
        urns = {p.find(topic).urn for topic in topics}
        p.plan.resources = [r for r in p.plan.resources if not (
            r.type == "aws:sns/topicSubscription:TopicSubscription"
            and urns & {d for d in r.property_dependencies.get("topic", [])})]

    return change


def backup_rule(p: PlanEditor) -> dict:
    return p.inputs("backups-plan")["rules"][0]


CASES = {
    # data safety
    "rds-encrypted": (set_input("database-primary", "storageEncrypted", False), {"database-primary"}),
    "rds-deletion-protection": (set_input("database-replica", "deletionProtection", False), {"database-replica"}),
    "rds-backup-retention": (set_input("database-primary", "backupRetentionPeriod", 3), {"database-primary"}),
    "rds-multi-az-in-production": (set_input("database-primary", "multiAz", False), {"database-primary"}),
    "rds-not-public": (set_input("database-primary", "publiclyAccessible", True), {"database-primary"}),
    "rds-copy-tags-to-snapshot": (set_input("database-primary", "copyTagsToSnapshot", False), {"database-primary"}),
    "rds-final-snapshot": (set_input("database-primary", "skipFinalSnapshot", True), {"database-primary"}),
    "rds-master-password-write-only": (
        lambda p: p.inputs("database-primary").update(password="hunter2"), {"database-primary"},
    ),
    "stateful-resources-protected": (lambda p: setattr(p.find("storage-data"), "protect", False), {"storage-data"}),
    "s3-buckets-versioned": (
        set_input("storage-ops-versioning", "versioningConfiguration", {"status": "Suspended"}), {"storage-ops"},
    ),
    "s3-buckets-encrypted": (lambda p: p.remove("storage-data-replica-encryption"), {"storage-data-replica"}),
    "s3-buckets-public-access-blocked": (
        set_input("storage-data-public-access-block", "restrictPublicBuckets", False), {"storage-data"},
    ),
    "s3-data-buckets-replicated": (
        lambda p: p.inputs("storage-data-replication")["rules"][0].__setitem__("status", "Disabled"), {"storage-data"},
    ),
    # disaster recovery
    "dr-database-replica-other-region": (
        lambda p: setattr(p.find("database-replica"), "provider", p.find("database-primary").provider),
        {"database-primary"},
    ),
    "dr-backups-copied-cross-region": (lambda p: p.remove("database-backup-replication"), {"database-primary"}),
    "dr-rpo-consistent": (set_input("monitoring-replica-lag-high", "threshold", 3600), {"(stack)"}),
    # alerting
    "alarms-cover-guide": (set_input("monitoring-app-cpu-high", "threshold", 90), {"(stack)"}),
    "alarms-page-someone": (set_input("monitoring-db-cpu-high", "okActions", []), {"monitoring-db-cpu-high"}),
    "sns-topics-encrypted": (lambda p: p.drop_input("messaging-alerts", "kmsMasterKeyId"), {"messaging-alerts"}),
    "sqs-queues-encrypted": (
        lambda p: p.drop_input("messaging-scrape-jobs-dlq", "kmsMasterKeyId"), {"messaging-scrape-jobs-dlq"},
    ),
    "sqs-queues-dead-letter": (
        lambda p: p.drop_input("messaging-scrape-jobs", "redrivePolicy"),
        {"messaging-scrape-jobs", "messaging-scrape-jobs-dlq"},
    ),
    # workloads
    "k8s-resources-set": (lambda p: container(p, "app-deployment")["resources"].pop("limits"), {"app-deployment"}),
    "k8s-probes-set": (lambda p: container(p, "app-deployment").pop("readinessProbe"), {"app-deployment"}),
    "k8s-restricted-pod-security": (
        lambda p: container(p, "ops-jobs-scraper-ops-metrics")["securityContext"].__setitem__(
            "allowPrivilegeEscalation", True
        ),
        {"ops-jobs-scraper-ops-metrics"},
    ),
    "k8s-pinned-images": (
        lambda p: container(p, "app-migration").__setitem__("image", "ghcr.io/social-media-scraper/app:2.4.1"),
        {"app-migration"},
    ),
    "k8s-not-default-namespace": (lambda p: p.inputs("app-service")["metadata"].pop("namespace"), {"app-service"}),
    "k8s-no-service-account-token": (
        lambda p: p.inputs("app-deployment")["spec"]["template"]["spec"].__setitem__(
            "automountServiceAccountToken", True
        ),
        {"app-deployment"},
    ),
    # autoscaling
    "hpa-bounds": (lambda p: scaler_spec(p).__setitem__("minReplicaCount", 1), {"autoscaling-scaled-object"}),
    "hpa-targets-within-guide": (
        lambda p: scaler_trigger(p, "memory")["metadata"].__setitem__("value", "95"), {"autoscaling-scaled-object"},
    ),
    "queue-scaling-has-metric-source": (lambda p: p.remove("autoscaling-keda"), {"autoscaling-scaled-object"}),
    "pdb-allows-eviction": (lambda p: p.remove("app-pdb"), {"app-deployment"}),
    # CronJobs
    "cronjob-forbid-concurrency": (
        lambda p: p.inputs("ops-jobs-scraper-ops-backup")["spec"].__setitem__("concurrencyPolicy", "Allow"),
        {"ops-jobs-scraper-ops-backup"},
    ),
    "cronjob-deadlines": (
        lambda p: p.inputs("ops-jobs-scraper-ops-metrics")["spec"]["jobTemplate"]["spec"].pop("activeDeadlineSeconds"),
        {"ops-jobs-scraper-ops-metrics"},
    ),
    "cronjob-bounded-retries-and-history": (
        lambda p: p.inputs("ops-jobs-scraper-ops-backup")["spec"]["jobTemplate"]["spec"].__setitem__(
            "backoffLimit", 10
        ),
        {"ops-jobs-scraper-ops-backup"},
    ),
    "cronjob-valid-schedule": (
        lambda p: p.inputs("ops-jobs-scraper-ops-smoke-tests")["spec"].__setitem__("schedule", "*/5 * * *"),
        {"ops-jobs-scraper-ops-smoke-tests"},
    ),
    "ops-cronjobs-present": (lambda p: p.remove("ops-jobs-scraper-ops-backup-verify"), {"(stack)"}),
    # IAM, KMS
    "iam-no-wildcard-actions": (
        add_statement("app-irsa-policy", {"Effect": "Allow", "Action": "sqs:*", "Resource": ["arn:aws:sqs:*:*:x"]}),
        {"app-irsa-policy"},
    ),
    "iam-no-wildcard-resource-writes": (
        add_statement(
            "ops-jobs-scraper-ops-metrics-policy", {"Effect": "Allow", "Action": ["rds:DeleteDBInstance"], "Resource": "*"}
        ),
        {"ops-jobs-scraper-ops-metrics-policy"},
    ),
    "kms-key-rotation": (set_input("keys-dr", "enableKeyRotation", False), {"keys-dr"}),
    # cost (advisory)
    "cost-allocation-tags": (
        lambda p: under_provider_without_default_tags(p, "messaging-scrape-jobs"), {"messaging-scrape-jobs"},
    ),
    "scaler-paused-only-on-standby": (
        lambda p: p.inputs("autoscaling-scaled-object")["metadata"].__setitem__(
            "annotations", {"autoscaling.keda.sh/paused-replicas": "0"}),
        {"autoscaling-scaled-object"},
    ),
    "iam-web-identity-one-service-account": (
        lambda p: trust_condition(p, "ops-jobs-scraper-ops-dr-test-role", "StringLike",
                                  "system:serviceaccount:social-media-scraper:*"),
        {"ops-jobs-scraper-ops-dr-test-role"},
    ),
    "alerts-reach-someone": (remove_subscriptions("messaging-alerts"), {"messaging-alerts"}),
    "dr-public-name-fails-over": (set_input("dns-health-check", "insufficientDataHealthStatus", "LastKnownStatus"),
                                  {"dns-record"}),
}


def test_every_policy_of_the_pack_has_a_case():
    assert set(CASES) == {p.name for p in POLICIES}


def test_the_prod_plan_passes_every_policy(prod_plan):
    assert violated(prod_plan) == {}


@pytest.mark.parametrize("policy", sorted(CASES))
def test_a_misconfiguration_fails_exactly_its_rule(editor, policy):
    change, at_fault = CASES[policy]
    change(editor)
    assert violated(editor.plan) == {policy: at_fault}


MORE_FAILURES = {
    "dr-backups-copied-cross-region: copy to a vault in the same region": (
        lambda p: backup_rule(p)["copyActions"][0].__setitem__(
            "destinationVaultArn", "arn:aws:backup:us-east-1:123456789012:backup-vault:local"
        ),
        {"dr-backups-copied-cross-region": {"backups-plan"}},
    ),
    "dr-public-name-fails-over: a production stack without its failover record": (
        lambda p: p.plan.resources.remove(next(r for r in p.plan.resources if r.name == "dns-record")),
        {"dr-public-name-fails-over": {"(stack)"}},
    ),
    "dr-public-name-fails-over: an endpoint health check (insufficient data means nothing to it)": (
        set_input("dns-health-check", "type", "HTTPS"),
        {"dr-public-name-fails-over": {"dns-record"}},
    ),
    "dr-public-name-fails-over: an alias that ignores the ALB's health": (
        lambda p: p.inputs("dns-record")["aliases"][0].__setitem__("evaluateTargetHealth", False),
        {"dr-public-name-fails-over": {"dns-record"}},
    ),
    "dr-rpo-consistent: S3 replication without time control": (
        lambda p: p.inputs("storage-data-replication")["rules"][0]["destination"].pop("replicationTime"),
        {"dr-rpo-consistent": {"storage-data-replication"}},
    ),
    "dr-rpo-consistent: weekly backup plan": (
        lambda p: backup_rule(p).__setitem__("schedule", "cron(0 5 ? * SUN *)"),
        {"dr-rpo-consistent": {"backups-plan"}},
    ),
    "dr-rpo-consistent: copies deleted after 3 days": (
        lambda p: backup_rule(p)["copyActions"][0].__setitem__("lifecycle", {"deleteAfter": 3}),
        {"dr-rpo-consistent": {"backups-plan"}},
    ),
    "alarms-cover-guide: no smoke-test alarm": (
        lambda p: p.remove("monitoring-smoke-tests-failing"), {"alarms-cover-guide": {"(stack)"}},
    ),
    "alarms-cover-guide: queue depth alarm looser than 1000": (
        set_input("monitoring-queue-depth-high", "threshold", 5000),
        {"alarms-cover-guide": {"messaging-scrape-jobs"}},
    ),
    "alarms-cover-guide: scraper success alarm below the objective": (
        set_input("monitoring-scraper-success-low", "threshold", 80), {"alarms-cover-guide": {"(stack)"}},
    ),
    "alarms-page-someone: actions disabled": (
        set_input("monitoring-backup-stale", "actionsEnabled", False),
        {"alarms-page-someone": {"monitoring-backup-stale"}},
    ),
    "hpa-bounds: max not above min": (
        lambda p: scaler_spec(p).__setitem__("maxReplicaCount", 3), {"hpa-bounds": {"autoscaling-scaled-object"}},
    ),
    "hpa-targets-within-guide: queue depth target 5000": (
        lambda p: scaler_trigger(p, "aws-sqs-queue")["metadata"].__setitem__("queueLength", "5000"),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "hpa-targets-within-guide: no queue trigger": (
        lambda p: scaler_spec(p).__setitem__("triggers", scaler_spec(p)["triggers"][:2]),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "hpa-targets-within-guide: slow scale-up": (
        lambda p: scaler_spec(p)["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"].__setitem__(
            "stabilizationWindowSeconds", 900
        ),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "queue-scaling-has-metric-source: trigger names an undeclared TriggerAuthentication": (
        lambda p: p.remove("autoscaling-trigger-authentication"),
        {"queue-scaling-has-metric-source": {"autoscaling-scaled-object"}},
    ),
    "queue-scaling-has-metric-source: cpu and memory triggers without metrics-server": (
        lambda p: p.remove("autoscaling-metrics-server"),
        {"queue-scaling-has-metric-source": {"autoscaling-scaled-object"}},
    ),
    "hpa-targets-within-guide: queue depth per replica (AverageValue)": (
        lambda p: scaler_trigger(p, "aws-sqs-queue").__setitem__("metricType", "AverageValue"),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "hpa-targets-within-guide: cpu as an absolute value": (
        lambda p: scaler_trigger(p, "cpu").__setitem__("metricType", "AverageValue"),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "rds-master-password-write-only: RDS-managed password with a cross-region replica": (
        lambda p: p.inputs("database-primary").update(manageMasterUserPassword=True),
        {"rds-master-password-write-only": {"database-primary"}},
    ),
    "rds-master-password-write-only: no write-only password": (
        lambda p: p.drop_input("database-primary", "passwordWoVersion"),
        {"rds-master-password-write-only": {"database-primary"}},
    ),
    "rds-master-password-write-only: password kept in no secret": (
        lambda p: p.remove("database-master-secret-version"),
        {"rds-master-password-write-only": {"database-primary"}},
    ),
    "rds-master-password-write-only: secret not replicated where the replica is": (
        lambda p: p.drop_input("database-master-secret", "replicas"),
        {"rds-master-password-write-only": {"database-master-secret"}},
    ),
    "rds-master-password-write-only: secret without a customer key": (
        lambda p: p.drop_input("database-master-secret", "kmsKeyId"),
        {"rds-master-password-write-only": {"database-master-secret"}},
    ),
    "k8s-pinned-images: latest": (
        lambda p: container(p, "ops-jobs-scraper-ops-metrics").__setitem__("image", "ghcr.io/x/ops:latest"),
        {"k8s-pinned-images": {"ops-jobs-scraper-ops-metrics"}},
    ),
    "pdb-allows-eviction: budget that blocks every eviction": (
        lambda p: p.inputs("app-pdb")["spec"].__setitem__("maxUnavailable", 0), {"pdb-allows-eviction": {"app-pdb"}},
    ),
    "k8s-restricted-pod-security: root filesystem writable": (
        lambda p: container(p, "app-deployment")["securityContext"].__setitem__("readOnlyRootFilesystem", False),
        {"k8s-restricted-pod-security": {"app-deployment"}},
    ),
    "iam-no-wildcard-resource-writes: PutMetricData on * without a condition": (
        add_statement(
            "ops-jobs-scraper-ops-smoke-tests-policy",
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"]},
        ),
        {"iam-no-wildcard-resource-writes": {"ops-jobs-scraper-ops-smoke-tests-policy"}},
    ),
    "scaler-paused-only-on-standby: paused without a replica count": (
        lambda p: p.inputs("autoscaling-scaled-object")["metadata"].__setitem__(
            "annotations", {"autoscaling.keda.sh/paused": "true"}),
        {"scaler-paused-only-on-standby": {"autoscaling-scaled-object"}},
    ),
    "ops-cronjobs-present: no monthly DR test": (
        lambda p: p.remove("ops-jobs-scraper-ops-dr-test"), {"ops-cronjobs-present": {"(stack)"}},
    ),
    "ops-cronjobs-present: no cost review": (
        lambda p: p.remove("ops-jobs-scraper-ops-cost-review"), {"ops-cronjobs-present": {"(stack)"}},
    ),
    "iam-web-identity-one-service-account: a second service account": (
        lambda p: trust_condition(p, "ops-jobs-scraper-ops-cost-review-role", "StringEquals",
                                  ["system:serviceaccount:social-media-scraper:scraper-ops-cost-review",
                                   "system:serviceaccount:social-media-scraper:default"]),
        {"iam-web-identity-one-service-account": {"ops-jobs-scraper-ops-cost-review-role"}},
    ),
    "iam-web-identity-one-service-account: any audience": (
        lambda p: p.inputs("app-irsa-role").__setitem__("assumeRolePolicy", p.inputs("app-irsa-role")[
            "assumeRolePolicy"].replace('"sts.amazonaws.com"', '"*"')),
        {"iam-web-identity-one-service-account": {"app-irsa-role"}},
    ),
    "alerts-reach-someone: no e-mail or endpoint at all": (
        remove_subscriptions("messaging-alerts", "messaging-alerts-dr", "messaging-maintenance"),
        {"alerts-reach-someone": {"messaging-alerts", "messaging-alerts-dr"}},
    ),
    "alarms-cover-guide: CPU alarm at 70 % of the limit (140 % of the request with prod sizes)": (
        lambda p: p.inputs("monitoring-app-cpu-high").update(
            metricQueries=None, namespace="ContainerInsights", metricName="pod_cpu_utilization_over_pod_limit",
            statistic="Average", period=60,
        ),
        {"alarms-cover-guide": {"(stack)"}},
    ),
    "alarms-cover-guide: CPU metric math that scales by a wrong limit/request": (
        lambda p: p.inputs("monitoring-app-cpu-high")["metricQueries"][1].__setitem__("expression", "over_limit * 1"),
        {"alarms-cover-guide": {"(stack)"}},
    ),
    "alarms-cover-guide: scraper success alarm silent when the app stops publishing": (
        set_input("monitoring-scraper-success-low", "treatMissingData", "notBreaching"), {"alarms-cover-guide": {"(stack)"}},
    ),
    "hpa-targets-within-guide: CPU trigger on an absolute value, not percent of the request": (
        lambda p: scaler_trigger(p, "cpu").__setitem__("metricType", "AverageValue"),
        {"hpa-targets-within-guide": {"autoscaling-scaled-object"}},
    ),
    "alarms-page-someone: a burn-rate window no composite alarm notifies for": (
        lambda p: p.inputs("monitoring-slo-99-9-page-14.4x-1h").__setitem__(
            "alarmRule", 'ALARM("scraper-prod-slo-99-9-page-14.4x-1h-long")'
        ),
        {"alarms-page-someone": {"monitoring-slo-99-9-page-14.4x-1h-short"}},
    ),
    "alarms-page-someone: a composite alarm that notifies nobody": (
        set_input("monitoring-slo-99-9-ticket-1x-3d", "alarmActions", []),
        {"alarms-page-someone": {"monitoring-slo-99-9-ticket-1x-3d"}},
    ),
}


@pytest.mark.parametrize("case", sorted(MORE_FAILURES))
def test_other_misconfigurations_are_caught_too(editor, case):
    change, expected = MORE_FAILURES[case]
    change(editor)
    assert violated(editor.plan) == expected


def test_production_only_rules_do_not_apply_to_other_stacks(editor, tmp_path):
    editor.inputs("database-primary")["multiAz"] = False
    scaler_spec(editor)["minReplicaCount"] = 1
    container(editor, "app-deployment")["image"] = "ghcr.io/social-media-scraper/app:2.4.1"
    remove_subscriptions("messaging-alerts")(editor)
    assert set(violated(editor.plan)) == {"rds-multi-az-in-production", "hpa-bounds", "k8s-pinned-images",
                                          "alerts-reach-someone"}
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps(editor.plan.to_json()).replace("urn:pulumi:prod::", "urn:pulumi:dev::"))
    assert violated(load_plan(dev)) == {}


def test_a_pod_that_needs_the_api_token_can_say_so(editor):
    deployment = editor.inputs("app-deployment")
    deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    deployment["metadata"]["annotations"] = {"scraper.io/needs-api-token": "true"}
    assert violated(editor.plan) == {}


def test_read_only_actions_may_use_a_wildcard_resource(editor):
    add_statement("app-irsa-policy", {"Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"})(editor)
    assert violated(editor.plan) == {}
