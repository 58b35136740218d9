"""`scraper-ops cost review` (Cost Explorer) and `scraper-ops cost estimate` (the planned resources priced).

Rooms: `explorer` the review's data (Cost Explorer, CloudWatch); `figures` the review's model (months, movers,
forecast, budget, savings); `report` the review's report document; `estimate` the plan priced with the price table.
"""

from automation.cost.estimate import Pricing, Unpriced, estimate, estimate_diff, price_resource
from automation.cost.figures import CostReview, pod_hourly, review, savings_from_capacity, savings_of_capacity
from automation.cost.report import chart, review_report, review_verdicts, savings_table, services_by_spend

__all__ = ["CostReview", "Pricing", "Unpriced", "chart", "estimate", "estimate_diff", "pod_hourly", "price_resource",
           "review", "review_report", "review_verdicts", "savings_from_capacity", "savings_of_capacity",
           "savings_table", "services_by_spend"]
