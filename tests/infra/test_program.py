"""The Pulumi program under the recording engine: the values the guide asks for, as declared."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest

from automation.engine import SECRET_PLACEHOLDER, Plan, run_program
from contract import alarms as alarm_keys
from infra.components.workloads import APP_NAME, OPS_JOBS
from tests.support.programs import prod_config, resource, resources_of

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
CRONJOB = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"
RDS = "aws:rds/instance:Instance"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

def prod_config_value(key: str):
    return json.loads(prod_config()[f"social-media-scraper:{key}"])


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


def scaled_object(plan: Plan) -> dict:
    return resource(plan, SCALED_OBJECT, "autoscaling-scaled-object").inputs


def trigger(spec: dict, type_: str) -> dict:
    return next(t for t in spec["triggers"] if t["type"] == type_)


def test_keda_scales_on_the_guides_triggers(prod_plan):
    spec = scaled_object(prod_plan)["spec"]
    queue_url = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs").outputs["url"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP_NAME}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (3, 12)
    assert [t["type"] for t in spec["triggers"]] == ["cpu", "memory", "aws-sqs-queue"]
    assert trigger(spec, "cpu") == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    assert trigger(spec, "memory") == {"type": "memory", "metricType": "Utilization", "metadata": {"value": "80"}}
    queue = trigger(spec, "aws-sqs-queue")
    assert queue["metricType"] == "Value", "the whole queue depth is compared with 1000, not a per-pod share"
    assert queue["metadata"] == {"queueURL": queue_url, "queueLength": "1000", "awsRegion": "us-east-1"}
    hpa = spec["advanced"]["horizontalPodAutoscalerConfig"]
    assert hpa["name"] == prod_plan.outputs["hpaName"] == APP_NAME
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 300
    assert not resources_of(prod_plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"), "KEDA owns the HPA"


def test_the_queue_trigger_has_its_source_in_the_stack(prod_plan):
    """Issue 9 item 4: KEDA itself, its operator's IRSA role (read the queue, nothing else) and the
    TriggerAuthentication the trigger names are all declared, and the ScaledObject waits for them."""
    release = resource(prod_plan, "kubernetes:helm.sh/v3:Release", "autoscaling-keda")
    assert release.inputs["chart"] == "keda" and release.inputs["namespace"] == "keda"
    assert release.inputs["repositoryOpts"] == {"repo": "https://kedacore.github.io/charts"}
    assert release.inputs["version"] == "2.18.3", "the KEDA release tested against Kubernetes 1.31"
    role = resource(prod_plan, "aws:iam/role:Role", "autoscaling-keda-operator-role")
    assert release.inputs["values"]["podIdentity"]["aws"]["irsa"] == {"enabled": True, "roleArn": role.outputs["arn"]}
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert list(trust["Condition"]["StringEquals"].values())[0] == "system:serviceaccount:keda:keda-operator"
    policy = json.loads(resource(prod_plan, ROLE_POLICY, "autoscaling-keda-operator-policy").inputs["policy"])
    queue_arn = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs").outputs["arn"]
    assert policy["Statement"] == [{"Effect": "Allow", "Action": ["sqs:GetQueueAttributes"], "Resource": [queue_arn]}]
    authentication = resource(prod_plan, TRIGGER_AUTH, "autoscaling-trigger-authentication").inputs
    assert authentication["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert trigger(scaled_object(prod_plan)["spec"], "aws-sqs-queue")["authenticationRef"] == {
        "name": authentication["metadata"]["name"]
    }
    scaler = resource(prod_plan, SCALED_OBJECT, "autoscaling-scaled-object")
    assert {release.urn, resource(prod_plan, TRIGGER_AUTH, "autoscaling-trigger-authentication").urn} <= set(
        scaler.dependencies
    )


@pytest.mark.parametrize(("kubernetes", "chart"), [("1.27", "2.14.2"), ("1.30", "2.17.2"), ("1.35", "2.20.2")])
def test_the_keda_release_follows_the_cluster_version(plan_with, kubernetes, chart):
    plan = plan_with(cluster={"name": "scraper-prod", "kubernetesVersion": kubernetes})
    assert resource(plan, "kubernetes:helm.sh/v3:Release", "autoscaling-keda").inputs["version"] == chart


def test_scaling_bounds_and_targets_follow_config(plan_with):
    plan = plan_with(autoscaling={"minReplicas": 4, "maxReplicas": 20, "cpuTargetPercent": 60, "queueDepthTarget": 500})
    spec = scaled_object(plan)["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (4, 20)
    assert trigger(spec, "cpu")["metadata"]["value"] == "60"
    assert trigger(spec, "aws-sqs-queue")["metadata"]["queueLength"] == "500"
    cpu_alarm = resource(plan, ALARM, "monitoring-app-cpu-high").inputs
    assert cpu_alarm["threshold"] == 60


def test_every_accepted_scale_up_window_gives_alarms_cloudwatch_accepts(plan_with):
    """Issue 9 item 2: the smallest window the config accepts still evaluates at least one period."""
    plan = plan_with(autoscaling={"scaleUpStabilizationSeconds": 60})
    for key in ("app-cpu-high", "app-memory-high"):
        alarm = resource(plan, ALARM, f"monitoring-{key}").inputs
        [measured] = [q for q in alarm["metricQueries"] if "metric" in q]
        assert alarm["evaluationPeriods"] == 1 and measured["metric"]["period"] == 60


def assert_restricted(pod_spec: dict) -> None:
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod_spec["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert "@sha256:" in container["image"] and container["imagePullPolicy"] == "IfNotPresent"


def test_app_deployment_is_hardened_probed_and_waits_for_migrations(prod_plan):
    deployment = resource(prod_plan, DEPLOYMENT, "app-deployment")
    spec = deployment.inputs["spec"]
    assert deployment.inputs["metadata"] == {
        "name": APP_NAME,
        "namespace": "social-media-scraper",
        "labels": {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/part-of": "social-media-scraper"},
    }
    assert "replicas" not in spec, "the HPA KEDA derives owns the replica count"
    pod = spec["template"]["spec"]
    assert_restricted(pod)
    container = pod["containers"][0]
    assert container["image"] == prod_config_value("app")["image"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    migration = resource(prod_plan, JOB, "app-migration")
    assert migration.urn in deployment.dependencies
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_migration_job_is_named_by_what_it_runs(prod_plan, plan_with):
    """Issue 9 item 6: a Job's template is immutable, so a change of anything it runs is a new Job (a new name,
    created before the old one goes); an unchanged spec keeps its name and never re-runs."""
    job = resource(prod_plan, JOB, "app-migration").inputs
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["./scripts/migrate.sh", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert_restricted(job["spec"]["template"]["spec"])
    name = job["metadata"]["name"]
    assert resource(plan_with(), JOB, "app-migration").inputs["metadata"]["name"] == name
    newer_image = f"ghcr.io/social-media-scraper/app:2.5.0@sha256:{'b' * 64}"
    newer = resource(plan_with(app={"image": newer_image}), JOB, "app-migration").inputs
    assert newer["spec"]["template"]["spec"]["containers"][0]["image"] == newer_image
    resized = resource(plan_with(app={"requests": {"cpu": "250m", "memory": "512Mi"}}), JOB, "app-migration").inputs
    other_command = resource(plan_with(app={"migrateCommand": ["alembic", "upgrade", "head"]}), JOB, "app-migration")
    names = {name, newer["metadata"]["name"], resized["metadata"]["name"], other_command.inputs["metadata"]["name"]}
    assert len(names) == 4


def test_pdb_and_network_policy_cover_the_app(prod_plan):
    pdb = resource(prod_plan, "kubernetes:policy/v1:PodDisruptionBudget", "app-pdb").inputs["spec"]
    deployment = resource(prod_plan, DEPLOYMENT, "app-deployment").inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"] == deployment["selector"]
    policy = resource(prod_plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "app-network-policy").inputs["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 5000}]}]
    namespace = resource(prod_plan, "kubernetes:core/v1:Namespace", "app-namespace").inputs["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(
    ("job", "schedule", "args"),
    [
        ("scraper-ops-backup", "0 3 * * *", ["backup", "create", "--reason", "scheduled"]),
        ("scraper-ops-backup-verify", "0 5 * * 1", ["backup", "verify", "--restore-test"]),
        ("scraper-ops-smoke-tests", "*/5 * * * *", ["smoke", "all"]),
        ("scraper-ops-metrics", "0 * * * *", ["metrics", "collect", "--hours", "24"]),
    ],
)
def test_ops_cron_jobs_run_scraper_ops_safely(prod_plan, job, schedule, args):
    cron = resource(prod_plan, CRONJOB, f"ops-jobs-{job}").inputs["spec"]
    assert cron["schedule"] == schedule
    assert cron["timeZone"] == "Etc/UTC"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    assert 1 <= cron["successfulJobsHistoryLimit"] <= 5 and 1 <= cron["failedJobsHistoryLimit"] <= 5
    job_spec = cron["jobTemplate"]["spec"]
    assert job_spec["activeDeadlineSeconds"] > 0 and job_spec["backoffLimit"] <= 2
    pod = job_spec["template"]["spec"]
    assert_restricted(pod)
    assert pod["serviceAccountName"] == job
    container = pod["containers"][0]
    assert container["image"] == prod_config()["social-media-scraper:opsImage"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["command"] == ["scraper-ops"] and container["args"] == args
    assert {"name": "SCRAPER_OPS_OUTPUTS", "value": "/etc/scraper-ops/outputs.json"} in container["env"]
    assert {"name": "outputs", "mountPath": "/etc/scraper-ops", "readOnly": True} in container["volumeMounts"]
    assert {"name": "outputs", "configMap": {"name": "scraper-ops-outputs"}} in pod["volumes"]
    account = resource(prod_plan, "kubernetes:core/v1:ServiceAccount", f"ops-jobs-{job}-service-account").inputs
    role = resource(prod_plan, "aws:iam/role:Role", f"ops-jobs-{job}-role")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = trust["Condition"]["StringEquals"]
    assert f"system:serviceaccount:social-media-scraper:{job}" in conditions.values()


def test_cron_schedules_follow_config(plan_with):
    plan = plan_with(schedules={"backup": "30 1 * * *"})
    assert resource(plan, CRONJOB, "ops-jobs-scraper-ops-backup").inputs["spec"]["schedule"] == "30 1 * * *"


def policy_statements(plan: Plan, name: str) -> list[dict]:
    return json.loads(resource(plan, ROLE_POLICY, name).inputs["policy"])["Statement"]


def test_iam_policies_grant_no_wildcard_actions_and_no_wildcard_writes(prod_plan):
    unscoped = {"cloudwatch:PutMetricData"}
    reads = ("Describe", "List", "Get")
    policies = resources_of(prod_plan, ROLE_POLICY)
    roles = resources_of(prod_plan, "aws:iam/role:Role")
    managed = resources_of(prod_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert {p.inputs["role"] for p in policies} | {m.inputs["role"] for m in managed} == {r.outputs["name"] for r in roles}
    for policy in policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in action for action in actions), (policy.name, actions)
            if "*" in statement["Resource"]:
                assert all(a in unscoped or a.split(":", 1)[1].startswith(reads) for a in actions), (policy.name, actions)
            if "cloudwatch:PutMetricData" in actions:
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "SocialMediaScraper"}}


def test_smoke_job_may_only_publish_metrics(prod_plan):
    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-smoke-tests-policy")
    assert [s["Action"] for s in statements] == [["cloudwatch:PutMetricData"]]


def test_restore_test_may_only_delete_its_own_temporary_instances(prod_plan):
    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-backup-verify-policy")
    deleting = [s for s in statements if "rds:DeleteDBInstance" in s["Action"]]
    assert deleting[0]["Resource"] == ["arn:aws:rds:us-west-2:123456789012:db:scraper-prod-restore-test-*"]


def test_backup_job_may_delete_only_its_own_snapshots_and_read_only_maintenance_records(prod_plan):
    from automation.backup import CREATED_BY

    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-backup-policy")
    deleting = [s for s in statements if "rds:DeleteDBSnapshot" in s["Action"]]
    assert len(deleting) == 1 and deleting[0]["Action"] == ["rds:DeleteDBSnapshot"]
    assert deleting[0]["Resource"] == ["arn:aws:rds:us-east-1:123456789012:snapshot:scraper-prod-*",
                                       "arn:aws:rds:us-west-2:123456789012:snapshot:scraper-prod-*"]
    assert deleting[0]["Condition"] == {"StringEquals": {"rds:snapshot-tag/created-by": CREATED_BY}}
    ops_bucket = prod_plan.outputs["opsBucket"]
    reading = {action: s for s in statements for action in s["Action"] if action.startswith("s3:") and action != "s3:PutObject"}
    assert set(reading) == {"s3:ListBucket", "s3:GetObject"}
    assert reading["s3:ListBucket"]["Resource"] == [f"arn:aws:s3:::{ops_bucket}"]
    assert reading["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["maintenance/*"]}}
    assert reading["s3:GetObject"]["Resource"] == [f"arn:aws:s3:::{ops_bucket}/maintenance/*"]


def test_snapshot_retention_is_exported_for_the_in_cluster_job(prod_plan):
    assert prod_plan.outputs["snapshotRetention"] == {"manualRetentionDays": 35, "keepNewest": 7}


def test_database_is_encrypted_protected_multi_az_and_private(prod_plan):
    primary = resource(prod_plan, RDS, "database-primary")
    key = resource(prod_plan, "aws:kms/key:Key", "keys-primary")
    inputs = primary.inputs
    assert primary.region == "us-east-1" and primary.protect
    assert inputs["engine"] == "postgres"
    assert inputs["engineVersion"] == "16" and inputs["autoMinorVersionUpgrade"] is True, (
        "the major only: RDS moves the minor, and a pinned minor would read as drift (issue 9 item 7)"
    )
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert key.inputs["enableKeyRotation"] is True
    assert inputs["deletionProtection"] is True and inputs["multiAz"] is True
    assert inputs["backupRetentionPeriod"] == 14
    assert inputs["publiclyAccessible"] is False
    assert "manageMasterUserPassword" not in inputs and "password" not in inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["copyTagsToSnapshot"] is True
    assert inputs["skipFinalSnapshot"] is False


def test_replica_and_backup_copies_live_in_the_dr_region_under_the_dr_key(prod_plan):
    replica = resource(prod_plan, RDS, "database-replica")
    primary = resource(prod_plan, RDS, "database-primary")
    assert replica.region == "us-west-2" and replica.protect
    assert replica.inputs["replicateSourceDb"] == f"arn:aws:rds:us-east-1:123456789012:db:{primary.inputs['identifier']}"
    assert replica.inputs["kmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    assert replica.inputs["publiclyAccessible"] is False
    replication = resource(
        prod_plan, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "database-backup-replication",
    )
    assert replication.region == "us-west-2"
    assert replication.inputs["kmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    plan = resource(prod_plan, "aws:backup/plan:Plan", "backups-plan").inputs["rules"][0]
    dr_vault = resource(prod_plan, "aws:backup/vault:Vault", "backups-dr-vault")
    assert dr_vault.region == "us-west-2" and dr_vault.protect
    assert plan["copyActions"][0]["destinationVaultArn"].startswith("arn:aws:backup:us-west-2:")
    assert plan["schedule"] == "cron(0 5 * * ? *)"
    selection = resource(prod_plan, "aws:backup/selection:Selection", "backups-selection").inputs
    assert selection["resources"] == ["arn:aws:rds:us-east-1:123456789012:db:scraper-prod"]


def test_data_bucket_is_versioned_encrypted_private_and_replicated(prod_plan):
    buckets = {r.name: r for r in resources_of(prod_plan, "aws:s3/bucket:Bucket")}
    assert set(buckets) == {"storage-data", "storage-data-replica", "storage-ops"}
    assert all(b.protect for b in buckets.values())
    assert buckets["storage-data-replica"].region == "us-west-2"
    for name in buckets:
        assert resource(prod_plan, "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning").inputs[
            "versioningConfiguration"
        ] == {"status": "Enabled"}
        rule = resource(
            prod_plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption",
        ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert rule["sseAlgorithm"] == "aws:kms"
        block = resource(prod_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access-block")
        assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    replication = resource(prod_plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "storage-data-replication")
    destination = replication.inputs["rules"][0]["destination"]
    assert destination["bucket"] == f"arn:aws:s3:::{prod_plan.outputs['dataReplicaBucket']}"
    assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}


def test_queue_has_a_dead_letter_queue_and_everything_is_encrypted(prod_plan):
    queue = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs").inputs
    dlq = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs-dlq").inputs
    redrive = json.loads(queue["redrivePolicy"])
    dlq_name = prod_plan.outputs["deadLetterQueueUrl"].rsplit("/", 1)[1]
    assert redrive == {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:123456789012:{dlq_name}", "maxReceiveCount": 5}
    assert queue["kmsMasterKeyId"] and dlq["kmsMasterKeyId"]
    for topic in resources_of(prod_plan, "aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:{topic.region}:")
    subscriptions = resources_of(prod_plan, "aws:sns/topicSubscription:TopicSubscription")
    assert {(s.region, s.inputs["endpoint"]) for s in subscriptions} == {
        ("us-east-1", "sre-oncall@example.com"),
        ("us-west-2", "sre-oncall@example.com"),
    }


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


def test_lock_table_expires_locks_and_is_protected(prod_plan):
    table = resource(prod_plan, "aws:dynamodb/table:Table", "ops-lock-table")
    assert table.protect
    assert table.inputs["hashKey"] == "lockId"
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}


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


def test_master_password_is_write_only_in_a_replicated_stack_secret(prod_plan):
    """Issue 9 item 1: RDS cannot create a read replica of a source whose master password it manages, so the
    stack owns the secret. The secret version is the one source: the instance reads its password back from it,
    so a retried create or a replaced instance gets the stored value, never a fresh one."""
    primary = resource(prod_plan, RDS, "database-primary")
    replica = resource(prod_plan, RDS, "database-replica")
    assert replica.inputs["replicateSourceDb"] == primary.outputs["arn"]
    assert primary.inputs["passwordWo"] == SECRET_PLACEHOLDER, "a Pulumi secret, never a plain value"
    assert primary.inputs["passwordWoVersion"] == 1
    assert "passwordWo" not in primary.outputs, "write-only: sent, never stored"
    secret = resource(prod_plan, "aws:secretsmanager/secret:Secret", "database-master-secret")
    assert secret.protect and secret.region == "us-east-1"
    assert secret.inputs["kmsKeyId"] == resource(prod_plan, "aws:kms/key:Key", "keys-primary").outputs["arn"]
    assert secret.inputs["replicas"] == [
        {"region": "us-west-2", "kmsKeyId": resource(prod_plan, "aws:kms/key:Key", "keys-dr").outputs["arn"]}
    ]
    version = resource(prod_plan, "aws:secretsmanager/secretVersion:SecretVersion", "database-master-secret-version")
    assert version.inputs["secretStringWo"] == SECRET_PLACEHOLDER and version.inputs["secretStringWoVersion"] == 1
    assert primary.urn not in version.dependencies, "the secret holds no host: it serves the DR replica too"
    assert version.urn in primary.property_dependencies["passwordWo"] and version.urn in primary.dependencies
    assert prod_plan.outputs["dbSecretArn"] == secret.outputs["arn"]
    app_policy = json.loads(resource(prod_plan, ROLE_POLICY, "app-irsa-policy").inputs["policy"])
    readers = [s for s in app_policy["Statement"] if s["Action"] == ["secretsmanager:GetSecretValue"]]
    dr_copy = secret.outputs["arn"].replace(":us-east-1:", ":us-west-2:")
    assert readers == [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret.outputs["arn"], dr_copy]}
    ]
    deployment = resource(prod_plan, DEPLOYMENT, "app-deployment").inputs["spec"]["template"]["spec"]
    env = {e["name"]: e for e in deployment["containers"][0]["env"]}
    assert env["DATABASE_SECRET_ARN"]["value"] == secret.outputs["arn"]
    assert version.urn in resource(prod_plan, JOB, "app-migration").dependencies, "pods start once it holds a value"
    plan_text = json.dumps(prod_plan.to_json())
    assert "Offline0" not in plan_text, "the generated password never enters a plan"


def test_rotating_the_password_bumps_both_write_only_versions(plan_with):
    plan = plan_with(database={"masterPasswordVersion": 2})
    assert resource(plan, RDS, "database-primary").inputs["passwordWoVersion"] == 2
    version = resource(plan, "aws:secretsmanager/secretVersion:SecretVersion", "database-master-secret-version")
    assert version.inputs["secretStringWoVersion"] == 2


def test_irsa_roles_trust_the_registered_oidc_provider(prod_plan):
    """Issue 9 item 3: the trust names the provider the account really has, looked up from the cluster's issuer."""
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/"
    for role in resources_of(prod_plan, "aws:iam/role:Role"):
        statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        federated = statement["Principal"]["Federated"]
        assert federated.startswith(f"arn:aws:iam::123456789012:oidc-provider/{issuer}")
        provider_host = federated.split("oidc-provider/", 1)[1]
        assert set(statement["Condition"]["StringEquals"]) == {f"{provider_host}:sub", f"{provider_host}:aud"}


NOT_REGISTERED = "finding IAM OIDC Provider by url ({url}): couldn't find resource"


def test_an_unregistered_oidc_provider_fails_naming_the_fix():
    with pytest.raises(Exception) as failure:
        run_program("prod", prod_config(), oidc_lookup_failure=NOT_REGISTERED)
    message = str(failure.value)
    assert "is not registered as an IAM OIDC provider" in message
    assert "eksctl utils associate-iam-oidc-provider --cluster scraper-prod --approve" in message


def test_a_failed_oidc_lookup_that_is_not_a_missing_provider_is_not_reported_as_one():
    with pytest.raises(Exception) as failure:
        run_program("prod", prod_config(), oidc_lookup_failure="reading IAM OIDC Providers: AccessDenied: not authorized")
    assert "AccessDenied" in str(failure.value)
    assert "is not registered" not in str(failure.value)


def test_the_resource_metrics_api_comes_with_the_stack(prod_plan):
    """Review of issue 9 item 4: the cpu and memory triggers need metrics.k8s.io, which EKS does not install."""
    addon = resource(prod_plan, "aws:eks/addon:Addon", "autoscaling-metrics-server")
    assert addon.inputs["addonName"] == "metrics-server" and addon.inputs["clusterName"] == "scraper-prod"
    assert addon.region == "us-east-1"
    assert addon.urn in resource(prod_plan, SCALED_OBJECT, "autoscaling-scaled-object").dependencies


def test_cloudwatch_may_use_the_keys_only_for_this_stacks_alarms(prod_plan):
    """Issue 9 item 8: alarms publish to SSE-KMS topics only if CloudWatch may use the key; scoped by account and
    alarm ARN against the confused deputy."""
    for key_name, region in (("keys-primary", "us-east-1"), ("keys-dr", "us-west-2")):
        policy = json.loads(resource(prod_plan, "aws:kms/key:Key", key_name).inputs["policy"])
        statement = next(s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:123456789012:alarm:scraper-prod-*"},
        }
    alarm_names = prod_plan.outputs["alarms"].values()
    assert all(name.startswith("scraper-prod-") for name in alarm_names)
