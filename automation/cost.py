"""`scraper-ops cost review` (Cost Explorer) and `scraper-ops cost estimate` (the planned resources priced).

The estimate prices what a plan declares with the dated price table (automation/prices.py: a refresh
from the AWS Price List Query API cached in the project, else the snapshot shipped in
`automation/data/prices.json`): fixed monthly costs (database instances and storage; the pods of the app at
the HPA minimum, of KEDA and of the metrics-server add-on, each as its requested share of the managed node
group's EC2 nodes, the stack's one compute model; keys, alarms, dashboards, secrets and their replicas).
Every other resource is listed with why it is not priced: free, usage-based (requests, transfer, S3
objects, backups), or a fixed cost the table cannot price, which makes the estimate incomplete.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation import prices as price_list
from automation.engine import Plan
from automation.metrics import Query, get_metric_data
from automation.plan import scaling_of
from automation.reports import Chart, Report, Table, Verdict, by_urgency
from contract import metrics as names
from contract.outputs import StackOutputs
from infra.components.workloads import INSTANCE_TYPE_LABEL
from infra.quantities import parse_cpu, parse_memory

COST_METRIC = "UnblendedCost"
GIB = 1024**3


def _month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month `months_back` before the month of `day` (negative: after)."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _stack_filter(tags: dict[str, str]) -> dict[str, Any]:
    conditions = [{"Tags": {"Key": key, "Values": [value]}} for key, value in sorted(tags.items())]
    return conditions[0] if len(conditions) == 1 else {"And": conditions}


# GetCostAndUsage groups "using up to two different groups" (Cost Explorer API reference, GetCostAndUsage
# GroupBy); moto does not enforce it, so the limit is kept here.
MAX_GROUPS = 2


def _groups(ce: Any, start: date, end: date, group_by: list[dict[str, str]],
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


def _by_tag(ce: Any, start: date, end: date, keys: list[str],
            calls: Counter[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{tag key: {month: {tag value: cost}}} over every cost of the account, each tag's values (untagged
    included) from one GetCostAndUsage grouped by the tags, two tags a request as AWS allows."""
    by_tag: dict[str, dict[str, dict[str, float]]] = {key: {} for key in keys}
    for first in range(0, len(keys), MAX_GROUPS):
        chunk = keys[first:first + MAX_GROUPS]
        months = _groups(ce, start, end, [{"Type": "TAG", "Key": key} for key in chunk], None, calls)
        for month, groups in months.items():
            for values, cost in groups.items():
                for key, value in zip(chunk, values):
                    bucket = by_tag[key].setdefault(month, {})
                    bucket[value] = bucket.get(value, 0.0) + cost
    return {key: {m: {v: round(c, 2) for v, c in sorted(g.items())} for m, g in sorted(months.items())}
            for key, months in by_tag.items()}


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
    start, end = _month_start(today, months), today
    tags = outputs.costTags
    services = _groups(ce, start, end, [{"Type": "DIMENSION", "Key": "SERVICE"}], _stack_filter(tags), calls)
    by_service = {m: {key[0]: cost for key, cost in groups.items()} for m, groups in services.items()}
    by_tag = _by_tag(ce, start, end, sorted(tags), calls)
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
    rest, note = _forecast_rest(ce, today, tags, calls)
    per_scrapes = _cost_per_scrapes(cloudwatch, outputs, month_keys, totals, today, calls)
    return CostReview(month_keys, current, by_service, by_tag, totals, movers[:5], budget,
                      sum(by_service.get(current, {}).values()), rest, note, per_scrapes, savings,
                      [f"{name} calls: {n}" for name, n in sorted(calls.items())])


def _forecast_rest(ce: Any, today: date, tags: dict[str, str],
                   calls: Counter[str] | None = None) -> tuple[float | None, str]:
    """Cost Explorer's forecast from today to the end of the month (GetCostForecast returns the period asked;
    its start "must be equal to or no later than the current date", Cost Explorer API reference)."""
    if calls is not None:
        calls["GetCostForecast"] += 1
    try:
        response = ce.get_cost_forecast(
            TimePeriod={"Start": today.isoformat(), "End": _month_start(today, -1).isoformat()},
            Metric="UNBLENDED_COST", Granularity="MONTHLY", Filter=_stack_filter(tags),
        )
    except (ClientError, BotoCoreError) as error:
        return None, f"forecast unavailable: {error}"
    return float(response["Total"]["Amount"]), "month to date plus Cost Explorer's forecast from today to the month's end"


def _cost_per_scrapes(cloudwatch: Any, outputs: StackOutputs, months: list[str], totals: dict[str, float],
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


# A forecast at or over this share of the budget is a warning; over the budget, critical (README, "Reading a report").
BUDGET_WARNING_SHARE = 0.9


def _share(usd: float, budget: float) -> str:
    return f"{100 * usd / budget:,.0f} % of the {budget:,.0f} USD budget" if budget else "no budget set"


def review_verdicts(result: CostReview) -> list[Verdict]:
    """Budget first (months over it, month to date, the forecast), then the biggest rise and the savings."""
    found = [Verdict("critical", f"{m} cost {result.totals[m]:,.0f} USD, {_share(result.totals[m], result.budget)}")
             for m in result.months if m != result.current_month and result.totals.get(m, 0) > result.budget]
    current, spent, forecast = result.current_month, result.month_to_date, result.forecast
    if spent > result.budget:
        found.append(Verdict("critical", f"{current} month to date {spent:,.0f} USD, already over: "
                                         f"{_share(spent, result.budget)}"))
    elif forecast is not None:
        severity = ("critical" if forecast > result.budget else
                    "warning" if forecast >= BUDGET_WARNING_SHARE * result.budget else "ok")
        found.append(Verdict(severity, f"Forecast {forecast:,.0f} USD for {current}, {_share(forecast, result.budget)} "
                                       f"(month to date {spent:,.0f} + rest of the month {result.forecast_rest:,.0f})"))
    else:
        found.append(Verdict("warning", f"No forecast for {current} ({result.forecast_note}); month to date "
                                        f"{spent:,.0f} USD, {_share(spent, result.budget)}"))
    rises = [m for m in result.movers if m["change"] > 0]
    if rises:
        top = rises[0]
        found.append(Verdict("info", f"Biggest rise: {top['service']} +{top['change']:,.0f} USD"
                                     + (f" (+{top['percent']:.0f} %)" if top["percent"] is not None else "")
                                     + " in the last full month"))
    found += [Verdict("info", f"Possible saving {s['monthlySavingUsd']:,.2f} USD/month: {s['resource']}, "
                              f"{_setting(s['from'])} to {_setting(s['to'])}") for s in result.savings]
    return by_urgency(found)


def _setting(value: Any) -> str:
    """A setting as words: {"cpu": "500m", "memory": "512Mi"} -> "CPU 500m and memory 512Mi"."""
    if isinstance(value, dict):
        return " and ".join(f"{'CPU' if key == 'cpu' else key} {item}" for key, item in value.items())
    return str(value)


def savings_table(savings: list[dict[str, Any]]) -> Table:
    return Table("Savings", ("resource", "current", "recommended", "USD per month"),
                 [(s["resource"], _setting(s["from"]), _setting(s["to"]), s["monthlySavingUsd"]) for s in savings]
                 + [("total", "", "", round(sum(s["monthlySavingUsd"] for s in savings), 2))],
                 "Monthly savings priced from the price table: rightsized requests as their share of the node "
                 "group's EC2 nodes at the HPA minimum of pods; an idle database one instance size down.")


def services_by_spend(result: CostReview) -> list[str]:
    spend: dict[str, float] = {}
    for month in result.months:
        for service, cost in result.by_service[month].items():
            spend[service] = spend.get(service, 0.0) + cost
    return sorted(spend, key=lambda s: (-spend[s], s))


def review_report(result: CostReview, stack: str, created: datetime, with_charts: bool) -> Report:
    """The cost review as a report: verdict, summary, tables by service and by tag, savings, movers, chart."""
    services = services_by_spend(result)
    label = {m: f"{m} (month to date)" if m == result.current_month else m for m in result.months}
    span = f"{result.months[0]} to {result.months[-1]}" if result.months else "no months"
    found = review_verdicts(result)
    alt = (f"Monthly cost by service, {span}, against the {result.budget:,.0f} USD budget: "
           + "; ".join(v.text for v in found if v.severity in ("critical", "warning", "ok")) + ".")
    return Report(
        "cost", f"Cost review, {span}", stack, not result.over_budget, result.to_json(), created=created,
        verdicts=found,
        charts=[Chart("Monthly cost by service (USD)", chart(result, services), alt)] if with_charts and result.months else [],
        summary=[f"budget {result.budget:,.2f} USD/month",
                 f"month to date ({result.current_month}, to yesterday): {result.month_to_date:,.2f} USD",
                 "forecast this month: " + (f"{result.forecast:,.2f} USD (month to date + {result.forecast_rest:,.2f}"
                                            f" forecast from today); {result.forecast_note}"
                                            if result.forecast is not None else f"none: {result.forecast_note}")],
        tables=[
            Table("Cost by service (USD)", ("service", *(label[m] for m in result.months)),
                  [(s, *(result.by_service[m].get(s, 0.0) for m in result.months)) for s in services]
                  + [("total", *(result.totals[m] for m in result.months))],
                  "Unblended cost of the stack's cost-allocation tags, largest service first; the current month "
                  "is month to date, to yesterday."),
            Table("Cost by tag, whole account (USD)", ("tag", "value", *(label[m] for m in result.months)),
                  [(tag, value, *(months.get(m, {}).get(value, 0.0) for m in result.months))
                   for tag, months in result.by_tag.items() for value in sorted({v for m in months.values() for v in m})],
                  "Every cost of the account by each cost-allocation tag's values, untagged included."),
            savings_table(result.savings),
            Table("Top movers, last full month", ("service", "from (USD)", "to (USD)", "change (USD)", "change (%)"),
                  [(m["service"], m["from"], m["to"], m["change"], m["percent"]) for m in result.movers]),
            Table("Cost per 1,000 successful scrapes (USD)", ("month", "cost"),
                  [(label[m], cost) for m, cost in result.cost_per_1000_scrapes.items()]),
        ],
        footer=result.api_calls,
    )


def chart(result: CostReview, services: list[str]) -> bytes:
    """Stacked monthly bars, the largest service at the bottom, each month's total on top; the current month
    marked month to date, with the forecast of its rest as a hatched bar; the budget as a line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4.5), dpi=150)
    labels = [f"{m}\n(month to date)" if m == result.current_month else m for m in result.months]
    bottom = [0.0] * len(result.months)
    for service in services:
        values = [result.by_service[m].get(service, 0.0) for m in result.months]
        axes.bar(labels, values, bottom=bottom, label=service, zorder=2)
        bottom = [b + v for b, v in zip(bottom, values)]
    forecast_at = (result.months.index(result.current_month)
                   if result.current_month in result.months and result.forecast_rest is not None else None)
    for index, total in enumerate(bottom):
        inside = index == forecast_at  # under the forecast bar: the total goes just inside its own bar
        axes.annotate(f"{total:,.0f}", (index, total), textcoords="offset points", xytext=(0, -4 if inside else 3),
                      ha="center", va="top" if inside else "bottom", fontsize=9,
                      bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    if forecast_at is not None:
        index = forecast_at
        axes.bar([labels[index]], [result.forecast_rest], bottom=[bottom[index]], fill=False, hatch="//",
                 edgecolor="0.4", label="forecast, rest of the month", zorder=2)
        axes.annotate(f"forecast {result.forecast:,.0f}", (index, bottom[index] + result.forecast_rest),
                      textcoords="offset points", xytext=(0, 3), ha="center", fontsize=9, fontweight="bold")
    axes.axhline(result.budget, color="tab:red", linestyle="--", linewidth=1.2,
                 label=f"budget {result.budget:,.0f} USD", zorder=3)
    axes.set_ylabel("USD per month")
    axes.set_title("Monthly cost by service (USD)")
    axes.margins(y=0.15)
    axes.grid(axis="y", alpha=0.3, zorder=0)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
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


class Unpriced(Exception):
    """A resource with a fixed monthly cost that the price table cannot price; the message says why."""


@dataclass(frozen=True)
class Pricing:
    monthly_usd: float | None
    basis: str  # how the price was reached, or why there is none
    kind: str  # "fixed" (priced), "free", "usage-based" or "unpriced" (a fixed cost without a price)


# Types with no charge of their own: what they configure is billed on another resource, if at all.
NO_CHARGE = frozenset({
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias", "aws:backup/plan:Plan", "aws:backup/selection:Selection",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sns/topicSubscription:TopicSubscription", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ServiceAccount",
    "kubernetes:keda.sh/v1alpha1:ScaledObject", "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:policy/v1:PodDisruptionBudget",
})
USAGE_BASED = {
    "aws:s3/bucket:Bucket": "storage and requests, billed by use",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "replicated storage and cross-region transfer, billed by use",
    "aws:sqs/queue:Queue": "requests, billed by use",
    "aws:sns/topic:Topic": "publishes and deliveries, billed by use",
    "aws:backup/vault:Vault": "recovery points, billed by GB-month stored",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
        "replicated backups, billed by GB-month stored and cross-region transfer",
    "kubernetes:batch/v1:CronJob": "its pods run on a schedule, billed per run",
    "kubernetes:batch/v1:Job": "its pod runs once, billed for the run",
    # Route 53 prices are global, outside the regional price table.
    "aws:route53/record:Record": "DNS queries, billed by use (queries to an alias of an ELB load balancer are free)",
    "aws:route53/healthCheck:HealthCheck": "a monthly charge per health check from Route 53's global price list, "
                                           "not in the regional price table (not estimated)",
}

# The KEDA chart's pods and their default requests (kedacore/charts keda/values.yaml: `resources.operator`,
# `resources.metricServer`, `resources.webhooks`, one replica each; KEDA docs "Cluster",
# https://keda.sh/docs/latest/operate/cluster/). Values set on the release override them.
KEDA_PODS = {  # resources key: (replicas key, cpu, memory)
    "operator": ("operator", "100m", "100Mi"),
    "metricServer": ("metricsServer", "100m", "100Mi"),
    "webhooks": ("webhooks", "10m", "10Mi"),
}


# The metrics-server EKS add-on: EKS publishes no default replicas or requests for it, so it is priced at the
# upstream chart's (kubernetes-sigs/metrics-server charts/metrics-server/values.yaml: `replicas: 1`,
# `resources.requests` 100m and 200Mi) unless its `configurationValues` set others.
METRICS_SERVER_POD = (1, "100m", "200Mi")


def _rate(regional: dict[str, Any], key: str, where: str) -> float:
    if key not in regional:
        raise Unpriced(f"no {key} price {where}")
    return regional[key]


def _node_type(plan: Plan) -> str:
    """The node group's instance type, as the app's pods are pinned to it (their nodeSelector)."""
    for resource in plan.resources:
        if resource.type == "kubernetes:apps/v1:Deployment":
            selector = ((resource.inputs.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
            if selector.get(INSTANCE_TYPE_LABEL):
                return selector[INSTANCE_TYPE_LABEL]
    raise Unpriced(f"no Deployment is pinned to a node type ({INSTANCE_TYPE_LABEL}): the pods' nodes are unknown")


def _pods_monthly(pods: list[tuple[int, float, float]], node: str, prices: dict[str, Any], region: str, hours: float,
                  where: str) -> float:
    """Monthly price of (replicas, requested vCPU, requested GiB) pods as their share of `node` EC2 nodes."""
    total = 0.0
    for replicas, cpu, memory in pods:
        hourly = pod_hourly(cpu, memory, node, prices, region)
        if hourly is None:
            raise Unpriced(f"no price or shape for the node type {node} {where}")
        total += hours * replicas * hourly
    return total


def _keda_pods(values: dict[str, Any]) -> list[tuple[int, float, float]]:
    requests_by_pod = values.get("resources") or {}
    pods = []
    for key, (replicas_key, cpu, memory) in KEDA_PODS.items():
        settings = values.get(replicas_key) or {}
        if settings.get("enabled") is False:
            continue
        requests = (requests_by_pod.get(key) or {}).get("requests") or {}
        pods.append((int(settings.get("replicaCount", 1)), parse_cpu(str(requests.get("cpu", cpu))),
                     parse_memory(str(requests.get("memory", memory))) / GIB))
    return pods


def _metrics_server_pods(configuration: Any) -> list[tuple[int, float, float]]:
    try:
        values = json.loads(configuration) if isinstance(configuration, str) and configuration else {}
    except json.JSONDecodeError:
        raise Unpriced("its configurationValues are not JSON") from None
    replicas, cpu, memory = METRICS_SERVER_POD
    requests = (values.get("resources") or {}).get("requests") or {}
    return [(int(values.get("replicas", replicas)), parse_cpu(str(requests.get("cpu", cpu))),
             parse_memory(str(requests.get("memory", memory))) / GIB)]


def price_resource(resource: Any, plan: Plan, prices: dict[str, Any], default_region: str) -> Pricing:
    """The monthly price of one resource, how it was reached, or why it has none."""
    type_token = resource.type
    inputs = resource.inputs
    if type_token in NO_CHARGE:
        return Pricing(None, "no charge of its own", "free")
    if type_token in USAGE_BASED:
        return Pricing(None, USAGE_BASED[type_token], "usage-based")
    if type_token == "aws:eks/addon:Addon" and inputs.get("addonName") == "amazon-cloudwatch-observability":
        return Pricing(None, "Container Insights is billed by the metrics and logs it sends, by use; its agent runs "
                             "as DaemonSets on the nodes (not estimated)", "usage-based")
    if type_token == "aws:dynamodb/table:Table" and inputs.get("billingMode") == "PAY_PER_REQUEST":
        return Pricing(None, "on-demand reads, writes and storage, billed by use", "usage-based")
    if type_token == "kubernetes:core/v1:Service" and (inputs.get("spec") or {}).get("type", "ClusterIP") != "LoadBalancer":
        return Pricing(None, "no charge of its own (no load balancer)", "free")
    region = resource.region or default_region
    where = f"for {region} in the {prices['origin']}; run `scraper-ops cost prices refresh`"
    try:
        regional = prices["regions"].get(region)
        if regional is None:
            raise Unpriced(f"no prices {where}")
        return Pricing(*_fixed_price(resource, plan, prices, region, where), "fixed")
    except Unpriced as missing:
        return Pricing(None, str(missing), "unpriced")


def _fixed_price(resource: Any, plan: Plan, prices: dict[str, Any], region: str, where: str) -> tuple[float, str]:
    type_token, inputs = resource.type, resource.inputs
    regional, hours = prices["regions"][region], prices["hoursPerMonth"]
    if type_token == "aws:rds/instance:Instance":
        instance_class = inputs.get("instanceClass")
        hourly = _rate(regional, "rdsInstanceHour", where).get(instance_class)
        if hourly is None:
            raise Unpriced(f"no price for {instance_class} {where}")
        copies = 2 if inputs.get("multiAz") else 1
        storage = inputs.get("allocatedStorage") or _source_storage(resource, plan)
        total = copies * (hourly * hours + storage * _rate(regional, "rdsGp3GbMonth", where))
        return total, f"{instance_class} x{copies} + {storage} GB gp3"
    if type_token == "aws:secretsmanager/secret:Secret":
        copies = 1 + len(inputs.get("replicas") or [])  # each replica is billed as a secret of its own
        return copies * _rate(regional, "secretMonth", where), f"1 secret + {copies - 1} replica(s)"
    if type_token == "aws:kms/key:Key":
        return _rate(regional, "kmsKeyMonth", where), "1 key"
    if type_token == "aws:cloudwatch/metricAlarm:MetricAlarm":
        metrics = [q for q in inputs.get("metricQueries") or [] if q.get("metric")] or [inputs]
        high_resolution = (inputs.get("period") or 60) < 60
        per_metric = _rate(regional, "alarmHighResolutionMetricMonth" if high_resolution else "alarmMetricMonth", where)
        return per_metric * len(metrics), f"{len(metrics)} metric(s)"
    if type_token == "aws:cloudwatch/dashboard:Dashboard":
        return _rate(regional, "dashboardMonth", where), "1 dashboard"
    if type_token == "kubernetes:apps/v1:Deployment":
        containers = inputs["spec"]["template"]["spec"]["containers"]
        cpu = sum(parse_cpu(c["resources"]["requests"]["cpu"]) for c in containers)
        memory = sum(parse_memory(c["resources"]["requests"]["memory"]) for c in containers) / GIB
        replicas = _hpa_minimum(plan, inputs["metadata"]["name"])
        node = _node_type(plan)
        return (_pods_monthly([(replicas, cpu, memory)], node, prices, region, hours, where),
                f"{replicas} pods x ({cpu:g} vCPU + {memory:g} GiB) requested, at the HPA minimum, as their share of "
                f"{node} nodes (managed node group)")
    if type_token == "kubernetes:helm.sh/v3:Release" and inputs.get("chart") == "keda":
        pods = _keda_pods(inputs.get("values") or {})
        return (_pods_monthly(pods, _node_type(plan), prices, region, hours, where),
                f"KEDA's pods are priced: {sum(p[0] for p in pods)} (operator, metrics API server, admission webhooks)"
                f" at the chart's requests, as their share of the node group's nodes")
    if type_token == "aws:eks/addon:Addon" and inputs.get("addonName") == "metrics-server":
        pods = _metrics_server_pods(inputs.get("configurationValues"))
        return (_pods_monthly(pods, _node_type(plan), prices, region, hours, where),
                f"the add-on's pods are priced: {pods[0][0]} metrics-server pod(s) at the upstream chart's requests "
                f"unless configured, as their share of the node group's nodes (EKS add-ons have no charge of their own)")
    if type_token == "kubernetes:helm.sh/v3:Release" and inputs.get("chart") == "aws-load-balancer-controller":
        return 0.0, ("the controller's pods set no requests in the chart's defaults, so they take no share of the "
                     "nodes; the load balancers it makes are priced with their Ingress")
    if type_token == "kubernetes:networking.k8s.io/v1:Ingress" and (inputs.get("spec") or {}).get("ingressClassName") == "alb":
        return (hours * _rate(regional, "albHour", where),
                "1 Application Load Balancer, by the hour (its load balancer capacity units are billed by use)")
    if type_token == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
        return _rate(regional, "compositeAlarmMonth", where), "1 composite alarm"
    if type_token == "kubernetes:helm.sh/v3:Release":
        raise Unpriced(f"the pods of Helm chart {inputs.get('chart')} are not known to the estimate")
    if type_token == "kubernetes:core/v1:Service":
        raise Unpriced("a LoadBalancer Service creates an AWS load balancer, billed by the hour: not in the price table")
    if type_token == "aws:dynamodb/table:Table":
        raise Unpriced("provisioned read and write capacity, billed by the hour: not in the price table")
    raise Unpriced(f"no pricing rule for {type_token}: its cost is unknown")


def _source_storage(replica: Any, plan: Plan) -> int:
    """A read replica has the storage of the instance it replicates."""
    sources = set(replica.property_dependencies.get("replicateSourceDb", []))
    return next((r.inputs.get("allocatedStorage") or 0 for r in plan.resources if r.urn in sources), 0)


def estimate(plan: Plan) -> dict[str, Any]:
    """Every custom resource of the plan priced, or listed as free, usage-based or unpriced with why.
    `complete` is false when a resource with a fixed cost could not be priced."""
    prices = price_list.load()
    region = plan.outputs.get("region")  # the cluster's: Kubernetes resources carry no region of their own
    default_region = region if isinstance(region, str) else next((r.region for r in plan.resources if r.region), "us-east-1")
    by_urn = {r.urn: r for r in plan.resources}
    lines, unpriced, free = [], [], []
    for resource in plan.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        pricing = price_resource(resource, plan, prices, default_region)
        entry = {"urn": resource.urn, "name": resource.name, "type": resource.type, "region": resource.region,
                 "component": _component_of(resource, by_urn)}
        if pricing.monthly_usd is not None:
            lines.append({**entry, "monthlyUsd": round(pricing.monthly_usd, 2), "basis": pricing.basis})
        elif pricing.kind == "free":
            free.append({**entry, "why": pricing.basis})
        else:
            unpriced.append({**entry, "fixedCost": pricing.kind == "unpriced", "why": pricing.basis})
    components: dict[str, float] = {}
    for line in lines:
        components[line["component"]] = round(components.get(line["component"], 0.0) + line["monthlyUsd"], 2)
    return {"stack": plan.stack,
            "prices": {"date": prices["date"], "source": prices["source"], "origin": prices["origin"]},
            "totalMonthlyUsd": round(sum(line["monthlyUsd"] for line in lines), 2), "byComponent": components,
            "resources": lines, "unpriced": unpriced, "free": free,
            "complete": not any(line["fixedCost"] for line in unpriced)}


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
