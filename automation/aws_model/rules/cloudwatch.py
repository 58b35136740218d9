"""CloudWatch: PutMetricAlarm and PutDashboard rules."""

from __future__ import annotations

import re
from typing import Any, Iterator

from automation.aws_model.facts import PlanFacts, json_object, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

PUT_METRIC_ALARM_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
METRIC_DATA_QUERY_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html"
ALARM_ACTIONS_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-actions"
PUT_COMPOSITE_ALARM_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html"
DASHBOARD_BODY_DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"

HIGH_RESOLUTION_PERIODS = (10, 20, 30)
SEVEN_DAYS = 604_800
ONE_DAY = 86_400
TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
# PutMetricAlarm ExtendedStatistic: p90, tm90, tc90, ts90, wm90, IQM, PR(n:m), TC/TM/TS/WM(X%:X%) with X in 10..90.
_NUMBER = r"\d+(?:\.\d+)?"
_PERCENTILE = re.compile(rf"^(p|tm|tc|ts|wm)({_NUMBER})$")
_PERCENT_RANGE = re.compile(rf"^(TC|TM|TS|WM)\(({_NUMBER})%:({_NUMBER})%\)$")
_VALUE_RANGE = re.compile(rf"^PR\((-?{_NUMBER})?:(-?{_NUMBER})?\)$")
METRIC_MEMBERS = ("Namespace", "MetricName", "Dimensions", "Period", "Unit", "Statistic", "ExtendedStatistic")


def valid_extended_statistic(text: str) -> bool:
    if text == "IQM":
        return True
    if match := _PERCENTILE.match(text):
        return 0 <= float(match.group(2)) <= 100
    if match := _PERCENT_RANGE.match(text):
        low, high = float(match.group(2)), float(match.group(3))
        return 10 <= low <= 90 and 10 <= high <= 90 and low < high
    return bool(_VALUE_RANGE.match(text)) and text != "PR(:)"


def _alarm_periods(request: ApiRequest) -> list[tuple[str, Any]]:
    periods = [("Period", request.params.get("Period"))]
    for index, query in enumerate(request.params.get("Metrics") or []):
        if isinstance(query, dict):
            periods.append((f"Metrics[{index}].Period", query.get("Period")))
            periods.append((f"Metrics[{index}].MetricStat.Period", (query.get("MetricStat") or {}).get("Period")))
    return [(path, value) for path, value in periods if isinstance(value, int)]


def alarm_period(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Period: 10, 20, 30 or any multiple of 60 (PutMetricAlarm, Period; MetricDataQuery, Period)."""
    for path, period in _alarm_periods(request):
        if period not in HIGH_RESOLUTION_PERIODS and period % 60:
            yield request.finding("cw-alarm-period", path, f"{period} s is not 10, 20, 30 or a multiple of 60", PUT_METRIC_ALARM_DOC)


def alarm_evaluation_window(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Period x EvaluationPeriods <= 7 days, and <= 1 day when the period is under an hour (PutMetricAlarm, Period)."""
    evaluation_periods = request.params.get("EvaluationPeriods")
    if not isinstance(evaluation_periods, int):
        return
    for path, period in _alarm_periods(request):
        limit = ONE_DAY if period < 3600 else SEVEN_DAYS
        if period * evaluation_periods > limit:
            yield request.finding(
                "cw-alarm-evaluation-window", "EvaluationPeriods",
                f"{evaluation_periods} x {period} s ({path}) = {period * evaluation_periods} s exceeds {limit} s",
                PUT_METRIC_ALARM_DOC,
            )


def alarm_datapoints(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """DatapointsToAlarm is the M of "M out of N", EvaluationPeriods the N (PutMetricAlarm)."""
    datapoints, periods = request.params.get("DatapointsToAlarm"), request.params.get("EvaluationPeriods")
    if isinstance(datapoints, int) and isinstance(periods, int) and datapoints > periods:
        yield request.finding(
            "cw-alarm-datapoints", "DatapointsToAlarm",
            f"{datapoints} datapoints to alarm exceed the {periods} evaluation periods", PUT_METRIC_ALARM_DOC,
        )


def alarm_statistic(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """With MetricName: exactly one of Statistic and ExtendedStatistic; ExtendedStatistic in its documented forms."""
    params = request.params
    extended = params.get("ExtendedStatistic")
    if isinstance(extended, str) and not valid_extended_statistic(extended):
        yield request.finding(
            "cw-alarm-extended-statistic", "ExtendedStatistic",
            f"'{extended}' is not p0-p100, tm/tc/ts/wm<n>, IQM, PR(n:m) or TC/TM/TS/WM(X%:X%) with X in 10-90",
            PUT_METRIC_ALARM_DOC,
        )
    if "MetricName" in params and ("Statistic" in params) == ("ExtendedStatistic" in params):
        yield request.finding(
            "cw-alarm-statistic", "Statistic",
            "an alarm on MetricName needs exactly one of Statistic and ExtendedStatistic", PUT_METRIC_ALARM_DOC,
        )


def alarm_metrics(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Metrics excludes the single-metric members; exactly one query returns data; each query is an expression or a stat."""
    params = request.params
    metrics = params.get("Metrics")
    if metrics is None:
        if "MetricName" not in params and "MetricName" not in request.unknown and "EvaluationCriteria" not in params:
            yield request.finding(
                "cw-alarm-metrics", "MetricName", "an alarm needs MetricName, Metrics or EvaluationCriteria", PUT_METRIC_ALARM_DOC
            )
        return
    for name in METRIC_MEMBERS:
        if name in params:
            yield request.finding("cw-alarm-metrics", name, f"{name} cannot be combined with Metrics (metric math)", PUT_METRIC_ALARM_DOC)
    queries = [q for q in metrics if isinstance(q, dict)]
    returning = [q.get("Id") for q in queries if q.get("ReturnData") is True]
    if len(returning) != 1:
        yield request.finding(
            "cw-alarm-metrics", "Metrics", f"exactly one query must set ReturnData true; {len(returning)} do", PUT_METRIC_ALARM_DOC
        )
    for index, query in enumerate(queries):
        if ("Expression" in query) == ("MetricStat" in query):
            yield request.finding(
                "cw-alarm-metrics", f"Metrics[{index}]", "each query needs exactly one of Expression and MetricStat", METRIC_DATA_QUERY_DOC
            )


def alarm_treat_missing_data(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """TreatMissingData: breaching | notBreaching | ignore | missing (PutMetricAlarm; a free string in the model)."""
    value = request.params.get("TreatMissingData")
    if value is not None and value not in TREAT_MISSING_DATA:
        yield request.finding(
            "cw-alarm-treat-missing-data", "TreatMissingData", f"'{value}' is not one of {', '.join(TREAT_MISSING_DATA)}",
            PUT_METRIC_ALARM_DOC,
        )


def alarm_actions(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Actions are ARNs; an SNS topic must be in the alarm's own region and account (alarm actions, CloudWatch User Guide)."""
    alarm_arn = parse_arn(facts.arns.get(request.urn))
    own_account = alarm_arn.account if alarm_arn else None
    for member in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        for index, action in enumerate(request.params.get(member) or []):
            arn = parse_arn(action)
            path = f"{member}[{index}]"
            if arn is None:
                yield request.finding("cw-alarm-action-arn", path, f"'{action}' is not an ARN", PUT_METRIC_ALARM_DOC)
                continue
            if arn.service != "sns":
                continue
            if request.region and arn.region != request.region:
                yield request.finding(
                    "cw-alarm-action-arn", path,
                    f"SNS topic in {arn.region}; the alarm is in {request.region} and can notify only topics of its own region",
                    ALARM_ACTIONS_DOC,
                )
            if own_account and arn.account != own_account:
                yield request.finding(
                    "cw-alarm-action-arn", path, f"SNS topic of account {arn.account}; the alarm is in {own_account}", ALARM_ACTIONS_DOC
                )


MAX_RULE_ALARMS = 100
_RULE_REFERENCE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+?)"?\s*\)')


def composite_alarm_rule(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """An AlarmRule names at most 100 alarms (PutCompositeAlarm); an alarm of this plan that it names must be in
    the composite alarm's own region, where CloudWatch looks the name up."""
    rule = request.params.get("AlarmRule")
    if not isinstance(rule, str):
        return
    names = _RULE_REFERENCE.findall(rule)
    if not names:
        yield request.finding("cw-composite-rule", "AlarmRule", "the rule names no alarm (ALARM(\"name\"), OK(...), INSUFFICIENT_DATA(...))", PUT_COMPOSITE_ALARM_DOC)
    if len(names) > MAX_RULE_ALARMS:
        yield request.finding("cw-composite-rule", "AlarmRule", f"{len(names)} alarms named; at most {MAX_RULE_ALARMS}", PUT_COMPOSITE_ALARM_DOC)
    planned = {
        other.params.get("AlarmName"): other.region
        for other in facts.requests
        if other.operation in ("PutMetricAlarm", "PutCompositeAlarm") and isinstance(other.params.get("AlarmName"), str)
    }
    for name in names:
        if name in planned and request.region and planned[name] != request.region:
            yield request.finding(
                "cw-composite-rule", "AlarmRule",
                f"names {name}, an alarm in {planned[name]}; the composite alarm is in {request.region}", PUT_COMPOSITE_ALARM_DOC,
            )


# Dashboard body (PutDashboard, "Dashboard Body Structure and Syntax") ---------------------------

WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
MAX_WIDGETS = 500
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def dashboard_body(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """The body is a JSON object with a widgets array (0-500) of placed, typed widgets."""
    body_text = request.params.get("DashboardBody")
    if body_text is None:
        return
    body = json_object(body_text)

    def problem(path: str, message: str) -> Finding:
        return request.finding("cw-dashboard-body", f"DashboardBody{path}", message, DASHBOARD_BODY_DOC)

    if body is None:
        yield problem("", "is not a JSON object")
        return
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        yield problem(".widgets", "the body must have a widgets array")
        return
    if len(widgets) > MAX_WIDGETS:
        yield problem(".widgets", f"{len(widgets)} widgets; at most {MAX_WIDGETS}")
    for index, widget in enumerate(widgets):
        yield from (problem(f".widgets[{index}]{path}", message) for path, message in _widget_problems(widget))


def _widget_problems(widget: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(widget, dict):
        yield "", "a widget must be an object"
        return
    if widget.get("type") not in WIDGET_TYPES:
        yield ".type", f"'{widget.get('type')}' is not one of {', '.join(WIDGET_TYPES)}"
    bounds = {"x": (0, 23), "y": (0, None), "width": (1, 24), "height": (1, 1000)}
    for name, (low, high) in bounds.items():
        value = widget.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            yield f".{name}", f"{value!r} is outside {low}-{high if high is not None else 'any'}"
    properties = widget.get("properties")
    if not isinstance(properties, dict):
        yield ".properties", "a widget needs a properties object"
        return
    if widget.get("type") == "metric":
        yield from _metric_widget_problems(properties)


def _metric_widget_problems(properties: dict[str, Any]) -> Iterator[tuple[str, str]]:
    region = properties.get("region")
    if region is not None and not (isinstance(region, str) and _REGION.match(region)):
        yield ".properties.region", f"{region!r} is not a region name"
    metrics = properties.get("metrics")
    if metrics is None:
        return
    if not isinstance(metrics, list):
        yield ".properties.metrics", "must be an array of metric arrays"
        return
    for index, entry in enumerate(metrics):
        path = f".properties.metrics[{index}]"
        if not isinstance(entry, list) or not entry:
            yield path, "each metric is a non-empty array"
            continue
        values, options = (entry[:-1], entry[-1]) if isinstance(entry[-1], dict) else (entry, None)
        if not values:  # an expression: [{"expression": ..., "id": ...}]
            if options is None or "expression" not in options:
                yield path, "an entry of only an options object must carry an expression"
            continue
        if not all(isinstance(v, str) for v in values):
            yield path, "namespace, metric name and dimension names/values are strings, options an object at the end"
            continue
        if "..." in values or "." in values:
            continue  # shorthand repeating the entry above: its length is that entry's
        if len(values) < 2 or len(values) % 2:
            yield path, "the form is [namespace, metricName, dimensionName, dimensionValue, ..., {options}]"


RULES = {
    "PutMetricAlarm": (
        alarm_period, alarm_evaluation_window, alarm_datapoints, alarm_statistic, alarm_metrics,
        alarm_treat_missing_data, alarm_actions,
    ),
    "PutCompositeAlarm": (composite_alarm_rule, alarm_actions),
    "PutDashboard": (dashboard_body,),
}
