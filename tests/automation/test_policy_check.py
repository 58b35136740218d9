"""`scraper-ops policy check` and the verdicts of `scraper-ops plan`, through the real CLI."""

from __future__ import annotations

import json

import pytest

from policies.pack import POLICIES
from tests.policies.conftest import PlanEditor, under_provider_without_default_tags
from tests.support.cli import run_cli, scraper_ops


@pytest.fixture
def saved_plan(tmp_path, prod_plan_json):
    def save(change=None, name="plan.json"):
        document = json.loads(json.dumps(prod_plan_json))
        if change:
            change(document)
        path = tmp_path / name
        path.write_text(json.dumps(document))
        return path

    return save


def inputs_of(document, name):
    return next(r for r in document["resources"] if r["name"] == name)["inputs"]


def test_the_prod_plan_passes_the_pack(capsys, saved_plan):
    code, out, _ = run_cli(capsys, "policy", "check", "--plan", str(saved_plan()), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["violations"] == []
    assert document["awsModel"]["violations"] == [] and document["awsModel"]["unmapped"] == []


def test_a_public_database_fails_the_check_with_the_rule_name(capsys, saved_plan):
    plan = saved_plan(lambda d: inputs_of(d, "database-primary").update(publiclyAccessible=True))
    code, out, err = run_cli(capsys, "policy", "check", "--plan", str(plan), "--json")
    assert code == 1
    violations = json.loads(out)["violations"]
    assert violations == [
        {
            "policy": "rds-not-public",
            "level": "mandatory",
            "urn": "urn:pulumi:prod::social-media-scraper::scraper:data:Database$aws:rds/instance:Instance::database-primary",
            "message": "RDS instance database-primary is publicly accessible; set publicly_accessible=False.",
        }
    ]
    assert "1 mandatory policy violations" in err


def test_advisory_violations_do_not_fail_the_check(capsys, prod_plan, tmp_path):
    editor = PlanEditor(prod_plan)
    under_provider_without_default_tags(editor, "messaging-scrape-jobs")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(editor.plan.to_json()))
    code, out, _ = run_cli(capsys, "policy", "check", "--plan", str(plan))
    assert code == 0
    assert "0 mandatory, 1 advisory violations" in out and "cost-allocation-tags" in out


def test_policy_config_file_tightens_thresholds(capsys, saved_plan, tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"hpa-bounds": {"minReplicasInProduction": 4}}))
    code, out, _ = run_cli(capsys, "policy", "check", "--plan", str(saved_plan()), "--policy-config", str(config), "--json")
    assert code == 1
    assert [v["policy"] for v in json.loads(out)["violations"]] == ["hpa-bounds"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ('{"project": "p", "stack": "s", "outputs": {}}', "is malformed: resources: Field required"),
        (
            '{"project": "p", "stack": "s", "outputs": {}, "resources": [{"urn": "u", "type": "t", "name": "n"}]}',
            "is malformed: resources.0.parent: Field required (and 2 more problems)",
        ),
        ('[1, 2]', "is malformed: (top level): Input should be a valid dictionary"),
    ],
)
def test_a_malformed_plan_file_exits_2_naming_what_is_wrong(capsys, tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    code, out, err = run_cli(capsys, "policy", "check", "--plan", str(path))
    assert code == 2
    assert f"plan file {path} {message}" in err
    assert out == ""


def test_a_missing_plan_file_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "policy", "check", "--plan", str(tmp_path / "absent.json"))
    assert code == 2
    assert "cannot read plan file" in err and "No such file or directory" in err


def test_plan_shows_the_verdicts(capsys, prod_plan):
    code, out, _ = run_cli(capsys, "plan", "--stack", "prod")
    evaluated = [r for r in prod_plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert code == 0
    assert f"Policy pack: {len(POLICIES)} policies over {len(evaluated)} resources: 0 mandatory, 0 advisory violations." in out


def test_plan_fails_on_a_mandatory_violation_under_a_stricter_pack_config(capsys, tmp_path):
    config = tmp_path / "strict.json"
    config.write_text(json.dumps({"hpa-targets-within-guide": {"maxMemoryTargetPercent": 75}}))
    code, out, err = run_cli(capsys, "plan", "--policy-config", str(config))
    assert code == 1
    assert "1 mandatory policy violation" in err and "hpa-targets" in out
    assert "1 mandatory policy violations" in err


def test_ci_check_end_to_end_with_the_console_script(tmp_path):
    """What CI runs: save the prod plan, check it; then a mutated plan is refused."""
    plan = tmp_path / "plan.json"
    saved = scraper_ops("plan", "--json")
    assert saved.returncode == 0, saved.stderr
    plan.write_text(saved.stdout)
    check = ("policy", "check", "--plan", str(plan))
    assert scraper_ops(*check).returncode == 0
    document = json.loads(saved.stdout)
    inputs_of(document, "storage-data-versioning")["versioningConfiguration"]["status"] = "Suspended"
    plan.write_text(json.dumps(document))
    result = scraper_ops(*check)
    assert result.returncode == 1
    assert "s3-buckets-versioned" in result.stdout


def test_each_policy_reads_its_own_copy_of_the_inputs_as_in_the_analyzer(prod_plan):
    """The analyzer hands each policy its own proxy of a resource's inputs; the evaluator builds it when a policy
    first reads `props`, still one per policy: what one policy does to it, the next never sees."""
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

    from automation.policy_check import evaluate

    plan = prod_plan.model_copy(deep=True)  # the session's plan stays as it was, whatever a policy does
    database = next(r for r in plan.resources if r.type == "aws:rds/instance:Instance")

    def rewrite(args, report):
        if args.urn == database.urn:
            args.props["instanceClass"] = "db.t3.micro"

    def read(args, report):
        if args.urn == database.urn:
            report(f"sees {args.props['instanceClass']}")

    policies = [ResourceValidationPolicy(name, f"{name} the instance class", check, EnforcementLevel.MANDATORY)
                for name, check in (("rewrite", rewrite), ("read", read))]
    [violation] = evaluate(plan, policies=policies)
    assert violation.message == f"sees {database.inputs['instanceClass']}" != "sees db.t3.micro"
