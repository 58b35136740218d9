"""Incidents and MTTR from the SLO page alerts' history, and the error budget arithmetic.

moto implements no DescribeAlarmHistory, so the history is answered by botocore's Stubber on a real client:
the requests are checked against the service model and must ask for composite alarms (AlarmTypes), which
DescribeAlarmHistory leaves out unless asked.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from automation import slo
from automation.aws import Aws
from automation.checklist import FAIL, PASS, Context, incidents_and_mttr
from automation.outputs import parse_outputs
from contract import alarms as alarm_keys
from infra import signals

END = datetime(2026, 11, 28, 0, 0, tzinfo=timezone.utc)
START = END - timedelta(days=30)
FAST, SLOW = "scraper-prod-slo-99-9-page-14.4x-1h", "scraper-prod-slo-99-9-page-6x-6h"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def change(name: str, when: datetime, old: str, new: str) -> dict:
    data = {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new}}
    return {"AlarmName": name, "AlarmType": "CompositeAlarm", "Timestamp": when, "HistoryItemType": "StateUpdate",
            "HistorySummary": f"Alarm updated from {old} to {new}", "HistoryData": json.dumps(data)}


HISTORY = {
    FAST: [
        change(FAST, at(3, 10), "OK", "ALARM"), change(FAST, at(3, 10, 30), "ALARM", "OK"),
        change(FAST, at(9, 14), "OK", "ALARM"), change(FAST, at(9, 14, 20), "ALARM", "OK"),
        change(FAST, at(29, 23), "OK", "ALARM"),  # still firing at the end of the period
    ],
    SLOW: [
        change(SLOW, at(0, 0, 15), "ALARM", "OK"),  # firing since before the period began
        change(SLOW, at(3, 10, 10), "INSUFFICIENT_DATA", "ALARM"), change(SLOW, at(3, 11), "ALARM", "OK"),
    ],
}


@pytest.fixture
def outputs(prod_plan):
    return parse_outputs(prod_plan.outputs, "plan")


def stubbed_history(names: list[str]):
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cloudwatch)
    for name in names:
        stubber.add_response(
            "describe_alarm_history", {"AlarmHistoryItems": HISTORY.get(name, [])},
            {"AlarmName": name, "AlarmTypes": ["CompositeAlarm", "MetricAlarm"], "HistoryItemType": "StateUpdate",
             "StartDate": START, "EndDate": END, "ScanBy": "TimestampAscending"},
        )
    stubber.activate()
    return cloudwatch, stubber


def test_page_alerts_are_the_slos_fast_and_slow_burn_composites(outputs):
    assert slo.page_alarms(outputs) == [FAST, SLOW]
    assert len(outputs.sloAlarms) == len(signals.BURN_WINDOWS)  # the ticket alert is no incident


def test_incidents_and_mttr_from_a_seeded_history(outputs):
    cloudwatch, stubber = stubbed_history(slo.page_alarms(outputs))
    report = slo.incidents_section(cloudwatch, outputs, START, END)
    stubber.assert_no_pending_responses()
    # 00:00-00:15 (began before the period: counted from its start), 10:00-11:00 on day 3 (both alerts, one
    # outage), 14:00-14:20 on day 9, and one still open since 23:00 on day 29.
    assert [(i["start"], i["end"], i["minutes"]) for i in report["incidents"]] == [
        (START.isoformat(), at(0, 0, 15).isoformat(), 15.0),
        (at(3, 10).isoformat(), at(3, 11).isoformat(), 60.0),
        (at(9, 14).isoformat(), at(9, 14, 20).isoformat(), 20.0),
        (at(29, 23).isoformat(), None, None),
    ]
    assert report["incidents"][1]["alarms"] == [FAST, SLOW]
    assert report["incidents"][0]["startedBeforePeriod"] is True
    assert (report["count"], report["open"]) == (4, 1)
    assert report["mttrMinutes"] == pytest.approx((15 + 60 + 20) / 3)
    assert report["downtimeMinutes"] == 95.0


def test_monthly_checklist_item_fails_on_an_open_incident_and_shows_mttr(outputs):
    cloudwatch, _ = stubbed_history(slo.page_alarms(outputs))
    aws = Aws("us-east-1", "us-west-2")
    aws._clients[("cloudwatch", "us-east-1")] = cloudwatch
    item = incidents_and_mttr(Context(aws, outputs, END))
    assert (item.state, item.evidence) == (FAIL, "4 incident(s), 1 open, MTTR 31.7 min (RTO 60 min)")


def test_monthly_checklist_item_passes_when_every_incident_ended_within_the_rto(outputs):
    HISTORY_WITHOUT_OPEN = {FAST: HISTORY[FAST][:4], SLOW: HISTORY[SLOW]}
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cloudwatch)
    for name in slo.page_alarms(outputs):
        stubber.add_response("describe_alarm_history", {"AlarmHistoryItems": HISTORY_WITHOUT_OPEN[name]})
    stubber.activate()
    aws = Aws("us-east-1", "us-west-2")
    aws._clients[("cloudwatch", "us-east-1")] = cloudwatch
    item = incidents_and_mttr(Context(aws, outputs, END))
    assert (item.state, item.evidence) == (PASS, "3 incident(s), 0 open, MTTR 31.7 min (RTO 60 min)")


@pytest.mark.parametrize("availability, bad, total, remaining, burn", [
    (99.9, 0, 1000, 1.0, 0.0),
    (99.9, 1, 1000, 0.0, 1.0),
    (99.9, 3, 1000, -2.0, 3.0),
    (99.5, 1, 1000, 0.8, 0.2),
])
def test_budget_left_and_burn_rate(availability, bad, total, remaining, burn):
    assert signals.burn_rate(bad, total, availability) == pytest.approx(burn)
    assert signals.budget_remaining(bad, total, availability) == pytest.approx(remaining)


def test_no_traffic_is_no_figure_rather_than_a_perfect_one():
    assert signals.burn_rate(0, 0, 99.9) is None and signals.budget_remaining(0, 0, 99.9) is None


class _Lock:
    def __init__(self):
        self.remembered: list[str] = []

    def remember_silenced(self, alarms: list[str]) -> None:
        self.remembered = alarms


class _Runner:
    backend = "offline"


def test_maintenance_silences_the_slo_page_and_ticket_alerts_too(outputs):
    """moto cannot create composite alarms (no PutCompositeAlarm), so DescribeAlarms/DisableAlarmActions are
    answered by a Stubber: the run must ask for composite alarms and disable the armed ones with the app's."""
    from automation.maintenance import MaintenanceRun, Options
    from contract.outputs import Maintenance

    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cloudwatch)
    app = [outputs.alarms[key] for key in alarm_keys.APP_BEHAVIOUR]
    names = app + list(outputs.sloAlarms.values())
    stubber.add_response(
        "describe_alarms",
        {"MetricAlarms": [{"AlarmName": n, "ActionsEnabled": True} for n in app],
         "CompositeAlarms": [{"AlarmName": n, "ActionsEnabled": n != FAST} for n in outputs.sloAlarms.values()]},
        {"AlarmNames": names, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
    )
    armed = app + [n for n in outputs.sloAlarms.values() if n != FAST]
    stubber.add_response("disable_alarm_actions", {}, {"AlarmNames": armed})
    stubber.activate()
    aws = Aws("us-east-1", "us-west-2")
    aws._clients[("cloudwatch", "us-east-1")] = cloudwatch
    run = MaintenanceRun(_Runner(), aws, outputs, Maintenance(windowStart="0 2 * * 0#1", durationMinutes=120, cutoffMinutes=15),
                         "img", Options(), clock=lambda: END, say=lambda _: None)
    run._lock = _Lock()
    detail, ids = run._silence_alarms()
    stubber.assert_no_pending_responses()
    assert ids["alarms"] == armed == run._lock.remembered
    assert detail == f"actions disabled on {len(armed)} app alarms"
