"""Cost review figures on seeded data with known answers: the month's forecast and budget verdict, cost by tag.
GetCostAndUsage comes from moto's Cost Explorer result queue; GetCostForecast, which moto does not implement, from
botocore's Stubber."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from automation.aws import Aws
from automation.cost.explorer import forecast_rest
from tests.automation.conftest import TODAY
from tests.automation.test_capacity_cost import project  # noqa: F401  (the project fixture: a copy of the stack files)
from tests.support.cli import run_cli

MONTHS = ["2026-08", "2026-09", "2026-10", "2026-11"]
STACK_TAGS = {"CostCenter": "data-platform", "Environment": "prod", "Project": "social-media-scraper"}
STACK_FILTER = {"And": [{"Tags": {"Key": key, "Values": [value]}} for key, value in sorted(STACK_TAGS.items())]}


class CostExplorer:
    """The `ce` client the CLI gets: GetCostAndUsage goes to the moto server, GetCostForecast to a stubbed
    client (moto raises NotImplementedError for it). Every request is recorded."""

    def __init__(self):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.usage = boto3.client("ce", region_name="us-east-1")
        self.forecasts = boto3.client("ce", region_name="us-east-1")
        self.stub = Stubber(self.forecasts)
        self.stub.activate()

    def get_cost_and_usage(self, **request):
        self.calls.append(("GetCostAndUsage", request))
        return self.usage.get_cost_and_usage(**request)

    def get_cost_forecast(self, **request):
        self.calls.append(("GetCostForecast", request))
        return self.forecasts.get_cost_forecast(**request)

    def forecast(self, amount: str, start: str, end: str) -> None:
        self.stub.add_response("get_cost_forecast", {"Total": {"Amount": amount, "Unit": "USD"}},
                               {"TimePeriod": {"Start": start, "End": end}, "Metric": "UNBLENDED_COST",
                                "Granularity": "MONTHLY", "Filter": STACK_FILTER})

    def requests_of(self, operation: str) -> list[dict[str, Any]]:
        return [request for name, request in self.calls if name == operation]


@pytest.fixture
def cost_explorer(aws_env, monkeypatch) -> CostExplorer:
    explorer = CostExplorer()
    original = Aws.client
    monkeypatch.setattr(Aws, "client", lambda self, service, region=None: explorer if service == "ce"
                        else original(self, service, region))
    yield explorer
    explorer.stub.assert_no_pending_responses()


def period(month: str) -> dict[str, str]:
    year, number = map(int, month.split("-"))
    following = date(year + number // 12, number % 12 + 1, 1)
    return {"Start": f"{month}-01", "End": min(following, TODAY).isoformat()}


def result(groups_by_month: dict[str, dict[tuple[str, ...], float]]) -> dict[str, Any]:
    return {"ResultsByTime": [
        {"TimePeriod": period(month), "Estimated": month == "2026-11", "Total": {},
         "Groups": [{"Keys": list(keys), "Metrics": {"UnblendedCost": {"Amount": repr(amount), "Unit": "USD"}}}
                    for keys, amount in groups.items()]}
        for month, groups in groups_by_month.items()]}


def queue(moto_endpoint: str, *results: dict[str, Any]) -> None:
    """moto answers each distinct GetCostAndUsage request with the next queued result."""
    response = requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results",
                             json={"results": list(results)}, timeout=10)
    assert response.status_code == 201


def by_service(current_month: dict[str, float]) -> dict[str, Any]:
    """Three full months under the 3,000 budget, and the current month to date."""
    full = {"2026-08": 2500.0, "2026-09": 2600.0, "2026-10": 2700.0}
    months = {m: {("Amazon Relational Database Service",): 0.6 * total, ("Amazon Elastic Kubernetes Service",): 0.4 * total}
              for m, total in full.items()}
    months["2026-11"] = {(service,): amount for service, amount in current_month.items()}
    return result(months)


# The case: 2,898.75 spent this month (to yesterday), 207.05 forecast for the rest: 3,105.81 > 3,000.
# The amounts carry Cost Explorer's extra decimals, so the sum is only right if nothing is rounded before it.
SPENT = {"Amazon Relational Database Service": 1700.504, "Amazon Elastic Kubernetes Service": 1000.25, "Amazon S3": 198.0}
REST = "207.0549"


def by_tags(*keys: str) -> dict[str, Any]:
    """Every month: the stack's own costs, a staging share and an untagged share, keyed by `keys`."""
    values = {"CostCenter": ("data-platform", "data-platform", ""), "Environment": ("prod", "staging", ""),
              "Project": ("social-media-scraper", "social-media-scraper", "")}
    groups: dict[tuple[str, ...], float] = {}
    for i, share in enumerate((1000.0, 400.0, 55.5)):  # Cost Explorer returns one group per distinct key
        key = tuple(f"{name}${values[name][i]}" for name in keys)
        groups[key] = groups.get(key, 0.0) + share
    return result({m: groups for m in MONTHS})


def review(capsys, deployed, project, *extra: str) -> tuple[int, str, str, dict[str, Any]]:
    out = project / "reports"
    code, stdout, err = run_cli(capsys, "cost", "review", "--stack", "prod", "--outputs", str(deployed["file"]),
                                "--format", "json", "--out", str(out), *extra)
    return code, stdout, err, json.loads(next(out.glob("cost-*.json")).read_text())


def test_the_forecast_is_month_to_date_plus_the_rest_and_over_budget_exits_1(
        capsys, deployed, project, moto_endpoint, cost_explorer, today):
    queue(moto_endpoint, by_service(SPENT), by_tags("CostCenter", "Environment"), by_tags("Project"))
    cost_explorer.forecast(REST, "2026-11-28", "2026-12-01")
    code, stdout, err, document = review(capsys, deployed, project)
    assert document["monthToDateUsd"] == 2898.75 and document["forecastRestOfMonthUsd"] == 207.05
    assert document["forecastUsd"] == 3105.81
    assert document["overBudget"] == ["2026-11 forecast 3,105.81 USD (month to date 2,898.75 + rest of the month 207.05)"]
    assert code == 1
    assert err.strip() == ("scraper-ops: over budget: 2026-11 forecast 3,105.81 USD "
                           "(month to date 2,898.75 + rest of the month 207.05)")
    assert "forecast this month: 3,105.81 USD (month to date + 207.05 forecast from today)" in stdout
    usage = cost_explorer.requests_of("GetCostAndUsage")[0]
    assert usage["TimePeriod"] == {"Start": "2026-08-01", "End": "2026-11-28"}, "to yesterday: today is forecast"
    assert usage["Filter"] == STACK_FILTER


def test_a_forecast_under_budget_passes(capsys, deployed, project, moto_endpoint, cost_explorer, today):
    queue(moto_endpoint, by_service(SPENT), by_tags("CostCenter", "Environment"), by_tags("Project"))
    cost_explorer.forecast("101.2449", "2026-11-28", "2026-12-01")
    code, _, err, document = review(capsys, deployed, project)
    assert (code, err) == (0, "")
    assert document["forecastUsd"] == 3000.0 and document["overBudget"] == []


def test_month_to_date_over_budget_is_flagged_without_a_forecast(
        capsys, deployed, project, moto_endpoint, cost_explorer, today):
    queue(moto_endpoint, by_service({"Amazon Relational Database Service": 3050.0}),
          by_tags("CostCenter", "Environment"), by_tags("Project"))
    cost_explorer.stub.add_client_error("get_cost_forecast", "DataUnavailableException", "not enough data")
    code, _, err, document = review(capsys, deployed, project)
    assert document["forecastUsd"] is None and document["forecastNote"].startswith("forecast unavailable")
    assert code == 1
    assert err.strip() == "scraper-ops: over budget: 2026-11 month to date 3,050.00 USD, already over"


def test_cost_by_tag_is_one_grouped_request_per_two_tags_with_real_breakdowns(
        capsys, deployed, project, moto_endpoint, cost_explorer, today):
    queue(moto_endpoint, by_service(SPENT), by_tags("CostCenter", "Environment"), by_tags("Project"))
    cost_explorer.forecast("0", "2026-11-28", "2026-12-01")
    _, _, _, document = review(capsys, deployed, project)
    tag_requests = cost_explorer.requests_of("GetCostAndUsage")[1:]
    assert [[g["Key"] for g in r["GroupBy"]] for r in tag_requests] == [["CostCenter", "Environment"], ["Project"]]
    assert all(g["Type"] == "TAG" for r in tag_requests for g in r["GroupBy"])
    assert not any("Filter" in r for r in tag_requests), "a filter on the grouped tags pins every figure to the total"
    assert document["byTag"]["Environment"]["2026-10"] == {"prod": 1000.0, "staging": 400.0, "(untagged)": 55.5}
    assert document["byTag"]["CostCenter"]["2026-10"] == {"data-platform": 1400.0, "(untagged)": 55.5}
    assert document["byTag"]["Project"]["2026-11"] == {"social-media-scraper": 1400.0, "(untagged)": 55.5}


def test_two_cost_tags_take_a_single_request(capsys, deployed, project, moto_endpoint, cost_explorer, today):
    outputs = {**deployed["outputs"], "costTags": {"Environment": "prod", "Project": "social-media-scraper"}}
    deployed["file"].write_text(json.dumps(outputs))
    queue(moto_endpoint, by_service(SPENT), by_tags("Environment", "Project"))
    cost_explorer.stub.add_response("get_cost_forecast", {"Total": {"Amount": "0", "Unit": "USD"}})
    _, _, _, document = review(capsys, deployed, project)
    assert len(cost_explorer.requests_of("GetCostAndUsage")) == 2, "one by service, one for both tags"
    assert document["byTag"]["Environment"]["2026-08"] == {"prod": 1000.0, "staging": 400.0, "(untagged)": 55.5}


@pytest.mark.parametrize("day, end", [
    (date(2026, 11, 1), "2026-12-01"),
    (date(2026, 11, 30), "2026-12-01"),  # the last day still has a forecast: today itself
    (date(2026, 12, 31), "2027-01-01"),
    (date(2027, 1, 30), "2027-02-01"),
])
def test_the_forecast_covers_today_to_the_end_of_the_month(aws_env, day, end):
    ce = Aws("us-east-1", "us-west-2").client("ce")
    with Stubber(ce) as stub:
        stub.add_response("get_cost_forecast", {"Total": {"Amount": "12.5", "Unit": "USD"}},
                          {"TimePeriod": {"Start": day.isoformat(), "End": end}, "Metric": "UNBLENDED_COST",
                           "Granularity": "MONTHLY", "Filter": {"Tags": {"Key": "Project", "Values": ["p"]}}})
        assert forecast_rest(ce, day, {"Project": "p"})[0] == 12.5
