"""What the alarms, the dashboard, the capacity report and the ops reports measure: one definition each.

Pod CPU and memory as the HPA sees them. KEDA's `cpu` and `memory` triggers with `metricType: Utilization` are
percentages of the pod's *request* (KEDA docs, "CPU" and "Memory" scalers; Kubernetes "Horizontal Pod
Autoscaling": utilization is "a percentage of the equivalent resource request"). Container Insights publishes
`pod_cpu_utilization_over_pod_limit` and `pod_memory_utilization_over_pod_limit`, percentages of the pod's
*limit* (CloudWatch User Guide, "Amazon EKS and Kubernetes Container Insights metrics": usage / limit). So

    percent of request = percent of limit * limit / request

which the alarms apply as CloudWatch metric math over the published metric, and the capacity report applies
to the same series it reads.

Availability, latency and request rate come from the Application Load Balancer in front of the app
(namespace `AWS/ApplicationELB`, dimension `LoadBalancer` = the ALB ARN's suffix `app/<name>/<id>`; CloudWatch
metrics for your Application Load Balancers, Elastic Load Balancing User Guide). 5xx from the targets and from
the load balancer itself (502/503/504: no healthy target, target timeouts) are the bad requests.

SLOs follow the SRE workbook ("Alerting on SLOs", multiwindow, multi-burn-rate alerts): the error budget is
1 - SLO over 30 days; a burn rate B over a window means the error ratio in that window is B * (1 - SLO).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from infra.quantities import parse_cpu, parse_memory

CONTAINER_INSIGHTS = "ContainerInsights"
POD_OVER_LIMIT = {"cpu": "pod_cpu_utilization_over_pod_limit", "memory": "pod_memory_utilization_over_pod_limit"}


@dataclass(frozen=True)
class RequestRelative:
    """Pod utilization as a percent of the request, from Container Insights' percent of the limit."""

    resource: str  # "cpu" or "memory"
    factor: float  # limit / request

    @property
    def metric(self) -> str:
        return POD_OVER_LIMIT[self.resource]

    def expression(self, metric_id: str) -> str:
        """The metric math that turns the published series (id `metric_id`) into percent of the request."""
        return f"{metric_id} * {self.factor!r}"

    def of_limit_percent(self, percent_of_limit: float) -> float:
        return percent_of_limit * self.factor


class _Quantities(Protocol):
    cpu: str
    memory: str


class RequestsAndLimits(Protocol):
    """The app's config (`AppConfig`) or the stack output `sizing`: both carry the pods' requests and limits."""

    requests: _Quantities
    limits: _Quantities


def request_relative(app: RequestsAndLimits, resource: str) -> RequestRelative:
    if resource == "cpu":
        return RequestRelative("cpu", parse_cpu(app.limits.cpu) / parse_cpu(app.requests.cpu))
    if resource == "memory":
        return RequestRelative("memory", parse_memory(app.limits.memory) / parse_memory(app.requests.memory))
    raise ValueError(f"no request-relative utilization for {resource!r}; use cpu or memory")


# Application Load Balancer ---------------------------------------------------------------------------------

ALB_NAMESPACE = "AWS/ApplicationELB"
ALB_DIMENSION = "LoadBalancer"
ALB_REQUESTS = "RequestCount"
ALB_TARGET_5XX = "HTTPCode_Target_5XX_Count"
ALB_ELB_5XX = "HTTPCode_ELB_5XX_Count"
ALB_RESPONSE_TIME = "TargetResponseTime"  # seconds; percentiles are published (p95)
# Bad requests over all requests; FILL: an interval with requests but no 5xx publishes no 5xx datapoint.
ERROR_RATIO_EXPRESSION = "(FILL(target_5xx, 0) + FILL(elb_5xx, 0)) / requests"
ERROR_RATIO_METRICS = {"requests": ALB_REQUESTS, "target_5xx": ALB_TARGET_5XX, "elb_5xx": ALB_ELB_5XX}


def error_ratio_queries(load_balancer: Any, period: int, percent: bool = False) -> list[dict[str, Any]]:
    """Alarm metric queries (pulumi-aws form): the share of bad requests at the ALB over `period`, as a
    fraction (the SLO's unit) or in percent (the guide's error-rate unit)."""
    queries: list[dict[str, Any]] = [
        {
            "id": query_id,
            "return_data": False,
            "metric": {
                "namespace": ALB_NAMESPACE,
                "metric_name": name,
                "dimensions": {ALB_DIMENSION: load_balancer},
                "period": period,
                "stat": "Sum",
            },
        }
        for query_id, name in ERROR_RATIO_METRICS.items()
    ]
    expression = f"100 * {ERROR_RATIO_EXPRESSION}" if percent else ERROR_RATIO_EXPRESSION
    label = "error rate (%)" if percent else "error ratio"
    queries.append({"id": "error_ratio", "expression": expression, "label": label, "return_data": True})
    return queries


# SLOs ------------------------------------------------------------------------------------------------------

SLO_WINDOW_DAYS = 30


@dataclass(frozen=True)
class BurnWindow:
    """Alert when the error budget burns `factor` times too fast over `long_seconds`, confirmed over `short_seconds`."""

    severity: str  # page | ticket
    factor: float
    long_seconds: int
    short_seconds: int

    @property
    def key(self) -> str:
        return f"{self.severity}-{self.factor:g}x-{span(self.long_seconds)}"

    def threshold(self, availability_percent: float) -> float:
        """The error ratio at which this window alarms: factor x (1 - SLO)."""
        return round(self.factor * error_budget(availability_percent), 12)


def span(seconds: int) -> str:
    """A window as people write it: 300 -> 5m, 3600 -> 1h, 259200 -> 3d."""
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


# SRE workbook, "Alerting on SLOs", table "Recommended parameters for a 99.9% SLO alerting configuration".
BURN_WINDOWS = (
    BurnWindow("page", 14.4, 3600, 300),
    BurnWindow("page", 6.0, 6 * 3600, 1800),
    BurnWindow("ticket", 1.0, 3 * 86400, 6 * 3600),
)


def error_budget(availability_percent: float) -> float:
    """The allowed share of bad requests: 1 - SLO (0.001 for 99.9 %, rounded off the float noise of 1 - 0.999)."""
    return round(1 - availability_percent / 100, 12)


def slo_label(availability_percent: float) -> str:
    """`99.9` -> `99-9`: the SLO as it appears in alarm names."""
    return f"{availability_percent:g}".replace(".", "-")


def slo_alarm_key(availability_percent: float, window: BurnWindow) -> str:
    """The key of a burn-rate alert in the stack output `sloAlarms` (and the end of its alarm name)."""
    return f"slo-{slo_label(availability_percent)}-{window.key}"


def budget_remaining(bad: float, total: float, availability_percent: float) -> float | None:
    """Share of the error budget left (1.0 untouched, 0 spent, negative overspent); None without traffic."""
    if not total:
        return None
    return 1 - burn_rate(bad, total, availability_percent)


def burn_rate(bad: float, total: float, availability_percent: float) -> float | None:
    """How many times faster than allowed the budget burns: (bad / total) / (1 - SLO)."""
    if not total:
        return None
    budget = error_budget(availability_percent)
    return (bad / total) / budget if budget else (float("inf") if bad else 0.0)
