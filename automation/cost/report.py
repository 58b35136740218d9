"""The cost review's report: verdicts against the budget, tables and the chart."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from automation.cost.figures import CostReview
from automation.reports import Chart, Report, Table, Verdict, by_urgency

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
