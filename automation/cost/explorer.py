"""The cost review's data: Cost Explorer's costs and forecast, CloudWatch's successful scrapes."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation.metrics import Query, get_metric_data
from contract import metrics as names
from contract.outputs import StackOutputs

COST_METRIC = "UnblendedCost"


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month `months_back` before the month of `day` (negative: after)."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def stack_filter(tags: dict[str, str]) -> dict[str, Any]:
    conditions = [{"Tags": {"Key": key, "Values": [value]}} for key, value in sorted(tags.items())]
    return conditions[0] if len(conditions) == 1 else {"And": conditions}


# GetCostAndUsage groups "using up to two different groups" (Cost Explorer API reference, GetCostAndUsage
# GroupBy); moto does not enforce it, so the limit is kept here.
MAX_GROUPS = 2


def cost_groups(ce: Any, start: date, end: date, group_by: list[dict[str, str]],
            filter_: dict[str, Any] | None, calls: Counter[str]) -> dict[str, dict[tuple[str, ...], float]]:
    """{month: {group keys: cost}}, following NextPageToken. A tag group key `Key$value` becomes its value, and
    the empty value (no such tag) becomes "(untagged)"."""
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [COST_METRIC],
        "GroupBy": group_by,
    }
    if filter_ is not None:
        request["Filter"] = filter_
    months: dict[str, dict[tuple[str, ...], float]] = {}
    while True:
        response = ce.get_cost_and_usage(**request)
        calls["GetCostAndUsage"] += 1
        for period in response.get("ResultsByTime", []):
            bucket = months.setdefault(period["TimePeriod"]["Start"][:7], {})
            for group in period.get("Groups", []):
                key = tuple(part.split("$", 1)[-1] or "(untagged)" for part in group["Keys"])
                bucket[key] = bucket.get(key, 0.0) + float(group["Metrics"][COST_METRIC]["Amount"])
        token = response.get("NextPageToken")
        if not token:
            return months
        request["NextPageToken"] = token


def costs_by_tag(ce: Any, start: date, end: date, keys: list[str],
            calls: Counter[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{tag key: {month: {tag value: cost}}} over every cost of the account, each tag's values (untagged
    included) from one GetCostAndUsage grouped by the tags, two tags a request as AWS allows."""
    by_tag: dict[str, dict[str, dict[str, float]]] = {key: {} for key in keys}
    for first in range(0, len(keys), MAX_GROUPS):
        chunk = keys[first:first + MAX_GROUPS]
        months = cost_groups(ce, start, end, [{"Type": "TAG", "Key": key} for key in chunk], None, calls)
        for month, groups in months.items():
            for values, cost in groups.items():
                for key, value in zip(chunk, values):
                    bucket = by_tag[key].setdefault(month, {})
                    bucket[value] = bucket.get(value, 0.0) + cost
    return {key: {m: {v: round(c, 2) for v, c in sorted(g.items())} for m, g in sorted(months.items())}
            for key, months in by_tag.items()}


def forecast_rest(ce: Any, today: date, tags: dict[str, str],
                   calls: Counter[str] | None = None) -> tuple[float | None, str]:
    """Cost Explorer's forecast from today to the end of the month (GetCostForecast returns the period asked;
    its start "must be equal to or no later than the current date", Cost Explorer API reference)."""
    if calls is not None:
        calls["GetCostForecast"] += 1
    try:
        response = ce.get_cost_forecast(
            TimePeriod={"Start": today.isoformat(), "End": month_start(today, -1).isoformat()},
            Metric="UNBLENDED_COST", Granularity="MONTHLY", Filter=stack_filter(tags),
        )
    except (ClientError, BotoCoreError) as error:
        return None, f"forecast unavailable: {error}"
    return float(response["Total"]["Amount"]), "month to date plus Cost Explorer's forecast from today to the month's end"


def cost_per_scrapes(cloudwatch: Any, outputs: StackOutputs, months: list[str], totals: dict[str, float],
                      today: date, calls: Counter[str]) -> dict[str, float | None]:
    if not months:
        return {}
    first = datetime.strptime(months[0], "%Y-%m")
    end = datetime.combine(today + timedelta(days=1), datetime.min.time())
    pages: list[int] = []
    series = get_metric_data(
        cloudwatch, [Query("ok", outputs.metricsNamespace, names.SCRAPE_SUCCESSES, "Sum", (("Stack", outputs.stack),))],
        first, end, 86400, pages,
    )["ok"]
    calls["GetMetricData"] += len(pages)
    per_month: dict[str, float] = {}
    for when, value in series:
        per_month[when.strftime("%Y-%m")] = per_month.get(when.strftime("%Y-%m"), 0.0) + value
    return {m: (round(1000 * totals[m] / per_month[m], 4) if per_month.get(m) else None) for m in months}
