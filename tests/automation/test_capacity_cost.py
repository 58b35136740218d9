"""Capacity reports and cost reviews on seeded data with known answers, and the cost estimate of plans."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
from botocore.stub import Stubber

from automation import cost as cost_job
from automation.aws import Aws
from automation.cost.explorer import forecast_rest, month_start
from tests.support.cli import run_cli, scraper_ops
from tests.support.moto_stack import client
from tests.support.programs import REPO_ROOT

DAYS = 30


def put_series(metric, namespace, dimensions, values_at, region="us-east-1"):
    """Hourly datapoints over the last 30 days; values_at(hours since the first point) gives each value."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first = now - timedelta(days=DAYS) + timedelta(hours=1)
    data = [{"MetricName": metric, "Dimensions": dimensions, "Timestamp": first + timedelta(hours=h),
             "Value": values_at(h)} for h in range(DAYS * 24 - 1)]
    cloudwatch = client("cloudwatch", region)
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + 500])


@pytest.fixture
def project(tmp_path, monkeypatch):
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def usage(deployed):
    """Pod CPU grows 1 point of the request a day from 20 % (50 % now): 20 days to the 70 % target.
    Free storage shrinks 1 GiB a day to 30 GiB now: 20 days to the 10 GiB alarm. 24 h at 12 pods, 3 h of queue > 1000."""
    outputs = deployed["outputs"]
    pods = [{"Name": "ClusterName", "Value": "scraper-prod"}, {"Name": "Namespace", "Value": "social-media-scraper"},
            {"Name": "PodName", "Value": "social-media-scraper-app"}]
    put_series("pod_cpu_utilization_over_pod_limit", "ContainerInsights", pods, lambda h: 10 + 0.5 * h / 24)
    put_series("pod_memory_utilization_over_pod_limit", "ContainerInsights", pods, lambda h: 30.0)
    put_series("service_number_of_running_pods", "ContainerInsights",
               [pods[0], pods[1], {"Name": "Service", "Value": "social-media-scraper-app"}],
               lambda h: 12.0 if h >= DAYS * 24 - 25 else 3.0)
    queue = outputs["queueUrl"].rsplit("/", 1)[1]
    put_series("ApproximateNumberOfMessagesVisible", "AWS/SQS", [{"Name": "QueueName", "Value": queue}],
               lambda h: 1500.0 if h in (100, 101, 102) else 200.0)
    put_series("FreeStorageSpace", "AWS/RDS", [{"Name": "DBInstanceIdentifier", "Value": "scraper-prod"}],
               lambda h: (60 - h / 24) * 1024**3)
    return deployed


def test_capacity_report_gives_the_known_answers_in_every_format(capsys, usage, project):
    out = project / "reports"
    code, stdout, err = run_cli(capsys, "capacity", "report", "--stack", "prod", "--days", "30", "--outputs",
                                str(usage["file"]), "--out", str(out))
    assert code == 0, stdout + err
    document = json.loads(next(out.glob("capacity-*.json")).read_text())
    cpu = document["metrics"]["pod_cpu"]
    assert cpu["threshold"] == 70
    assert cpu["slope_per_day"] == pytest.approx(1.0, abs=0.01)
    assert cpu["days_to_threshold"] == pytest.approx(20.0, abs=0.1)
    assert cpu["max"] == pytest.approx(50.0, abs=0.1) and cpu["p50"] == pytest.approx(35.0, abs=0.2)
    storage = document["metrics"]["db_free_storage"]
    assert storage["days_to_threshold"] == pytest.approx(20.0, abs=0.1)
    assert document["metrics"]["pod_memory"]["p95"] == pytest.approx(60.0)
    assert document["hpa"]["hoursAtMaxReplicas"] == 24
    assert document["scalingTriggers"]["queue depth > 1000"]["hours"] == 3
    assert document["scalingTriggers"]["cpu > 70%"]["hours"] == 0
    assert document["getMetricDataCalls"] == 1
    recommended = document["rightsizing"]["recommended"]
    assert recommended["requests"]["memory"] == "384Mi"  # p95 60 % of 512Mi = 307.2Mi, +15 % = 353.3Mi, up to 32Mi steps
    assert recommended["maxReplicas"] == 18  # time at the maximum: 1.5 x the peak of 12
    html = next(out.glob("capacity-*.html")).read_text()
    assert html.count("data:image/png;base64,") == 5, "a chart for each metric with data"
    markdown = next(out.glob("capacity-*.md")).read_text()
    assert "| Pod CPU | % of request |" in markdown and len(list(out.glob("capacity-*.png"))) == 5
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=usage["outputs"]["opsBucket"], Prefix="capacity/")["Contents"]]
    assert sorted({k.rsplit(".", 1)[1] for k in keys}) == ["html", "json", "md", "png"]
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert linked and {f"capacity/{name}" for name in linked} <= set(keys), "the Markdown's chart links resolve beside it"


def test_capacity_report_through_the_console_script(usage, project, aws_env):
    result = scraper_ops("capacity", "report", "--stack", "prod", "--format", "json", "--outputs", str(usage["file"]),
                         "--out", str(project / "r"), env={**aws_env, "SCRAPER_OPS_PROJECT_DIR": str(project)})
    assert result.returncode == 0, result.stderr
    assert "GetMetricData calls: 1" in result.stdout
    assert not list((project / "r").glob("*.png")), "no charts for JSON only"


def test_a_critical_capacity_finding_exits_1_after_writing_the_report(capsys, deployed, project):
    """Free storage falls 2 GiB a day to 16 GiB now: the 10 GiB alarm in 3 days, under the 7-day critical level."""
    put_series("FreeStorageSpace", "AWS/RDS", [{"Name": "DBInstanceIdentifier", "Value": "scraper-prod"}],
               lambda h: (76 - 2 * (h + 1) / 24) * 1024**3)
    out = project / "reports"
    code, stdout, err = run_cli(capsys, "capacity", "report", "--stack", "prod", "--format", "md", "--outputs",
                                str(deployed["file"]), "--out", str(out))
    assert code == 1
    assert re.fullmatch(r"scraper-ops: capacity critical: Database free storage falls to 10 GiB around "
                        r"\d{4}-\d{2}-\d{2} \(in 3 days\)", err.strip()), err
    assert stdout.startswith("Verdict: CRITICAL\n  CRITICAL Database free storage falls to 10 GiB")
    markdown = next(out.glob("capacity-*.md")).read_text()
    assert "## Verdict: CRITICAL" in markdown and "No data in the window for" in markdown


def month(offset: int) -> tuple[str, str]:
    today = date.today()
    first = month_start(today, offset)
    following = month_start(today, offset - 1) if offset else today + timedelta(days=1)
    return first.isoformat(), following.isoformat()


def queue_costs(moto_endpoint: str):
    """Cost Explorer answers: by service (3 full months and this one), then by the cost tags, two a request."""
    services = [
        {"Amazon Relational Database Service": 600, "Amazon Elastic Kubernetes Service": 300, "Amazon S3": 50},
        {"Amazon Relational Database Service": 700, "Amazon Elastic Kubernetes Service": 300, "Amazon S3": 60},
        {"Amazon Relational Database Service": 800, "Amazon Elastic Kubernetes Service": 250, "Amazon S3": 70},
        {"Amazon Relational Database Service": 500, "Amazon Elastic Kubernetes Service": 200, "Amazon S3": 40},
    ]

    def result(groups_by_month):
        return {"ResultsByTime": [
            {"TimePeriod": {"Start": month(3 - i)[0], "End": month(3 - i)[1]}, "Estimated": i == 3,
             "Total": {}, "Groups": [{"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
                                     for key, v in groups.items()]}
            for i, groups in enumerate(groups_by_month)]}

    def result_of_groups(groups_by_month):
        return {"ResultsByTime": [
            {"TimePeriod": {"Start": month(3 - i)[0], "End": month(3 - i)[1]}, "Estimated": i == 3, "Total": {},
             "Groups": [{"Keys": list(keys), "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
                        for keys, v in groups.items()]}
            for i, groups in enumerate(groups_by_month)]}

    pair = result_of_groups([{("CostCenter$data-platform", "Environment$prod"): sum(g.values())} for g in services])
    project = result_of_groups([{("Project$social-media-scraper",): sum(g.values())} for g in services])
    payload = {"results": [result(services), pair, project]}
    assert requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json=payload, timeout=10).status_code == 201


def put_scrapes(successes_per_day: float):
    start = datetime.fromisoformat(month(1)[0]).replace(tzinfo=timezone.utc)
    days = (datetime.fromisoformat(month(1)[1]) - datetime.fromisoformat(month(1)[0])).days
    client("cloudwatch").put_metric_data(Namespace="SocialMediaScraper", MetricData=[
        {"MetricName": "ScrapeSuccesses", "Dimensions": [{"Name": "Stack", "Value": "prod"}],
         "Timestamp": start + timedelta(days=d, hours=12), "Value": successes_per_day} for d in range(days)])
    return days


def with_sizing(usage, directory, **changes) -> str:
    """The deployed outputs with other `sizing` values, as a stack updated with other config would export them."""
    outputs = json.loads(usage["file"].read_text())
    outputs["sizing"].update(changes)
    path = directory / "outputs-resized.json"
    path.write_text(json.dumps(outputs))
    return str(path)


def test_cost_review_month_over_month_movers_and_cost_per_scrape(capsys, usage, project, moto_endpoint):
    outputs_file = with_sizing(usage, project, dbInstanceClass="db.r6g.xlarge")
    put_series("CPUUtilization", "AWS/RDS", [{"Name": "DBInstanceIdentifier", "Value": "scraper-prod"}], lambda h: 12.0)
    queue_costs(moto_endpoint)
    days = put_scrapes(10000.0)
    out = project / "reports"
    code, stdout, err = run_cli(capsys, "cost", "review", "--months", "3", "--outputs", outputs_file, "--out", str(out))
    assert code == 0, stdout + err
    document = json.loads(next(out.glob("cost-*.json")).read_text())
    last_full, previous = month(1)[0][:7], month(2)[0][:7]
    assert document["totals"][last_full] == 1120.0 and document["totals"][previous] == 1060.0
    assert document["topMovers"][0] == {"service": "Amazon Relational Database Service", "from": 700.0, "to": 800.0,
                                        "change": 100.0, "percent": 14.3}
    assert document["topMovers"][1]["service"] == "Amazon Elastic Kubernetes Service" and document["topMovers"][1]["change"] == -50.0
    assert document["byTag"]["CostCenter"][last_full] == {"data-platform": 1120.0}
    assert document["costPer1000SuccessfulScrapes"][last_full] == pytest.approx(1120 / (days * 10), rel=1e-3)
    assert document["forecastUsd"] is None and document["forecastNote"].startswith("forecast unavailable")
    assert document["overBudget"] == [] and document["monthlyBudgetUsd"] == 3000
    # Rightsized requests free a share of the node group's nodes; the idle database moves one size down.
    assert document["savings"][0]["resource"] == "app pods (requests)" and document["savings"][0]["monthlySavingUsd"] > 0
    assert document["savings"][1] == {"resource": "database (db.r6g.xlarge, p95 CPU 12%)", "from": "db.r6g.xlarge",
                                      "to": "db.r6g.large", "monthlySavingUsd": 328.5}  # (0.45 - 0.225) x 730 x 2 (multi-AZ)
    assert "data:image/png;base64," in next(out.glob("cost-*.html")).read_text()


def test_cost_review_over_budget_exits_1(capsys, usage, project, moto_endpoint):
    queue_costs(moto_endpoint)
    code, _, err = run_cli(capsys, "cost", "review", "--format", "json", "--outputs",
                           with_sizing(usage, project, monthlyBudgetUsd=1100), "--out", str(project / "r"))
    assert code == 1
    assert f"over budget: {month(1)[0][:7]} cost 1,120.00 USD" in err


def test_the_forecast_comes_from_cost_explorer(usage):
    aws = Aws("us-east-1", "us-west-2")
    ce = aws.client("ce")
    stub = Stubber(ce)
    stub.add_response("get_cost_forecast", {"Total": {"Amount": "1234.5", "Unit": "USD"}, "ForecastResultsByTime": []})
    with stub:
        rest, note = forecast_rest(ce, date(2026, 11, 28), {"Project": "social-media-scraper"})
    assert rest == 1234.5 and note.startswith("month to date plus Cost Explorer's forecast")


def test_rightsized_pods_save_their_share_of_the_nodes(project):
    rightsizing = {"current": {"requests": {"cpu": "1", "memory": "2Gi"}},
                   "recommended": {"requests": {"cpu": "250m", "memory": "512Mi"}},
                   "cpuCoresSavedPerPod": 0.75, "memoryGiBSavedPerPod": 1.5}
    savings = cost_job.savings_from_capacity(rightsizing, 3, "us-east-1", None, "db.r6g.large", 2, "m6i.large")
    # 0.75 of an m6i.large's 2 vCPU (more than 1.5 of its 8 GiB) per pod: 3 pods x 730 h x 0.375 x 0.096 USD/h
    assert savings == [{"resource": "app pods (requests)", "from": {"cpu": "1", "memory": "2Gi"},
                        "to": {"cpu": "250m", "memory": "512Mi"}, "monthlySavingUsd": 78.84}]
    nothing_saved = {**rightsizing, "cpuCoresSavedPerPod": 0.0, "memoryGiBSavedPerPod": 0.0}
    assert cost_job.savings_from_capacity(nothing_saved, 3, "us-east-1", None, "db.r6g.large", 2, "m6i.large") == []
    unknown_node = cost_job.savings_from_capacity(rightsizing, 3, "us-east-1", None, "db.r6g.large", 2, "x9.huge")
    assert unknown_node == []


@pytest.mark.slow  # plans prod with a second image (a run of its own)
def test_the_estimate_prices_the_prod_plan_and_diffs_two_plans(capsys, project, tmp_path):
    code, out, _ = run_cli(capsys, "plan", "--json")
    before = tmp_path / "before.json"
    before.write_text(out)
    code, out, _ = run_cli(capsys, "cost", "estimate", "--stack", "prod", "--json")
    estimate = json.loads(out)["estimate"]
    lines = {line["name"]: line for line in estimate["resources"]}
    assert lines["database-primary"]["monthlyUsd"] == 351.5  # 2 x 0.225 x 730 + 2 x 100 GB x 0.115
    assert lines["database-master-secret"]["monthlyUsd"] == 0.8  # the secret and its DR-region replica, 0.40 each
    assert lines["database-replica"]["monthlyUsd"] == 175.75  # 0.225 x 730 + 100 GB x 0.115
    # 3 pods x 730 h x their share of an m6i.large node (0.5 of its 2 vCPU > 0.5 of its 8 GiB) x 0.096 USD/h
    assert lines["app-deployment"]["monthlyUsd"] == 52.56
    assert "m6i.large nodes (managed node group)" in lines["app-deployment"]["basis"]
    assert estimate["byComponent"]["database"] == 528.05
    assert estimate["prices"]["date"] == "2026-11-01"
    text = (project / "Pulumi.prod.yaml").read_text().replace("instanceClass: db.r6g.large", "instanceClass: db.r6g.xlarge", 1)
    (project / "Pulumi.prod.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "cost", "estimate", "--stack", "prod", "--against", str(before), "--json")
    diff = json.loads(out)["diff"]
    assert diff["changeUsd"] == 328.5
    assert [(c["name"], c["changeUsd"]) for c in diff["changes"]] == [("database-primary", 328.5)]


def test_the_reports_need_only_the_outputs_and_refuse_outputs_without_sizing(capsys, deployed, tmp_path):
    """In the cluster the reports read the mounted outputs alone; outputs of a stack updated before `sizing` was
    exported are refused in one line, with what to do, and nothing is written."""
    outputs = json.loads(deployed["file"].read_text())
    del outputs["sizing"]
    old = tmp_path / "old-outputs.json"
    old.write_text(json.dumps(outputs))
    for command in (("capacity", "report"), ("cost", "review")):
        code, out, err = run_cli(capsys, *command, "--outputs", str(old), "--out", str(tmp_path / "reports"))
        assert code == 2 and out == ""
        assert err.strip().splitlines() == [f"scraper-ops: the outputs of stack prod have no `sizing` (a stack updated "
                                            "before the reports read it from the outputs): run `pulumi up` on the "
                                            "stack, then try again"]
    assert not (tmp_path / "reports").exists()
