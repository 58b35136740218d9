"""The program's Kubernetes workloads as declared: KEDA scaling, the app's Deployment and migration Job, the ops
CronJobs."""

from __future__ import annotations

import json

import pytest

from automation.engine import Plan
from infra.components.workloads import APP_NAME
from tests.support.programs import prod_config, resource, resources_of
from tests.support.resource_types import (
    ALARM,
    CRONJOB,
    DEPLOYMENT,
    JOB,
    ROLE_POLICY,
    SCALED_OBJECT,
    TRIGGER_AUTH,
)


def prod_config_value(key: str):
    return json.loads(prod_config()[f"social-media-scraper:{key}"])


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


def test_the_resource_metrics_api_comes_with_the_stack(prod_plan):
    """Review of issue 9 item 4: the cpu and memory triggers need metrics.k8s.io, which EKS does not install."""
    addon = resource(prod_plan, "aws:eks/addon:Addon", "autoscaling-metrics-server")
    assert addon.inputs["addonName"] == "metrics-server" and addon.inputs["clusterName"] == "scraper-prod"
    assert addon.region == "us-east-1"
    assert addon.urn in resource(prod_plan, SCALED_OBJECT, "autoscaling-scaled-object").dependencies
