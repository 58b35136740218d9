"""`scraper-ops plan`: the offline plan through the real CLI, its JSON shape and its manifests."""

from __future__ import annotations

import json
import pickle

import pytest
import yaml

from automation import engine, stack_files
from automation.errors import BadInput
from automation.plan import check_manifests, is_kubernetes_object, write_manifests
from tests.support.cli import run_cli
from tests.support.programs import REPO_ROOT, prod_config, resource, run_program, run_program_uncached, with_changes


def test_plan_json_has_the_documented_shape(capsys):
    code, out, _ = run_cli(capsys, "plan", "--stack", "prod", "--json")
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"project", "stack", "resources", "outputs", "awsModel"}
    assert (document["project"], document["stack"]) == ("social-media-scraper", "prod")
    assert document["outputs"]["dbReplicaId"] == "scraper-prod-dr"
    for entry in document["resources"]:
        assert {"urn", "type", "name", "parent", "region", "inputs"} <= set(entry)
    by_name = {(r["type"], r["name"]): r for r in document["resources"]}
    replica = by_name[("aws:rds/instance:Instance", "database-replica")]
    assert replica["region"] == "us-west-2"
    assert replica["inputs"]["replicateSourceDb"].startswith("arn:aws:rds:us-east-1:")
    deployment = by_name[("kubernetes:apps/v1:Deployment", "app-deployment")]
    assert deployment["region"] is None
    assert deployment["inputs"]["apiVersion"] == "apps/v1" and deployment["inputs"]["kind"] == "Deployment"
    assert deployment["parent"] == by_name[("scraper:k8s:App", "app")]["urn"]


def test_plan_summary_shows_components_and_key_settings(capsys):
    code, out, _ = run_cli(capsys, "plan", "--stack", "prod")
    assert code == 0
    assert "nothing deployed" in out
    assert "scraper:k8s:OpsJobs" in out and "scraper:data:Database" in out
    assert "HPA social-media-scraper-app: 3-12 replicas; targets cpu 70%, memory 80%, queue depth 1000" in out
    assert "scale-up stabilization 300 s" in out
    assert "CronJob scraper-ops-smoke-tests: '*/5 * * * *' (UTC)" in out
    assert "Database primary scraper-prod in us-east-1" in out
    assert "Database replica scraper-prod-dr in us-west-2" in out


@pytest.mark.slow  # runs the program once more (a run of its own)
def test_plans_are_deterministic():
    """A run of the program declares the session's plan again: the one the first run of the prod config made, which
    every memoized run of it returns (tests/support/programs.py). Under pytest-xdist that run may have been another
    worker's, whose string hashes are seeded differently, so an order taken from a set shows up here too."""
    assert run_program_uncached("prod", prod_config()).to_json() == run_program("prod", prod_config()).to_json()


def test_workers_share_a_configs_plan_and_never_a_config_error(tmp_path, prod_plan):
    """What makes one program run per config and session (tests/support/programs.py) under pytest-xdist: the plan a
    worker made is what the others read, and a config that fails is run, and fails, in every worker that asks."""
    from infra.config import ConfigError
    from tests.support import programs

    def refused() -> engine.Plan:
        raise ConfigError("social-media-scraper:region: not a region")

    with pytest.MonkeyPatch.context() as patch:
        programs.share_plans(patch, tmp_path / "plans")
        made = programs._shared_run("prod", lambda: prod_plan)
        read = programs._shared_run("prod", lambda: pytest.fail("a shared plan was made again"))
        for _ in range(2):
            with pytest.raises(ConfigError):
                programs._shared_run("broken", refused)
    assert made == read and pickle.loads(read).to_json() == prod_plan.to_json()
    assert len(list((tmp_path / "plans").glob("*.pickle"))) == 1, "one plan kept, none for the config error"
    assert not list((tmp_path / "plans").glob("*.partial"))


def test_each_memoized_run_is_a_plan_of_its_own_that_a_test_may_edit(prod_plan):
    """Memoized runs (tests/support/programs.py) hand out copies: a test that edits its plan changes no other's."""
    first, second = engine.run_program("prod", prod_config()), engine.run_program("prod", prod_config())
    first.resources[0].inputs["edited"] = True
    first.resources.pop()
    assert second.to_json() == prod_plan.to_json() and first.to_json() != second.to_json()


def test_manifests_are_written_one_file_each_and_valid(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "plan", "--manifests", str(tmp_path / "manifests"))
    assert code == 0
    files = sorted((tmp_path / "manifests").glob("*.yaml"))
    objects = [r for r in engine.run_program("prod", prod_config()).resources if is_kubernetes_object(r)]
    assert len(files) == len(objects), "one file per Kubernetes object of the plan (not the Helm release)"
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in files}
    assert kinds == {
        "Namespace", "ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy",
        "ScaledObject", "TriggerAuthentication", "Job", "CronJob", "ConfigMap", "Ingress",
    }
    scaler = yaml.safe_load((tmp_path / "manifests" / "scaledobject-social-media-scraper-social-media-scraper-app.yaml").read_text())
    assert list(scaler)[:3] == ["apiVersion", "kind", "metadata"]
    assert "all valid against Kubernetes 1.31 (strict)" in out


def test_an_invalid_manifest_fails_the_plan_and_nothing_is_written(prod_plan, tmp_path):
    broken = prod_plan.model_copy(deep=True)
    scaler = resource(broken, "kubernetes:keda.sh/v1alpha1:ScaledObject", "autoscaling-scaled-object")
    scaler.inputs["spec"]["maxReplica"] = 12
    scaler.inputs["spec"]["triggers"][2]["metricType"] = "Average"
    behavior = scaler.inputs["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    behavior["scaleUp"]["selectPolicy"] = 3
    checks = check_manifests(broken, "1.31")
    invalid = [c for c in checks if c.errors]
    assert [c.filename for c in invalid] == ["scaledobject-social-media-scraper-social-media-scraper-app.yaml"]
    assert set(invalid[0].errors) == {
        "spec: Additional properties are not allowed ('maxReplica' was unexpected)",
        "spec.triggers.2.metricType: 'Average' is not one of ['AverageValue', 'Value', 'Utilization']",
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.selectPolicy: 3 is not of type 'string', 'null'",
    }
    assert write_manifests(checks, tmp_path / "out") == []
    assert not (tmp_path / "out").exists()


def test_a_config_error_exits_2_names_the_problem_and_writes_nothing(capsys, tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    stack_file = tmp_path / "Pulumi.broken.yaml"
    config = with_changes(prod_config(), autoscaling={"minReplicas": 5, "maxReplicas": 2})
    stack_file.write_text(yaml.safe_dump({"config": {k: json.loads(v) if v[:1] in "{[" else v for k, v in config.items()}}))
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(tmp_path))
    code, out, err = run_cli(capsys, "plan", "--stack", "broken", "--manifests", str(tmp_path / "m"))
    assert code == 2
    assert "social-media-scraper:autoscaling.maxReplicas = 2: must be >= minReplicas (5)" in err
    assert out == ""
    assert not (tmp_path / "m").exists()


def test_an_unknown_stack_exits_2_and_lists_the_stacks(capsys):
    code, _, err = run_cli(capsys, "plan", "--stack", "qa")
    assert code == 2
    assert "no stack config Pulumi.qa.yaml in " in err and "; stacks in this project: prod, prod-dr, staging" in err


def test_a_secret_in_stack_config_is_refused_offline(tmp_path):
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  social-media-scraper:token:\n    secure: AAABAxyz\n")
    with pytest.raises(BadInput, match="social-media-scraper:token is a secret"):
        stack_files.read_stack_file("s", tmp_path)


def test_an_unexpected_invoke_is_an_error_not_an_empty_answer():
    import pulumi
    import pulumi_aws as aws

    def program(config, stack):
        provider = aws.Provider("aws-primary", region=config.region)
        zones = aws.get_availability_zones_output(opts=pulumi.InvokeOutputOptions(provider=provider))
        return {"zones": zones.names}

    with pytest.raises(Exception, match="no answer for the invoke aws:index/getAvailabilityZones"):
        engine.run_program("prod", prod_config(), program=program)


def test_keda_rules_beyond_the_schema_are_checked(prod_plan):
    """KEDA's CRD refuses a minimum above the maximum and Value on a cpu trigger; so do the offline schemas."""
    broken = prod_plan.model_copy(deep=True)
    spec = resource(broken, "kubernetes:keda.sh/v1alpha1:ScaledObject", "autoscaling-scaled-object").inputs["spec"]
    spec["minReplicaCount"] = 20
    spec["triggers"][0]["metricType"] = "Value"
    invalid = [c for c in check_manifests(broken, "1.31") if c.errors]
    assert set(invalid[0].errors) == {
        "spec: minReplicaCount 20 is above maxReplicaCount 12",
        "spec.triggers.0.metricType: cpu takes Utilization or AverageValue",
    }


def test_a_manifest_fails_with_kubernetes_validates_own_first_error(prod_plan):
    """The one-pass strict check (automation/k8s_schemas.py) reports the error `kubernetes_validate.validate` raises
    first, not the int32 overflow it also finds; the overflow alone is reported as out of range."""
    import kubernetes_validate

    broken = prod_plan.model_copy(deep=True)
    deployment = next(r for r in broken.resources if r.type == "kubernetes:apps/v1:Deployment").inputs
    deployment["spec"]["replicas"] = 2**31
    deployment["spec"]["template"]["spec"]["containers"][0]["name"] = 7
    with pytest.raises(kubernetes_validate.ValidationError) as first:
        kubernetes_validate.validate(deployment, "1.31", strict=True)
    [invalid] = [c for c in check_manifests(broken, "1.31") if c.errors]
    assert invalid.errors == (f"{'.'.join(str(p) for p in first.value.path)}: {first.value.message}",)

    deployment["spec"]["template"]["spec"]["containers"][0]["name"] = "app"
    [invalid] = [c for c in check_manifests(broken, "1.31") if c.errors]
    assert invalid.errors == ("spec.replicas: 2147483648 is out of range for int32",)


def test_manifests_are_written_as_pyyamls_safe_dump_writes_them(prod_plan):
    """The manifests are emitted with LibYAML when PyYAML has it: byte for byte what `yaml.safe_dump` writes."""
    from automation.plan import manifest_yaml

    manifests = [r.inputs for r in prod_plan.resources if is_kubernetes_object(r)]
    assert len(manifests) > 20
    for manifest in manifests:
        ordered = {**{k: manifest[k] for k in ("apiVersion", "kind", "metadata")},
                   **{k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}}
        assert manifest_yaml(manifest) == yaml.safe_dump(ordered, sort_keys=False)
