"""The cost review's figures: months, movers, the forecast against the budget, and what capacity would save."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from automation import prices as price_list
from automation.cost.explorer import (
    cost_groups,
    cost_per_scrapes,
    costs_by_tag,
    forecast_rest,
    month_start,
    stack_filter,
)
from contract.outputs import StackOutputs


@dataclass
class CostReview:
    months: list[str]
    current_month: str
    by_service: dict[str, dict[str, float]]
    by_tag: dict[str, dict[str, dict[str, float]]]
    totals: dict[str, float]
    movers: list[dict[str, Any]]
    budget: float
    month_to_date: float
    forecast_rest: float | None
    forecast_note: str
    cost_per_1000_scrapes: dict[str, float | None]
    savings: list[dict[str, Any]]
    api_calls: list[str] = field(default_factory=list)  # diagnostics: "<operation> calls: n"

    @property
    def forecast(self) -> float | None:
        """The current month's forecast: month to date plus Cost Explorer's forecast of the rest."""
        return None if self.forecast_rest is None else self.month_to_date + self.forecast_rest

    @property
    def over_budget(self) -> list[str]:
        reasons = [f"{m} cost {self.totals[m]:,.2f} USD" for m in self.months
                   if m != self.current_month and self.totals.get(m, 0) > self.budget]
        if self.month_to_date > self.budget:
            reasons.append(f"{self.current_month} month to date {self.month_to_date:,.2f} USD, already over")
        elif self.forecast is not None and self.forecast > self.budget:
            reasons.append(f"{self.current_month} forecast {self.forecast:,.2f} USD (month to date "
                           f"{self.month_to_date:,.2f} + rest of the month {self.forecast_rest:,.2f})")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "months": self.months, "currentMonth": self.current_month, "byService": self.by_service,
            "byTag": self.by_tag, "totals": self.totals, "topMovers": self.movers, "monthlyBudgetUsd": self.budget,
            "monthToDateUsd": round(self.month_to_date, 2),
            "forecastRestOfMonthUsd": None if self.forecast_rest is None else round(self.forecast_rest, 2),
            "forecastUsd": None if self.forecast is None else round(self.forecast, 2),
            "forecastNote": self.forecast_note, "costPer1000SuccessfulScrapes": self.cost_per_1000_scrapes,
            "savings": self.savings, "overBudget": self.over_budget,
        }


def review(ce: Any, cloudwatch: Any, outputs: StackOutputs, budget: float, months: int, today: date,
           savings: list[dict[str, Any]]) -> CostReview:
    """The last `months` full months and the current one to yesterday, for the stack's cost-allocation tags.
    Today is left to the forecast, which starts today, so no day is counted twice or missed."""
    calls: Counter[str] = Counter()
    start, end = month_start(today, months), today
    tags = outputs.costTags
    services = cost_groups(ce, start, end, [{"Type": "DIMENSION", "Key": "SERVICE"}], stack_filter(tags), calls)
    by_service = {m: {key[0]: cost for key, cost in groups.items()} for m, groups in services.items()}
    by_tag = costs_by_tag(ce, start, end, sorted(tags), calls)
    month_keys = sorted(by_service)
    current = today.strftime("%Y-%m")
    totals = {m: round(sum(by_service[m].values()), 2) for m in month_keys}
    movers = []
    full = [m for m in month_keys if m != current]
    if len(full) >= 2:
        last, previous = by_service[full[-1]], by_service[full[-2]]
        for service in set(last) | set(previous):
            change = last.get(service, 0.0) - previous.get(service, 0.0)
            base = previous.get(service, 0.0)
            movers.append({"service": service, "from": round(base, 2), "to": round(last.get(service, 0.0), 2),
                           "change": round(change, 2), "percent": round(100 * change / base, 1) if base else None})
        movers.sort(key=lambda m: abs(m["change"]), reverse=True)
    rest, note = forecast_rest(ce, today, tags, calls)
    per_scrapes = cost_per_scrapes(cloudwatch, outputs, month_keys, totals, today, calls)
    return CostReview(month_keys, current, by_service, by_tag, totals, movers[:5], budget,
                      sum(by_service.get(current, {}).values()), rest, note, per_scrapes, savings,
                      [f"{name} calls: {n}" for name, n in sorted(calls.items())])


IDLE_DATABASE_CPU_P95 = 25.0


def pod_hourly(cpu: float, memory_gib: float, instance_type: str, prices: dict[str, Any], region: str) -> float | None:
    """A pod's share of its node: the larger of its CPU and memory requests as a fraction of the node's, times
    the node's on-demand price (EC2 nodes of a managed node group, the stack's compute model). None: no price."""
    hourly = prices["regions"].get(region, {}).get("ec2InstanceHour", {}).get(instance_type)
    shape = prices.get("ec2InstanceShapes", {}).get(instance_type)
    if hourly is None or shape is None:
        return None
    return hourly * max(cpu / shape["vcpu"], memory_gib / shape["memoryGiB"])


def savings_from_capacity(rightsizing: dict[str, Any], min_replicas: int, region: str,
                          db_cpu_p95: float | None, db_class: str, db_copies: int,
                          instance_type: str) -> list[dict[str, Any]]:
    """Monthly savings the capacity analysis points at: the app's requests rightsized (their share of the node
    group's EC2 nodes at the HPA minimum of pods), and a database whose p95 CPU stays under 25 % moved one size down."""
    prices = price_list.load()
    regional, hours = prices["regions"].get(region), prices["hoursPerMonth"]
    savings: list[dict[str, Any]] = []
    if regional is None:
        return savings
    saved_cpu, saved_memory = rightsizing.get("cpuCoresSavedPerPod"), rightsizing.get("memoryGiBSavedPerPod")
    saved_hourly = pod_hourly(max(saved_cpu or 0, 0), max(saved_memory or 0, 0), instance_type, prices, region)
    if saved_cpu is not None and saved_memory is not None and (saved_cpu > 0 or saved_memory > 0) and saved_hourly:
        monthly = hours * min_replicas * saved_hourly
        savings.append({"resource": "app pods (requests)", "from": rightsizing["current"]["requests"],
                        "to": rightsizing["recommended"]["requests"], "monthlySavingUsd": round(monthly, 2)})
    classes = regional.get("rdsInstanceHour", {})
    family = db_class.rsplit(".", 1)[0]
    smaller = sorted((price, name) for name, price in classes.items()
                     if name.startswith(family + ".") and price < classes.get(db_class, 0))
    if db_cpu_p95 is not None and db_cpu_p95 < IDLE_DATABASE_CPU_P95 and smaller:
        price, name = smaller[-1]
        savings.append({"resource": f"database ({db_class}, p95 CPU {db_cpu_p95:.0f}%)", "from": db_class, "to": name,
                        "monthlySavingUsd": round((classes[db_class] - price) * hours * db_copies, 2)})
    return savings


def savings_of_capacity(outputs: StackOutputs, capacity: Any) -> list[dict[str, Any]]:
    """What a capacity analysis (automation.capacity's result) would save a month, sized by the stack's outputs."""
    db_cpu = next(s for s in capacity.series if s.key == "db_cpu")
    sizing = outputs.sizing
    return savings_from_capacity(capacity.rightsizing, sizing.minReplicas, outputs.region, db_cpu.p95,
                                 sizing.dbInstanceClass, sizing.dbInstances, sizing.nodeInstanceType)
