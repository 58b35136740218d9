"""`scraper-ops checklist daily|weekly|monthly`: each item with its evidence."""

from __future__ import annotations

import json

import pytest

from tests.automation.test_metrics import put
from tests.support.cli import run_cli
from tests.support.moto_stack import client


@pytest.fixture
def live(deployed, fake_app, tmp_path):
    """The deployed stack with its app answering on the serviceUrl, scrapers succeeding, a fresh backup."""
    outputs = dict(deployed["outputs"], serviceUrl=fake_app.url)
    path = tmp_path / "live-outputs.json"
    path.write_text(json.dumps(outputs))
    put("ScrapeAttempts", [100.0])
    put("ScrapeSuccesses", [97.0])
    load_balancer = [{"Name": "LoadBalancer", "Value": outputs["loadBalancer"]}]
    put("RequestCount", [2000.0], "AWS/ApplicationELB", load_balancer)
    put("HTTPCode_Target_5XX_Count", [0.5], "AWS/ApplicationELB", load_balancer)
    client("rds").create_db_snapshot(DBSnapshotIdentifier="scraper-prod-20261128-030000", DBInstanceIdentifier="scraper-prod")
    return {"outputs": outputs, "file": path}


def checklist(capsys, live, name):
    code, out, err = run_cli(capsys, "checklist", name, "--outputs", str(live["file"]), "--json")
    return code, {i["text"]: i for i in json.loads(out)["items"]} if out else {}, err


def test_daily_checklist_passes_with_evidence(capsys, live):
    code, items, _ = checklist(capsys, live, "daily")
    assert code == 0
    assert {t: i["state"] for t, i in items.items()} == {
        "Health checks pass": "pass", "No critical errors": "pass", "Resource usage normal": "pass",
        "Scraper success rate > 95%": "pass", "Backups completed": "pass",
        "Error budget left (availability SLO 99.9%, 30 d)": "pass",
    }
    assert items["Error budget left (availability SLO 99.9%, 30 d)"]["evidence"] == (
        "75.0% of the budget left; burn rate 0.25x over 24 h"
    )
    assert items["No critical errors"]["evidence"] == f"none of {len(live['outputs']['alarms'])} alarms in ALARM"
    assert items["Scraper success rate > 95%"]["evidence"] == "97.00% of 100 scrapes in 24 h"
    assert "scraper-prod-20261128-030000" in items["Backups completed"]["evidence"]


def test_daily_checklist_fails_on_an_alarm_and_names_it(capsys, live):
    client("cloudwatch").set_alarm_state(AlarmName="scraper-prod-app-cpu-high", StateValue="ALARM", StateReason="t")
    client("cloudwatch", "us-west-2").set_alarm_state(AlarmName="scraper-prod-replica-lag-high", StateValue="ALARM",
                                                      StateReason="t")
    code, items, err = checklist(capsys, live, "daily")
    assert code == 1
    assert items["No critical errors"] == {
        "text": "No critical errors", "state": "fail",
        "evidence": "in ALARM: scraper-prod-app-cpu-high, scraper-prod-replica-lag-high",
    }
    assert items["Resource usage normal"]["evidence"] == "in ALARM: scraper-prod-app-cpu-high"
    assert "failed: No critical errors, Resource usage normal" in err


def test_daily_checklist_fails_when_the_app_is_down(capsys, live, fake_app):
    fake_app.mode = "failing"
    code, items, _ = checklist(capsys, live, "daily")
    assert code == 1 and items["Health checks pass"]["state"] == "fail"
    assert "HTTP 503" in items["Health checks pass"]["evidence"]


def test_weekly_checklist_reads_the_verification_record_and_lists_manual_items(capsys, live):
    assert run_cli(capsys, "backup", "create", "--outputs", str(live["file"]))[0] == 0
    assert run_cli(capsys, "backup", "verify", "--outputs", str(live["file"]))[0] == 0
    code, items, err = checklist(capsys, live, "weekly")
    assert items["Backup verification"]["state"] == "pass"
    assert [t for t, i in items.items() if i["state"] == "manual"] == [
        "Security review", "Performance review", "Documentation updates",
    ]
    assert items["Capacity planning"] == {
        "text": "Capacity planning", "state": "fail",
        "evidence": f"no capacity report in s3://{live['outputs']['opsBucket']}/capacity/",
    }
    assert code == 1 and "failed: Capacity planning" in err


def test_monthly_checklist_needs_a_passed_dr_test(capsys, live, tmp_path):
    run_cli(capsys, "dr", "test", "--outputs", str(live["file"]), "--out", str(tmp_path), "--replication-timeout", "1")
    code, items, _ = checklist(capsys, live, "monthly")
    assert code == 1
    assert items["Disaster recovery test"]["state"] == "fail"
    assert "FAILED" in items["Disaster recovery test"]["evidence"]


def test_an_unknown_checklist_is_bad_input(capsys, live):
    code, _, err = run_cli(capsys, "checklist", "hourly", "--outputs", str(live["file"]))
    assert code == 2 and "unknown checklist 'hourly'; use one of: daily, weekly, monthly" in err


def test_checklist_end_to_end_through_the_console_script(live, aws_env):
    from tests.support.cli import scraper_ops

    result = scraper_ops("checklist", "daily", "--outputs", str(live["file"]), env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Daily checklist (prod)" in result.stdout and "✗" not in result.stdout


def test_daily_checklist_fails_when_the_error_budget_is_spent(capsys, live):
    load_balancer = [{"Name": "LoadBalancer", "Value": live["outputs"]["loadBalancer"]}]
    put("HTTPCode_ELB_5XX_Count", [4.0], "AWS/ApplicationELB", load_balancer)  # 4.5 of 2000: 2.25x the budget
    code, items, err = checklist(capsys, live, "daily")
    item = items["Error budget left (availability SLO 99.9%, 30 d)"]
    assert code == 1 and item["state"] == "fail"
    assert item["evidence"] == "-125.0% of the budget left; burn rate 2.25x over 24 h"


def test_monthly_checklist_reports_incidents_or_why_it_cannot(capsys, live):
    """moto has no DescribeAlarmHistory (tests/automation/test_slo.py answers it with a Stubber): the item
    fails and says why instead of claiming zero incidents."""
    _, items, _ = checklist(capsys, live, "monthly")
    item = items["Incidents and MTTR (30 d)"]
    assert item["state"] == "fail" and item["evidence"].startswith("DescribeAlarmHistory failed")
