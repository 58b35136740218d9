"""`scraper-ops metrics collect`: seeded CloudWatch data with known answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from automation import metrics as metrics_job
from automation.aws import Aws
from automation.outputs import parse_outputs
from tests.support.cli import run_cli, scraper_ops
from tests.support.moto_stack import client


def put(metric: str, values: list[float], namespace: str = "SocialMediaScraper", dimensions=None, region="us-east-1"):
    when = datetime.now(timezone.utc) - timedelta(minutes=10)
    dimensions = dimensions or [{"Name": "Stack", "Value": "prod"}]
    cloudwatch = client("cloudwatch", region)
    for start in range(0, len(values), 150):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": metric, "Dimensions": dimensions, "Value": v, "Timestamp": when} for v in values[start:start + 150]
        ])


def alb(deployed) -> list[dict[str, str]]:
    return [{"Name": "LoadBalancer", "Value": deployed["outputs"]["loadBalancer"]}]


def seed_traffic(deployed, successes: int = 194, bad: float = 0.5):
    """1000 requests at the ALB in the last hour, `bad` of them 5xx (80 % from the targets, 20 % from the ALB)."""
    put("RequestCount", [250.0] * 4, "AWS/ApplicationELB", alb(deployed))
    put("HTTPCode_Target_5XX_Count", [bad * 0.8], "AWS/ApplicationELB", alb(deployed))
    put("HTTPCode_ELB_5XX_Count", [bad * 0.2], "AWS/ApplicationELB", alb(deployed))
    put("TargetResponseTime", [i / 100 for i in range(1, 101)], "AWS/ApplicationELB", alb(deployed))
    put("ScrapeAttempts", [100.0, 100.0])
    put("ScrapeSuccesses", [successes / 2, successes / 2])
    put("JobsCompleted", [90.0])
    put("JobsFailed", [10.0])
    put("SmokeTestSuccess", [1.0] * 999 + [0.0])
    queue = deployed["outputs"]["queueUrl"].rsplit("/", 1)[1]
    put("ApproximateNumberOfMessagesVisible", [120.0, 340.0], "AWS/SQS", [{"Name": "QueueName", "Value": queue}])
    client("rds").create_db_snapshot(DBSnapshotIdentifier="scraper-prod-20261128-030000", DBInstanceIdentifier="scraper-prod")


def test_collect_reports_the_guides_metrics_and_kpis(capsys, deployed, tmp_path):
    seed_traffic(deployed)
    code, out, _ = run_cli(capsys, "metrics", "collect", "--hours", "1", "--outputs", str(deployed["file"]),
                           "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["uptime"] == 99.9
    assert report["error_rate"] == pytest.approx(0.05)
    assert report["scraper_success_rate"] == 97.0
    assert (report["response_time_p50"], report["response_time_p95"], report["response_time_p99"]) == (0.5, 0.95, 0.99)
    assert report["request_rate_per_second"] == 1000 / 3600
    assert report["job_completion_rate"] == 90.0
    assert report["queue_depth"] == 340.0
    assert report["dead_letter_depth"] is None
    assert report["backup_age_hours"] < 0.1
    assert all(o["met"] for o in report["objectives"].values())
    # 0.05 % bad of a 0.1 % budget: half the budget spent in the 30 days, burning at 0.5x in the window
    assert report["slo"]["availabilityPercent"] == pytest.approx(99.95)
    assert report["slo"]["errorBudgetRemainingPercent"] == pytest.approx(50.0)
    assert report["slo"]["burnRate"] == pytest.approx(0.5)
    # moto has no DescribeAlarmHistory: the report says so instead of claiming zero incidents
    assert report["incidents"]["count"] is None and "DescribeAlarmHistory failed" in report["incidents"]["error"]
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    local = json.loads((tmp_path / f"operational-metrics-{today}.json").read_text())
    assert local["timestamp"] == report["timestamp"] and local["ok"] is True
    body = client("s3").get_object(Bucket=deployed["outputs"]["opsBucket"], Key=f"metrics/operational-metrics-{today}.json")
    assert json.loads(body["Body"].read())["scraper_success_rate"] == 97.0


def test_collect_publishes_the_backup_age_heartbeat(capsys, deployed, tmp_path):
    seed_traffic(deployed)
    assert run_cli(capsys, "metrics", "collect", "--outputs", str(deployed["file"]), "--out", str(tmp_path))[0] == 0
    metrics = client("cloudwatch").list_metrics(Namespace="SocialMediaScraper", MetricName="BackupAgeHours")["Metrics"]
    assert metrics and metrics[0]["Dimensions"] == [{"Name": "Stack", "Value": "prod"}]


def test_a_missed_objective_exits_1_and_names_it(capsys, deployed, tmp_path):
    seed_traffic(deployed, successes=180)
    code, out, err = run_cli(capsys, "metrics", "collect", "--outputs", str(deployed["file"]), "--out", str(tmp_path), "--json")
    assert code == 1
    assert json.loads(out)["objectives"]["scraper_success_rate"] == {"target": 95.0, "value": 90.0, "met": False}
    assert "objectives missed: scraper_success_rate 90.000 (target 95)" in err


def test_no_smoke_data_means_unknown_uptime_and_fails(capsys, deployed, tmp_path):
    client("rds").create_db_snapshot(DBSnapshotIdentifier="scraper-prod-20261128-030000", DBInstanceIdentifier="scraper-prod")
    code, out, err = run_cli(capsys, "metrics", "collect", "--outputs", str(deployed["file"]), "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 1
    assert report["uptime"] is None and report["error_rate"] is None
    assert "uptime no data" in err


def test_metrics_come_from_one_get_metric_data_call_per_window(deployed):
    """One call for the report's window, one for the SLO's 30 days."""
    seed_traffic(deployed)
    calls: list[int] = []
    cloudwatch = Aws("us-east-1", "us-west-2").client("cloudwatch")
    metrics_job.collect(cloudwatch, parse_outputs(deployed["outputs"], "t"), 24, datetime.now(timezone.utc), 1.0, calls)
    assert len(calls) == 2


def test_an_overspent_error_budget_is_a_missed_objective(capsys, deployed, tmp_path):
    seed_traffic(deployed, bad=30.0)  # 3 % bad: 30x the budget
    code, out, err = run_cli(capsys, "metrics", "collect", "--hours", "1", "--outputs", str(deployed["file"]),
                             "--out", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 1
    assert report["slo"]["burnRate"] == pytest.approx(30.0)
    assert report["slo"]["errorBudgetRemainingPercent"] == pytest.approx(-2900.0)
    assert "error_budget_remaining_percent" in err


def test_metrics_end_to_end_through_the_console_script(deployed, aws_env, tmp_path):
    seed_traffic(deployed)
    result = scraper_ops("metrics", "collect", "--outputs", str(deployed["file"]), env={**aws_env, "SCRAPER_OPS_REPORT_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmp_path.glob("operational-metrics-*.json"))


def test_every_page_of_a_metric_data_answer_is_read_and_counted():
    """CloudWatch pages GetMetricData with NextToken (botocore's paginator); moto never pages, so a Stubber serves
    two pages in the API's own shapes: the points of both are kept, sorted oldest first, and two calls counted."""
    import boto3
    from botocore.stub import Stubber

    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = start + timedelta(hours=3)
    query = metrics_job.Query("q", "SocialMediaScraper", "ScrapeAttempts", "Sum", (("Stack", "prod"),))
    request = {"MetricDataQueries": [{"Id": "q", "MetricStat": {
        "Metric": {"Namespace": "SocialMediaScraper", "MetricName": "ScrapeAttempts",
                   "Dimensions": [{"Name": "Stack", "Value": "prod"}]}, "Period": 3600, "Stat": "Sum"},
        "ReturnData": True}], "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
    hours = [start + timedelta(hours=h) for h in range(3)]
    stubber = Stubber(cloudwatch)
    stubber.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "q", "Timestamps": [hours[2], hours[0]], "Values": [3.0, 1.0]}], "NextToken": "page-2"}, request)
    stubber.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "q", "Timestamps": [hours[1]], "Values": [2.0]}]}, {**request, "NextToken": "page-2"})
    calls: list[int] = []
    with stubber:
        series = metrics_job.get_metric_data(cloudwatch, [query], start, end, 3600, calls)
    stubber.assert_no_pending_responses()
    assert series == {"q": [(hours[0], 1.0), (hours[1], 2.0), (hours[2], 3.0)]}
    assert len(calls) == 2


def test_the_moto_servers_get_metric_data_answers_metric_stat_queries_as_moto_itself(aws_env):
    """tests/support/moto_stack.py answers MetricStat queries one at a time for speed; the answers must be moto's
    own, down to its quirks (with dimensions, moto matches a metric of that name in any namespace)."""
    from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends

    stack, other = [{"Name": "Stack", "Value": "prod"}], [{"Name": "Stack", "Value": "staging"}]
    put("ScrapeAttempts", [100.0, 50.0])
    put("ScrapeAttempts", [7.0], "Elsewhere")
    put("ScrapeAttempts", [3.0], dimensions=other)
    put("JobsFailed", [1.0, 2.0, 4.0])
    client("cloudwatch").put_metric_data(Namespace="SocialMediaScraper", MetricData=[
        {"MetricName": "JobsFailed", "Dimensions": stack, "Value": 8.0, "Unit": "Count"}])

    def stat(metric, statistic, dimensions=stack, **more):
        return {"Metric": {"Namespace": "SocialMediaScraper", "MetricName": metric, "Dimensions": dimensions},
                "Period": "3600", "Stat": statistic, **more}

    queries = [
        {"Id": "attempts", "MetricStat": stat("ScrapeAttempts", "Sum")},
        {"Id": "staging", "MetricStat": stat("ScrapeAttempts", "Maximum", other)},
        {"Id": "undimensioned", "MetricStat": stat("ScrapeAttempts", "SampleCount", [])},
        {"Id": "counted", "MetricStat": stat("JobsFailed", "Sum", Unit="Count")},
        {"Id": "hidden", "MetricStat": stat("JobsFailed", "Average"), "ReturnData": False},
    ]
    backend = cloudwatch_backends["123456789012"]["us-east-1"]
    end = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=5)  # moto's datapoints are naive UTC
    for scan_by in ("TimestampAscending", "TimestampDescending"):
        answers = CloudWatchBackend.get_metric_data(backend, queries, end - timedelta(hours=1), end, scan_by)
        assert answers == CloudWatchBackend.get_metric_data.__wrapped__(
            backend, queries, end - timedelta(hours=1), end, scan_by)
        assert [a["id"] for a in answers] == ["attempts", "staging", "undimensioned", "counted"]
        assert answers[0]["values"] == [157.0]  # moto's quirk: "Elsewhere" counted too
