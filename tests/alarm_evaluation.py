"""CloudWatch alarm evaluation for tests, because moto stores alarms but never evaluates them.

It reads the alarm's metrics from moto with GetMetricData (plain statistics, which moto computes), applies the
alarm's metric math itself and then CloudWatch's "M out of N" rule over the last N periods ending at `at`
(CloudWatch User Guide, "Evaluating an alarm"; missing periods count as the alarm's TreatMissingData says).
It refuses what it does not implement (other metric-math functions, percentiles in math) instead of guessing,
and each supported function behaves as the metric-math reference says: FILL(m, v) puts v where m has no value.
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from typing import Any

COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
MISSING = object()


class Unsupported(ValueError):
    """An expression or alarm shape this evaluator does not model."""


def _evaluate(node: ast.AST, values: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise Unsupported(f"the expression names {node.id}, which is no query of the alarm")
        return values[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FILL" and len(node.args) == 2:
        value = _evaluate(node.args[0], values)
        return _evaluate(node.args[1], values) if value is MISSING else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if left is MISSING or right is MISSING:
            return MISSING  # arithmetic on a series without a datapoint at that time gives no datapoint
        if isinstance(node.op, ast.Div):
            return MISSING if right == 0 else left / right
        return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}[type(node.op)]
    raise Unsupported(f"metric math {ast.dump(node)} is not modelled here")


def expression_value(expression: str, values: dict[str, Any]) -> Any:
    return _evaluate(ast.parse(expression, mode="eval"), values)


def dimension_list(dimensions: dict[str, str]) -> list[dict[str, str]]:
    """Sorted by name: CloudWatch matches dimensions as a set, moto compares the lists in order (a gap of the
    fake), so seeding and reading both use one order."""
    return [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]


def _period_value(cloudwatch: Any, alarm: dict[str, Any], start: datetime, end: datetime) -> Any:
    """The value the alarm sees for one period [start, end): its single metric or its returned expression."""
    queries = alarm.get("metricQueries")
    if not queries:
        raise Unsupported("single-metric alarms are not modelled here; the ones tested use metric math")
    values: dict[str, Any] = {}
    for query in queries:
        metric = query.get("metric")
        if not metric:
            continue
        if not metric["stat"] in ("Average", "Sum", "Minimum", "Maximum", "SampleCount"):
            raise Unsupported(f"statistic {metric['stat']} in metric math is not modelled here")
        response = cloudwatch.get_metric_data(
            MetricDataQueries=[{
                "Id": query["id"],
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric["namespace"], "MetricName": metric["metricName"],
                        "Dimensions": dimension_list(metric.get("dimensions", {})),
                    },
                    "Period": int((end - start).total_seconds()),
                    "Stat": metric["stat"],
                },
            }],
            StartTime=start, EndTime=end,
        )
        found = response["MetricDataResults"][0]["Values"]
        values[query["id"]] = found[0] if found else MISSING
    [returned] = [q for q in queries if q.get("returnData")]
    if "expression" not in returned:
        return values[returned["id"]]
    return expression_value(returned["expression"], values)


def alarm_state(cloudwatch: Any, alarm: dict[str, Any], at: datetime) -> str:
    """ALARM or OK for the alarm (plan inputs) evaluated at `at`: M of the last N periods breaching."""
    period = next(q["metric"]["period"] for q in alarm["metricQueries"] if q.get("metric"))
    periods = alarm["evaluationPeriods"]
    needed = alarm.get("datapointsToAlarm") or periods
    compare = COMPARE[alarm["comparisonOperator"]]
    breaching = 0
    for index in range(periods):
        end = at - timedelta(seconds=period * index)
        value = _period_value(cloudwatch, alarm, end - timedelta(seconds=period), end)
        if value is MISSING:
            breaching += alarm["treatMissingData"] == "breaching"
        elif compare(value, alarm["threshold"]):
            breaching += 1
    return "ALARM" if breaching >= needed else "OK"


def composite_state(rule: str, states: dict[str, str]) -> str:
    """A rule of ALARM("name") terms joined by AND, the form the stack's SLO alerts use."""
    terms = [term.strip() for term in rule.split(" AND ")]
    names = []
    for term in terms:
        if not (term.startswith('ALARM("') and term.endswith('")')):
            raise Unsupported(f"composite rule term {term!r} is not modelled here")
        names.append(term[len('ALARM("'):-2])
    return "ALARM" if all(states[name] == "ALARM" for name in names) else "OK"
