"""The staging stack (same program, same pack, smaller) and every schedule of the guide in the plan: cron strings
that fit the checklists, and a least-privilege role per job."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from croniter import croniter

from automation import dr as dr_job
from automation.cost import estimate
from automation.engine import Plan, run_program
from automation.stack_files import read_stack_file
from automation.windows import current_window, next_windows
from contract.outputs import Maintenance
from infra.components.workloads import DR_SENTINEL_PREFIX, OPS_JOBS, OUTPUTS_DIR, OUTPUTS_FILE
from infra.config import parse_stack_config
from tests.support.cli import run_cli
from tests.support.programs import REPO_ROOT, policy_statements, resource, resources_of
from tests.support.resource_types import CRONJOB
from tests.policies.conftest import violated


@pytest.fixture(scope="module")
def staging_plan() -> Plan:
    return run_program("staging", read_stack_file("staging", REPO_ROOT))


def config_of(stack: str):
    return parse_stack_config(read_stack_file(stack, REPO_ROOT))


# ---- staging: smaller, same rules ------------------------------------------------------------------------------


def test_staging_plans_passes_the_pack_and_the_aws_model_through_the_cli(capsys):
    code, out, err = run_cli(capsys, "plan", "--stack", "staging", "--json")
    document = json.loads(out)
    assert code == 0, err
    assert document["stack"] == "staging" and document["outputs"]["dbInstanceId"] == "scraper-staging"
    assert document["awsModel"]["violations"] == [] and document["awsModel"]["unmapped"] == []


def test_a_saved_staging_plan_passes_the_policy_check_as_ci_runs_it(capsys, tmp_path, staging_plan):
    saved = tmp_path / "staging-plan.json"
    saved.write_text(json.dumps(staging_plan.to_json()))
    code, out, _ = run_cli(capsys, "policy", "check", "--plan", str(saved), "--json")
    assert code == 0 and json.loads(out)["violations"] == []


def test_staging_is_smaller_than_prod_in_every_size(staging_plan, prod_plan):
    assert estimate(staging_plan)["totalMonthlyUsd"] < estimate(prod_plan)["totalMonthlyUsd"]
    staging, prod = config_of("staging"), config_of("prod")
    assert staging.autoscaling.min_replicas < prod.autoscaling.min_replicas
    assert staging.autoscaling.max_replicas < prod.autoscaling.max_replicas
    assert staging.database.allocated_storage_gb < prod.database.allocated_storage_gb
    assert staging.database.multi_az is False and prod.database.multi_az is True
    assert staging.cost.monthly_budget_usd < prod.cost.monthly_budget_usd


def test_staging_keeps_every_rule_of_prod(staging_plan, prod_plan):
    """The same resource types and the same guide thresholds: only sizes differ."""
    assert {r.type for r in staging_plan.resources} == {r.type for r in prod_plan.resources}
    staging, prod = config_of("staging"), config_of("prod")
    for group in ("slo", "maintenance", "schedules"):
        assert getattr(staging, group) == getattr(prod, group), group
    assert (staging.autoscaling.cpu_target_percent, staging.autoscaling.queue_depth_target) == (
        prod.autoscaling.cpu_target_percent, prod.autoscaling.queue_depth_target)


def test_only_the_production_only_rules_are_relaxed_and_only_through_production_stacks(staging_plan):
    as_production = {name: {"productionStacks": ["prod", "staging"]}
                     for name in ("rds-multi-az-in-production", "hpa-bounds", "k8s-pinned-images")}
    assert violated(staging_plan) == {}
    assert set(violated(staging_plan, as_production)) == {"rds-multi-az-in-production", "hpa-bounds"}


def test_production_takes_releases_from_staging_only():
    assert config_of("prod").release.promoted_from == "staging"
    assert config_of("staging").release.promoted_from is None


# ---- schedules --------------------------------------------------------------------------------------------------


def cron_jobs(plan: Plan) -> dict[str, dict]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in resources_of(plan, CRONJOB)}


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_every_job_runs_on_its_configured_schedule_in_utc(stack, prod_plan, staging_plan):
    plan = {"prod": prod_plan, "staging": staging_plan}[stack]
    config = config_of(stack)
    jobs = cron_jobs(plan)
    expected = {
        "scraper-ops-dr-test": config.schedules.dr_test,
        "scraper-ops-capacity-report": config.schedules.capacity_report,
        "scraper-ops-cost-review": config.schedules.cost_review,
        "scraper-ops-backup": config.schedules.backup,
    }
    assert {name: jobs[name]["spec"]["schedule"] for name in expected} == expected
    assert {job["spec"]["timeZone"] for job in jobs.values()} == {"Etc/UTC"}
    assert plan.outputs["cronJobs"] == {job.key: job.name for job in OPS_JOBS}


def runs(cron: str, count: int, start: datetime) -> list[datetime]:
    schedule = croniter(cron, start)
    return [schedule.get_next(datetime) for _ in range(count)]


START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("key", "report_limit_days"), [
    # the checklist that reads each report, and how old it may be (automation/checklist.py)
    ("capacity_report", 8), ("dr_test", 35), ("cost_review", 35),
])
def test_each_report_is_written_more_often_than_its_checklist_requires(key, report_limit_days):
    cron = getattr(config_of("prod").schedules, key)
    times = runs(cron, 30, START)
    longest = max(b - a for a, b in zip(times, times[1:]))
    assert longest <= timedelta(days=report_limit_days), (cron, longest)


def test_the_dr_drill_never_runs_inside_a_maintenance_window():
    config = config_of("prod")
    window = Maintenance(windowStart=config.maintenance.window_start,
                         durationMinutes=config.maintenance.duration_minutes,
                         cutoffMinutes=config.maintenance.cutoff_minutes)
    drills = runs(config.schedules.dr_test, 36, START)
    assert all(current_window(window, drill) is None for drill in drills)
    # and it ends before the next window would start: the three hours it may take are clear of every window
    windows = next_windows(window, START, 40)
    assert not any(w.start <= drill + timedelta(hours=3) and drill < w.end for drill in drills for w in windows)


def test_every_ops_job_reads_only_the_mounted_outputs_so_the_image_holds_no_stack_file(staging_plan):
    """The reports measure against the outputs' `sizing`: no job names a stack, none needs a stack file, and the
    ops image carries none (one image serves every stack)."""
    for name, job in cron_jobs(staging_plan).items():
        container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert "--stack" not in container["args"], name
        assert {"name": "SCRAPER_OPS_OUTPUTS", "value": f"{OUTPUTS_DIR}/{OUTPUTS_FILE}"} in container["env"], name
    assert staging_plan.outputs["sizing"]["requests"] == staging_plan.config.app.requests.model_dump()
    assert "Pulumi." not in (REPO_ROOT / "Dockerfile").read_text().replace("Pulumi.yaml", "")


# ---- least privilege per job ------------------------------------------------------------------------------------


def statements(plan: Plan, job: str) -> list[dict]:
    return policy_statements(plan, f"ops-jobs-{job}-policy")


def actions(plan: Plan, job: str) -> set[str]:
    return {action for s in statements(plan, job) for action in s["Action"]}


def writes_to_ops_bucket(plan: Plan, job: str) -> set[str]:
    bucket = plan.outputs["opsBucket"]
    return {r.split(":::", 1)[1].removeprefix(bucket) for s in statements(plan, job) if "s3:PutObject" in s["Action"]
            for r in s["Resource"] if r.split(":::", 1)[1].startswith(bucket)}


@pytest.mark.parametrize(("job", "prefix"), [
    ("scraper-ops-dr-test", "/dr/*"), ("scraper-ops-capacity-report", "/capacity/*"),
    ("scraper-ops-cost-review", "/cost/*"),
])
def test_each_report_job_writes_only_its_own_report_prefix(prod_plan, job, prefix):
    assert writes_to_ops_bucket(prod_plan, job) == {prefix}


def test_the_capacity_report_only_reads_metrics(prod_plan):
    # s3:PutObject and kms:GenerateDataKey: its report, into the SSE-KMS ops bucket
    assert actions(prod_plan, "scraper-ops-capacity-report") == {"cloudwatch:GetMetricData", "s3:PutObject",
                                                                   "kms:GenerateDataKey"}


def test_the_cost_review_reads_costs_and_metrics_and_nothing_else(prod_plan):
    assert actions(prod_plan, "scraper-ops-cost-review") == {
        "cloudwatch:GetMetricData", "ce:GetCostAndUsage", "ce:GetCostForecast", "s3:PutObject", "kms:GenerateDataKey"}


def test_the_dr_drill_touches_only_its_sentinel_objects_and_its_restore_instances(prod_plan):
    assert DR_SENTINEL_PREFIX == dr_job.SENTINEL_PREFIX, "the role must allow the keys the drill writes"
    objects = [s for s in statements(prod_plan, "scraper-ops-dr-test")
               if {"s3:DeleteObjectVersion", "s3:PutObject"} & set(s["Action"])]
    sentinel = [s for s in objects if "s3:DeleteObjectVersion" in s["Action"]]
    assert len(sentinel) == 1 and all(r.endswith(f"/{DR_SENTINEL_PREFIX}*") for r in sentinel[0]["Resource"])
    deletes = [s for s in statements(prod_plan, "scraper-ops-dr-test") if "rds:DeleteDBInstance" in s["Action"]]
    assert [r.rsplit(":", 1)[1] for s in deletes for r in s["Resource"]] == ["scraper-prod-restore-test-*"]
    assert not {"rds:DeleteDBSnapshot", "rds:CreateDBSnapshot", "s3:DeleteBucket"} & actions(prod_plan, "scraper-ops-dr-test")


def test_each_job_role_is_assumable_by_its_own_service_account_only(prod_plan):
    for job in OPS_JOBS:
        trust = json.loads(resource(prod_plan, "aws:iam/role:Role", f"ops-jobs-{job.name}-role").inputs["assumeRolePolicy"])
        subjects = [v for s in trust["Statement"] for k, v in s["Condition"]["StringEquals"].items() if k.endswith(":sub")]
        assert subjects == [f"system:serviceaccount:social-media-scraper:{job.name}"]



# ---- the reports land where the checklists look -----------------------------------------------------------------


def test_the_capacity_cronjob_as_planned_writes_the_report_the_weekly_checklist_reads(capsys, deployed, prod_plan,
                                                                                       tmp_path, monkeypatch):
    container = cron_jobs(prod_plan)["scraper-ops-capacity-report"]["spec"]["jobTemplate"]["spec"]["template"][
        "spec"]["containers"][0]
    monkeypatch.setenv("SCRAPER_OPS_OUTPUTS", str(deployed["file"]))  # the ConfigMap the CronJob mounts
    code, _, err = run_cli(capsys, *container["args"], "--out", str(tmp_path / "reports"))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "checklist", "weekly", "--outputs", str(deployed["file"]), "--json")
    items = {item["text"]: item for item in json.loads(out)["items"]}
    assert items["Capacity planning"]["state"] == "pass", items["Capacity planning"]
    assert items["Backup verification"]["state"] == "fail", "only the job that ran has a report"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"release": {"promotedFrom": "staging", "soakMinutes": 0}},
     "social-media-scraper:release.soakMinutes = 0: Input should be greater than or equal to 1"),
    ({"schedules": {"drTest": "0 6 8 * 0#1"}},
     "social-media-scraper:schedules.drTest = \"0 6 8 * 0#1\": must be a standard 5-field cron expression"),
])
def test_release_and_schedule_values_that_cannot_work_are_refused_naming_the_key(changes, problem):
    from infra.config import ConfigError
    from tests.support.programs import prod_config, with_changes

    with pytest.raises(ConfigError) as refused:
        parse_stack_config(with_changes(prod_config(), **changes))
    assert any(line.startswith(problem) for line in refused.value.problems), refused.value.problems
