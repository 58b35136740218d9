"""The requests pulumi-aws 7 sends for CloudWatch alarms and dashboards."""

from __future__ import annotations


from automation.aws_model.mappings.common import REGION, TAGS, TAGS_ALL, dimension_list
from automation.aws_model.translation import Fields, ResourceMapping, To, output


# CloudWatch -------------------------------------------------------------------------------------

METRIC_STAT: Fields = {
    "metricName": To("Metric.MetricName"),
    "namespace": To("Metric.Namespace"),
    "dimensions": To("Metric.Dimensions", convert=dimension_list),
    "period": To("Period"),
    "stat": To("Stat"),
    "unit": To("Unit"),
}

METRIC_QUERY: Fields = {
    "id": To("Id"),
    "expression": To("Expression"),
    "label": To("Label"),
    "returnData": To("ReturnData"),
    "period": To("Period"),
    "accountId": To("AccountId"),
    "metric": To("MetricStat", inner=METRIC_STAT),
}

METRIC_ALARM = ResourceMapping(
    "cloudwatch",
    "PutMetricAlarm",
    {
        "name": To("AlarmName"),
        "alarmDescription": To("AlarmDescription"),
        "actionsEnabled": To("ActionsEnabled"),
        "alarmActions": To("AlarmActions"),
        "okActions": To("OKActions"),
        "insufficientDataActions": To("InsufficientDataActions"),
        "metricName": To("MetricName"),
        "namespace": To("Namespace"),
        "statistic": To("Statistic"),
        "extendedStatistic": To("ExtendedStatistic"),
        "dimensions": To("Dimensions", convert=dimension_list),
        "period": To("Period"),
        "unit": To("Unit"),
        "evaluationPeriods": To("EvaluationPeriods"),
        "datapointsToAlarm": To("DatapointsToAlarm"),
        "threshold": To("Threshold"),
        "thresholdMetricId": To("ThresholdMetricId"),
        "comparisonOperator": To("ComparisonOperator"),
        "treatMissingData": To("TreatMissingData"),
        "evaluateLowSampleCountPercentiles": To("EvaluateLowSampleCountPercentile"),
        "metricQueries": To("Metrics", inner=METRIC_QUERY),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"PutMetricAlarm": {"AlarmName": output("name")}},
)

COMPOSITE_ALARM = ResourceMapping(
    "cloudwatch",
    "PutCompositeAlarm",
    {
        "alarmName": To("AlarmName"),
        "alarmRule": To("AlarmRule"),
        "alarmDescription": To("AlarmDescription"),
        "actionsEnabled": To("ActionsEnabled"),
        "alarmActions": To("AlarmActions"),
        "okActions": To("OKActions"),
        "insufficientDataActions": To("InsufficientDataActions"),
        "actionsSuppressor": To(
            "ActionsSuppressor",
            inner={"alarm": To("ActionsSuppressor"), "waitPeriod": To("ActionsSuppressorWaitPeriod"),
                   "extensionPeriod": To("ActionsSuppressorExtensionPeriod")},
        ),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
)

DASHBOARD = ResourceMapping(
    "cloudwatch",
    "PutDashboard",
    {"dashboardName": To("DashboardName"), "dashboardBody": To("DashboardBody"), "region": REGION},
)
