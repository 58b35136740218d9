"""`scraper-ops capacity report`: the guide's capacity planning, from CloudWatch and the stack's outputs (`sizing`).

Every series comes from one batched GetMetricData call (paged by NextToken), as
hourly values over the window. For each: p50, p95 and max, a least-squares trend
per day, and the days until the guide's threshold at that trend. Pod CPU and
memory are measured as a share of the pod limit by Container Insights and turned
into a share of the request, which is what the HPA's 70 % and 80 % refer to, by
the same definition the alarms and the dashboard use (`infra.signals`). Node
metrics exist because the app runs on a managed node group's EC2 nodes (the
compute model the cost estimate prices). Requests per hour are the ALB's.

Rooms: `collect` the CloudWatch series of the window; `model` the series' figures, trends and rightsizing;
`report` the verdicts, tables and charts of the report document.
"""

from automation.capacity.collect import HOUR, build_report
from automation.capacity.model import CapacityReport, Series, amount, analyse, linear_fit, rightsize
from automation.capacity.report import (
                                        chart,
                                        charts,
                                        report_of,
                                        rightsizing_table,
                                        series_verdicts,
                                        threshold_table,
                                        verdicts,
)

__all__ = ["HOUR", "CapacityReport", "Series", "amount", "analyse", "build_report", "chart", "charts", "linear_fit",
           "report_of", "rightsize", "rightsizing_table", "series_verdicts", "threshold_table", "verdicts"]
