"""`scraper-ops cost review` (Cost Explorer) and `scraper-ops cost estimate` (the planned resources priced).

The estimate prices what a plan declares with the dated price table shipped in
`automation/data/prices.json`: fixed monthly costs (database instances and
storage, the app's pods at the HPA minimum as their requested share of the managed
node group's EC2 nodes, keys, alarms, dashboards, secrets).
Usage-based charges (requests, transfer, S3 objects, snapshots) are listed as
not estimated rather than guessed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation.engine import Plan
from automation.metrics import Query, get_metric_data
from automation.plan import scaling_of
from automation.outputs import StackOutputs
from infra import metrics as names
from infra.components.workloads import INSTANCE_TYPE_LABEL
from infra.quantities import parse_cpu, parse_memory

COST_METRIC = "UnblendedCost"
GIB = 1024**3


def price_table() -> dict[str, Any]:
    return json.loads(resources.files("automation").joinpath("data/prices.json").read_text())


def _month_start(day: date, months_back: int = 0) -> date:
    year, month = day.year, day.month - months_back
    while month <= 0:
        month, year = month + 12, year - 1
    return date(year, month, 1)


def _stack_filter(tags: dict[str, str]) -> dict[str, Any]:
    conditions = [{"Tags": {"Key": key, "Values": [value]}} for key, value in sorted(tags.items())]
    return conditions[0] if len(conditions) == 1 else {"And": conditions}


def _groups(ce: Any, start: date, end: date, group_by: dict[str, str], tags: dict[str, str]) -> dict[str, dict[str, float]]:
    """{month: {group: cost}} for the stack's resources, following NextPageToken."""
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [COST_METRIC],
        "GroupBy": [group_by],
        "Filter": _stack_filter(tags),
    }
    months: dict[str, dict[str, float]] = {}
    while True:
        response = ce.get_cost_and_usage(**request)
        for period in response.get("ResultsByTime", []):
            month = period["TimePeriod"]["Start"][:7]
            bucket = months.setdefault(month, {})
            for group in period.get("Groups", []):
                key = group["Keys"][0].split("$", 1)[-1] or "(untagged)"
                bucket[key] = bucket.get(key, 0.0) + float(group["Metrics"][COST_METRIC]["Amount"])
        token = response.get("NextPageToken")
        if not token:
            return months
        request["NextPageToken"] = token


@dataclass
class CostReview:
    months: list[str]
    by_service: dict[str, dict[str, float]]
    by_tag: dict[str, dict[str, dict[str, float]]]
    totals: dict[str, float]
    movers: list[dict[str, Any]]
    budget: float
    forecast: float | None
    forecast_note: str
    cost_per_1000_scrapes: dict[str, float | None]
    savings: list[dict[str, Any]]

    @property
    def over_budget(self) -> list[str]:
        reasons = [f"{m} cost {self.totals[m]:,.2f} USD" for m in self.months[:-1] if self.totals.get(m, 0) > self.budget]
        if self.forecast is not None and self.forecast > self.budget:
            reasons.append(f"{self.months[-1]} forecast {self.forecast:,.2f} USD")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "months": self.months, "byService": self.by_service, "byTag": self.by_tag, "totals": self.totals,
            "topMovers": self.movers, "monthlyBudgetUsd": self.budget, "forecastUsd": self.forecast,
            "forecastNote": self.forecast_note, "costPer1000SuccessfulScrapes": self.cost_per_1000_scrapes,
            "savings": self.savings, "overBudget": self.over_budget,
        }


def review(ce: Any, cloudwatch: Any, outputs: StackOutputs, budget: float, months: int, today: date,
           savings: list[dict[str, Any]]) -> CostReview:
    """The last `months` full months and the current one, for the stack's cost-allocation tags."""
    start, end = _month_start(today, months), today + timedelta(days=1)
    tags = outputs.costTags
    by_service = _groups(ce, start, end, {"Type": "DIMENSION", "Key": "SERVICE"}, tags)
    by_tag = {key: _groups(ce, start, end, {"Type": "TAG", "Key": key}, tags) for key in sorted(tags)}
    month_keys = sorted(by_service)
    totals = {m: round(sum(by_service[m].values()), 2) for m in month_keys}
    movers = []
    full = [m for m in month_keys if m != today.strftime("%Y-%m")]
    if len(full) >= 2:
        last, previous = by_service[full[-1]], by_service[full[-2]]
        for service in set(last) | set(previous):
            change = last.get(service, 0.0) - previous.get(service, 0.0)
            base = previous.get(service, 0.0)
            movers.append({"service": service, "from": round(base, 2), "to": round(last.get(service, 0.0), 2),
                           "change": round(change, 2), "percent": round(100 * change / base, 1) if base else None})
        movers.sort(key=lambda m: abs(m["change"]), reverse=True)
    forecast, note = _forecast(ce, today, tags)
    return CostReview(month_keys, by_service, by_tag, totals, movers[:5], budget, forecast, note,
                      _cost_per_scrapes(cloudwatch, outputs, month_keys, totals, today), savings)


def _forecast(ce: Any, today: date, tags: dict[str, str]) -> tuple[float | None, str]:
    """The current month's forecast: month-to-date cost plus the forecast of the rest."""
    month_end = _month_start(today + timedelta(days=32))
    if today + timedelta(days=1) >= month_end:
        return None, "last day of the month: no forecast"
    try:
        response = ce.get_cost_forecast(
            TimePeriod={"Start": (today + timedelta(days=1)).isoformat(), "End": month_end.isoformat()},
            Metric="UNBLENDED_COST", Granularity="MONTHLY", Filter=_stack_filter(tags),
        )
    except (ClientError, BotoCoreError) as error:
        return None, f"forecast unavailable: {error}"
    return float(response["Total"]["Amount"]), "Cost Explorer forecast of the rest of the month, plus month to date"


def _cost_per_scrapes(cloudwatch: Any, outputs: StackOutputs, months: list[str], totals: dict[str, float],
                      today: date) -> dict[str, float | None]:
    if not months:
        return {}
    first = datetime.strptime(months[0], "%Y-%m")
    end = datetime.combine(today + timedelta(days=1), datetime.min.time())
    series = get_metric_data(
        cloudwatch, [Query("ok", outputs.metricsNamespace, names.SCRAPE_SUCCESSES, "Sum", (("Stack", outputs.stack),))],
        first, end, 86400,
    )["ok"]
    per_month: dict[str, float] = {}
    for when, value in series:
        per_month[when.strftime("%Y-%m")] = per_month.get(when.strftime("%Y-%m"), 0.0) + value
    return {m: (round(1000 * totals[m] / per_month[m], 4) if per_month.get(m) else None) for m in months}


IDLE_DATABASE_CPU_P95 = 25.0


def pod_hourly(cpu: float, memory_gib: float, instance_type: str, prices: dict[str, Any], region: str) -> float | None:
    """A pod's share of its node: the larger of its CPU and memory requests as a fraction of the node's, times
    the node's on-demand price (EC2 nodes of a managed node group, the stack's compute model). None: no price."""
    hourly = prices["regions"][region]["ec2InstanceHour"].get(instance_type)
    shape = prices["ec2InstanceShapes"].get(instance_type)
    if hourly is None or shape is None:
        return None
    return hourly * max(cpu / shape["vcpu"], memory_gib / shape["memoryGiB"])


def savings_from_capacity(rightsizing: dict[str, Any], min_replicas: int, region: str,
                          db_cpu_p95: float | None, db_class: str, db_copies: int,
                          instance_type: str) -> list[dict[str, Any]]:
    """Monthly savings the capacity analysis points at: the app's requests rightsized (their share of the node
    group's EC2 nodes at the HPA minimum of pods), and a database whose p95 CPU stays under 25 % moved one size down."""
    prices = price_table()
    regional, hours = prices["regions"][region], prices["hoursPerMonth"]
    savings = []
    saved_cpu, saved_memory = rightsizing.get("cpuCoresSavedPerPod"), rightsizing.get("memoryGiBSavedPerPod")
    saved_hourly = pod_hourly(max(saved_cpu or 0, 0), max(saved_memory or 0, 0), instance_type, prices, region)
    if saved_cpu is not None and saved_memory is not None and (saved_cpu > 0 or saved_memory > 0) and saved_hourly:
        monthly = hours * min_replicas * saved_hourly
        savings.append({"resource": "app pods (requests)", "from": rightsizing["current"]["requests"],
                        "to": rightsizing["recommended"]["requests"], "monthlySavingUsd": round(monthly, 2)})
    classes = regional["rdsInstanceHour"]
    family = db_class.rsplit(".", 1)[0]
    smaller = sorted((price, name) for name, price in classes.items()
                     if name.startswith(family + ".") and price < classes.get(db_class, 0))
    if db_cpu_p95 is not None and db_cpu_p95 < IDLE_DATABASE_CPU_P95 and smaller:
        price, name = smaller[-1]
        savings.append({"resource": f"database ({db_class}, p95 CPU {db_cpu_p95:.0f}%)", "from": db_class, "to": name,
                        "monthlySavingUsd": round((classes[db_class] - price) * hours * db_copies, 2)})
    return savings


def chart(review_result: CostReview) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    services = sorted({s for m in review_result.months for s in review_result.by_service[m]})
    figure, axes = pyplot.subplots(figsize=(8, 4), dpi=100)
    bottom = [0.0] * len(review_result.months)
    for service in services:
        values = [review_result.by_service[m].get(service, 0.0) for m in review_result.months]
        axes.bar(review_result.months, values, bottom=bottom, label=service)
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.axhline(review_result.budget, color="tab:red", linestyle="--", label="budget")
    axes.set_title("Monthly cost by service (USD)")
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# The estimate of a plan


def _component_of(resource: Any, by_urn: dict[str, Any]) -> str:
    parent = by_urn.get(resource.parent or "")
    while parent is not None and parent.custom:
        parent = by_urn.get(parent.parent or "")
    return parent.name if parent is not None else "(stack)"


def _hpa_minimum(plan: Plan, deployment_name: str) -> int:
    scaling = scaling_of(plan, deployment_name)
    return scaling.min_replicas if scaling else 1


def price_resource(resource: Any, plan: Plan, prices: dict[str, Any], default_region: str) -> tuple[float | None, str]:
    """Monthly price and how it was reached; None for usage-based resources."""
    hours = prices["hoursPerMonth"]
    regional = prices["regions"].get(resource.region or default_region)
    inputs = resource.inputs
    if regional is None:
        return None, f"no prices for region {resource.region}"
    if resource.type == "aws:rds/instance:Instance":
        hourly = regional["rdsInstanceHour"].get(inputs.get("instanceClass"))
        if hourly is None:
            return None, f"no price for {inputs.get('instanceClass')}"
        copies = 2 if inputs.get("multiAz") else 1
        storage = inputs.get("allocatedStorage") or _source_storage(resource, plan)
        total = copies * (hourly * hours + storage * regional["rdsGp3GbMonth"])
        return total, f"{inputs.get('instanceClass')} x{copies} + {storage} GB gp3"
    if resource.type == "aws:secretsmanager/secret:Secret":
        copies = 1 + len(inputs.get("replicas") or [])  # each replica is billed as a secret of its own
        return copies * regional["secretMonth"], f"1 secret + {copies - 1} replica(s)"
    if resource.type == "aws:kms/key:Key":
        return regional["kmsKeyMonth"], "1 key"
    if resource.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
        metrics = [q for q in inputs.get("metricQueries") or [] if q.get("metric")] or [inputs]
        per_metric = regional["alarmHighResolutionMetricMonth"] if (inputs.get("period") or 60) < 60 else regional["alarmMetricMonth"]
        return per_metric * len(metrics), f"{len(metrics)} metric(s)"
    if resource.type == "aws:cloudwatch/dashboard:Dashboard":
        return regional["dashboardMonth"], "1 dashboard"
    if resource.type == "kubernetes:apps/v1:Deployment":
        containers = inputs["spec"]["template"]["spec"]["containers"]
        cpu = sum(parse_cpu(c["resources"]["requests"]["cpu"]) for c in containers)
        memory = sum(parse_memory(c["resources"]["requests"]["memory"]) for c in containers) / GIB
        replicas = _hpa_minimum(plan, inputs["metadata"]["name"])
        node = (inputs["spec"]["template"]["spec"].get("nodeSelector") or {}).get(INSTANCE_TYPE_LABEL)
        hourly = pod_hourly(cpu, memory, node, prices, resource.region or default_region) if node else None
        if hourly is None:
            return None, f"no price for the pods' node type {node or '(no nodeSelector on ' + INSTANCE_TYPE_LABEL + ')'}"
        return hours * replicas * hourly, (
            f"{replicas} pods x ({cpu:g} vCPU + {memory:g} GiB) requested, at the HPA minimum, as their share of "
            f"{node} nodes (managed node group)")
    return None, "usage-based"


def _source_storage(replica: Any, plan: Plan) -> int:
    """A read replica has the storage of the instance it replicates."""
    sources = set(replica.property_dependencies.get("replicateSourceDb", []))
    return next((r.inputs.get("allocatedStorage") or 0 for r in plan.resources if r.urn in sources), 0)


def estimate(plan: Plan) -> dict[str, Any]:
    prices = price_table()
    default_region = next((r.region for r in plan.resources if r.region), "us-east-1")
    by_urn = {r.urn: r for r in plan.resources}
    lines, usage_based = [], 0
    for resource in plan.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        monthly, basis = price_resource(resource, plan, prices, default_region)
        if monthly is None:
            usage_based += 1
            continue
        lines.append({"urn": resource.urn, "name": resource.name, "type": resource.type, "region": resource.region,
                      "component": _component_of(resource, by_urn), "monthlyUsd": round(monthly, 2), "basis": basis})
    components: dict[str, float] = {}
    for line in lines:
        components[line["component"]] = round(components.get(line["component"], 0.0) + line["monthlyUsd"], 2)
    return {"stack": plan.stack, "prices": {"date": prices["date"], "source": prices["source"]},
            "totalMonthlyUsd": round(sum(line["monthlyUsd"] for line in lines), 2), "byComponent": components,
            "resources": lines, "usageBasedResources": usage_based}


def estimate_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The cost difference between two plans, resource by resource."""
    old = {line["urn"]: line for line in before["resources"]}
    new = {line["urn"]: line for line in after["resources"]}
    changes = []
    for urn in sorted(set(old) | set(new)):
        was, now = old.get(urn, {}).get("monthlyUsd", 0.0), new.get(urn, {}).get("monthlyUsd", 0.0)
        if round(now - was, 2):
            line = new.get(urn) or old[urn]
            changes.append({"name": line["name"], "type": line["type"], "fromUsd": was, "toUsd": now,
                            "changeUsd": round(now - was, 2),
                            "basis": f"{old.get(urn, {}).get('basis', '(none)')} -> {new.get(urn, {}).get('basis', '(removed)')}"})
    return {"fromUsd": before["totalMonthlyUsd"], "toUsd": after["totalMonthlyUsd"],
            "changeUsd": round(after["totalMonthlyUsd"] - before["totalMonthlyUsd"], 2), "changes": changes}
