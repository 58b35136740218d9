"""The capacity report: verdicts, the threshold and rightsizing tables, the charts."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from automation.capacity.model import CapacityReport, Series, amount, linear_fit
from automation.reports import Chart, Report, Table, Verdict, by_urgency, severity_in, when_in_words
from automation.smoke import percentile


def _breach(series: Series) -> tuple[list[bool], str, float] | None:
    """Which hours were past the threshold, the statistic that shows it ("p95", "max" or, where falling is bad,
    "p5", "minimum") and its value; None when no hour was."""
    values = [v for _, v in series.points]
    if series.threshold is None or not values:
        return None
    if series.rising_is_bad:
        past = [v > series.threshold for v in values]
        tail = ("p95", series.p95) if series.p95 is not None and series.p95 > series.threshold else ("max", max(values))
    else:
        past = [v < series.threshold for v in values]
        low = percentile(values, 5)
        tail = ("p5", low) if low < series.threshold else ("minimum", min(values))
    return (past, *tail) if any(past) else None


def series_verdicts(series: Series, now: datetime, window_days: int) -> list[Verdict]:
    """A metric's findings: a breach in the window (however far the mean trend is from the threshold: a
    trend must not hide it), then where the trend meets the threshold."""
    if not series.points or series.threshold is None:
        return []
    found = []
    limit = amount(series.threshold, series.unit)
    side = "above" if series.rising_is_bad else "below"
    breach = _breach(series)
    if breach is not None:
        past, statistic, value = breach
        sustained = statistic in ("p95", "p5")
        found.append(Verdict("critical" if sustained else "warning",
                             f"{series.title} {statistic} already {side} {limit} ({amount(value, series.unit)}; "
                             f"{sum(past)} h in the last {window_days} days)", now.date(), series.key))
    reaches = "reaches" if series.rising_is_bad else "falls to"
    if series.days_to_threshold == 0:
        found.append(Verdict("critical", f"{series.title} trend is already {side} {limit}", now.date(), series.key))
    elif series.days_to_threshold is not None:
        words, due = when_in_words(series.days_to_threshold, now)
        found.append(Verdict(severity_in(series.days_to_threshold) if due else "ok",
                             f"{series.title} {reaches} {limit} {words}", due, series.key))
    else:
        found.append(Verdict("ok", f"{series.title} {reaches} {limit} not within a year (the trend does not head there)",
                             None, series.key))
    return found


def verdicts(report: CapacityReport, now: datetime) -> list[Verdict]:
    """The report's verdict block: every metric's findings, time at the HPA maximum, metrics without data."""
    found = [v for s in report.series for v in series_verdicts(s, now, report.window_days)]
    if report.hours_at_max:
        recommended = (report.rightsizing.get("recommended") or {}).get("maxReplicas")
        advice = f"; raise maxReplicas to {recommended}" if recommended and recommended > report.max_replicas else ""
        found.append(Verdict("warning", f"Running pods at the HPA maximum of {report.max_replicas} for "
                             f"{report.hours_at_max:.0f} h ({100 * report.share_at_max:.1f} % of the window){advice}",
                             None, "pods"))
    silent = [s.title for s in report.series if not s.points]
    if silent:
        found.append(Verdict("warning", f"No data in the window for {', '.join(silent)}: those figures are unknown"))
    return by_urgency(found)


def threshold_table(report: CapacityReport, now: datetime) -> list[tuple[Any, ...]]:
    """Rows of the metrics table: percentiles, trend and when the threshold is reached, in words."""
    rows = []
    for s in report.series:
        reached = "-" if s.threshold is None or not s.points else (
            "already" if s.days_to_threshold == 0 else when_in_words(s.days_to_threshold, now)[0])
        rows.append((s.title, s.unit, s.p50, s.p95, s.max, s.slope_per_day, s.threshold, reached))
    return rows


RIGHTSIZING_ROWS = (  # (label, where in current/recommended)
    ("CPU request", ("requests", "cpu")), ("memory request", ("requests", "memory")),
    ("CPU limit", ("limits", "cpu")), ("memory limit", ("limits", "memory")),
    ("HPA minimum replicas", ("minReplicas",)), ("HPA maximum replicas", ("maxReplicas",)),
)


def rightsizing_table(rightsizing: dict[str, Any], savings: list[dict[str, Any]]) -> Table:
    """Current against recommended requests, limits and HPA bounds, and the monthly saving of the requests
    (KRR-style rows; the saving priced as cost.savings_from_capacity does)."""
    current, recommended = rightsizing["current"], rightsizing.get("recommended") or {}

    def pick(settings: dict[str, Any], path: tuple[str, ...]) -> Any:
        for key in path:
            settings = settings.get(key) if isinstance(settings, dict) else None
        return settings

    rows: list[tuple[Any, ...]] = []
    for label, path in RIGHTSIZING_ROWS:
        now_value, new_value = pick(current, path), pick(recommended, path)
        change = "-" if new_value is None else ("keep" if str(new_value) == str(now_value) else "change")
        rows.append((label, now_value, new_value, change))
    pods = next((s for s in savings if s["resource"] == "app pods (requests)"), None)
    rows.append(("monthly saving of the requests (USD)", None, None, pods["monthlySavingUsd"] if pods else 0.0))
    caption = (rightsizing.get("note") or "Requests: p90 CPU and p95 memory of the window plus 15 %; limits: the "
               "peak plus 30 %; HPA bounds from the pods that ran. The saving prices the requests freed at the HPA "
               "minimum of pods as their share of the node group's EC2 nodes (on-demand price table).")
    return Table("Rightsizing", ("setting", "current", "recommended", "action / USD per month"), rows, caption)


def charts(report: CapacityReport, now: datetime, found: list[Verdict]) -> list[Chart]:
    """A chart per metric with data; its alt text is the metric's most urgent finding."""
    result = []
    for series in report.series:
        if not series.points:
            continue
        about = [v.text for v in found if v.subject == series.key]
        guides = ((report.min_replicas, "HPA minimum"), (report.max_replicas, "HPA maximum")) if series.key == "pods" else ()
        alt = f"{series.title} ({series.unit}) over the last {report.window_days} days: " + (
            "; ".join(about) if about else f"p50 {amount(series.p50 or 0, series.unit)}, max "
                                           f"{amount(series.max or 0, series.unit)}, no threshold") + "."
        result.append(Chart(f"{series.title} ({series.unit})", chart(series, now, report.window_days, guides), alt))
    return result


def report_of(result: CapacityReport, stack: str, now: datetime, savings: list[dict[str, Any]],
              with_charts: bool) -> Report:
    """The capacity review as a report: verdict block, metrics, rightsizing and savings, a chart per metric.
    A critical finding fails it (exit 1)."""
    from automation.cost.report import savings_table

    found = verdicts(result, now)
    return Report(
        "capacity", f"Capacity report, last {result.window_days} days", stack,
        not any(v.severity == "critical" for v in found), {**result.to_json(), "savings": savings}, created=now,
        verdicts=found, charts=charts(result, now, found) if with_charts else [],
        summary=[f"{result.hours_at_max:.0f} h ({100 * result.share_at_max:.1f} %) at the HPA maximum of "
                 f"{result.max_replicas} replicas",
                 *[f"trigger {name}: {t['hours']} h" + (f", last {t['last']}" if t["last"] else "")
                   for name, t in result.triggers.items()]],
        tables=[Table("Metrics", ("metric", "unit", "p50", "p95", "max", "trend per day", "threshold",
                                  "trend reaches threshold"), threshold_table(result, now),
                      "Hourly values of the window: percentiles, the least-squares trend and when it meets the "
                      "threshold; free storage falls towards its threshold, the others rise."),
                rightsizing_table(result.rightsizing, savings), savings_table(savings)],
        footer=[f"GetMetricData calls: {result.api_calls}"],
    )


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) indexes of each run of consecutive true flags."""
    runs: list[tuple[int, int]] = []
    for index, flag in enumerate(flags):
        if flag and runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        elif flag:
            runs.append((index, index))
    return runs


def chart(series: Series, now: datetime, window_days: int, guides: tuple[tuple[float, str], ...] = ()) -> bytes:
    """A PNG of the hourly series: data over its trend, the trend dashed on to where it meets the threshold (a
    marker and the date, when that is within the window's length ahead), hours past the threshold shaded, "now",
    HPA bounds as lines; the legend outside the plot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4), dpi=150)
    times = [t for t, _ in series.points]
    values = [v for _, v in series.points]
    axes.plot(times, values, linewidth=1.2, color="tab:blue", label=f"{series.title}, hourly", zorder=3)
    if series.threshold is not None:
        axes.axhline(series.threshold, color="tab:red", linewidth=1,
                     label=f"threshold {amount(series.threshold, series.unit)}", zorder=2)
        breach = _breach(series)
        if breach is not None:
            label = f"{'above' if series.rising_is_bad else 'below'} threshold ({sum(breach[0])} h)"
            for index, (first, last) in enumerate(_runs(breach[0])):
                axes.axvspan(times[first], times[last] + timedelta(hours=1), color="tab:red", alpha=0.2, linewidth=0,
                             label=None if index else label, zorder=1)
    fit = linear_fit([(t - times[0]).total_seconds() / 86400 for t in times], values) if len(times) > 1 else None
    if fit is not None:
        slope, intercept = fit
        days = series.days_to_threshold
        crossing = series.threshold is not None and days is not None and 0 < days <= window_days
        end = now + timedelta(days=days) if crossing else now
        reach = (end - times[0]).total_seconds() / 86400
        axes.plot([times[0], end], [intercept, intercept + slope * reach], color="tab:orange", linestyle="--",
                  linewidth=1.2, label=f"trend {slope:+,.3g} {series.unit}/day", zorder=2)
        if crossing:
            axes.plot([end], [series.threshold], marker="o", markersize=7, color="tab:red", zorder=4,
                      label=f"trend meets threshold {end:%Y-%m-%d}")
            axes.annotate(f"{end:%Y-%m-%d}", (end, series.threshold), textcoords="offset points", xytext=(-8, 8),
                          ha="right", fontsize=9, color="tab:red")
    axes.axvline(now, color="0.3", linestyle=":", linewidth=1, label=f"now ({now:%Y-%m-%d %H:%M} UTC)")
    for (value, label), colour in zip(guides, ("tab:green", "tab:purple")):
        axes.axhline(value, color=colour, linestyle="-.", linewidth=1.2, label=f"{label} {value:g}")
    axes.set_ylabel(series.unit)
    axes.set_title(f"{series.title} ({series.unit}), last {window_days} days")
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    pyplot.close(figure)
    return buffer.getvalue()
