"""The stack's CloudWatch dashboard: the guide's key metrics and the availability SLO beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contract import metrics
from infra import signals

if TYPE_CHECKING:  # the component imports this module
    from infra.components.monitoring.component import MonitoringArgs


def dashboard_body(args: MonitoringArgs) -> dict[str, Any]:
    """The guide's key metrics (request rate, error rate, response time, resources, queue depth, scraper success)
    and the availability SLO beside them: the SLI over 30 days, the error budget left and the burn rate.

    Long on purpose: the dashboard's grid (x, y of every widget) reads as one layout only in one place."""
    settings = args.settings
    region, dr_region = args.platform.region, args.platform.dr_region
    app = [metrics.STACK_DIMENSION, args.platform.stack]
    alb = [signals.ALB_DIMENSION, args.load_balancer]
    pods = [item for dimension in args.pod_dimensions().items() for item in dimension]
    db = ["DBInstanceIdentifier", args.database.identifier]
    # A standby stack's database is the primary's replica itself, in this stack's region.
    lagging, lag_region = (args.replica, dr_region) if args.replica else (args.database, region)
    availability = settings.availability_percent
    budget = signals.error_budget(availability)

    def widget(title: str, series: list[list[Any]], *, x: int, y: int, stat: str = "Average", where: str = region,
               annotation: float | None = None, period: int = 300, view: str | None = None,
               lines: list[tuple[str, float]] = (), since: str | None = None) -> dict[str, Any]:
        properties: dict[str, Any] = {"title": title, "region": where, "metrics": series, "stat": stat, "period": period}
        if view:
            properties["view"] = view
        if since:  # the widget's own time range, one period over all of it (Dashboard Body Structure: start, setPeriodToTimeRange)
            properties.update(start=since, setPeriodToTimeRange=True)
        horizontal = [{"label": "threshold", "value": annotation}] if annotation is not None else []
        horizontal += [{"label": label, "value": value} for label, value in lines]
        if horizontal:
            properties["annotations"] = {"horizontal": horizontal}
        return {"type": "metric", "x": x, "y": y, "width": 8, "height": 6, "properties": properties}

    def error_ratio_series(prefix: str) -> list[list[Any]]:
        return [
            [signals.ALB_NAMESPACE, metric, *alb, {"id": f"{prefix}{query_id}", "visible": False}]
            for query_id, metric in signals.ERROR_RATIO_METRICS.items()
        ]

    def ratio(prefix: str) -> str:
        return signals.ERROR_RATIO_EXPRESSION.replace("target_5xx", f"{prefix}target_5xx").replace(
            "elb_5xx", f"{prefix}elb_5xx").replace("/ requests", f"/ {prefix}requests")

    def utilization(resource: str) -> list[list[Any]]:
        definition = signals.request_relative(settings, resource)
        return [
            [{"expression": definition.expression(f"{resource}_limit"), "label": f"{resource} % of request",
              "id": f"{resource}_request"}],
            [signals.CONTAINER_INSIGHTS, definition.metric, *pods, {"id": f"{resource}_limit", "visible": False}],
        ]

    thirty_days = signals.SLO_WINDOW_DAYS * 86400
    return {
        "periodOverride": "inherit",  # widgets keep their periods (the burn rate is per hour) whatever the time range
        "widgets": [
            widget("Request rate (ALB)", [[signals.ALB_NAMESPACE, signals.ALB_REQUESTS, *alb]], x=0, y=0, stat="Sum"),
            widget(
                "Error rate (%, 5xx at the ALB)",
                [[{"expression": f"100 * {ratio('')}", "label": "error rate", "id": "rate"}], *error_ratio_series("")],
                x=8, y=0, stat="Sum", annotation=settings.error_rate_percent,
            ),
            widget(
                "Response time (s, ALB targets)",
                [[signals.ALB_NAMESPACE, signals.ALB_RESPONSE_TIME, *alb, {"stat": s, "label": s}] for s in ("p50", "p95", "p99")],
                x=16, y=0, annotation=settings.latency_p95_seconds,
            ),
            widget(
                f"Availability SLO {availability:g}% ({signals.SLO_WINDOW_DAYS} d): SLI and error budget left (%)",
                [
                    [{"expression": f"100 * (1 - {ratio('')})", "label": "availability SLI", "id": "sli"}],
                    [{"expression": f"100 * (1 - {ratio('')} / {budget!r})", "label": "error budget left", "id": "left"}],
                    *error_ratio_series(""),
                ],
                x=0, y=6, stat="Sum", period=thirty_days, view="singleValue", since=f"-P{signals.SLO_WINDOW_DAYS}D",
            ),
            widget(
                "Error budget burn rate (1 h)",
                [[{"expression": f"{ratio('')} / {budget!r}", "label": "burn rate", "id": "burn"}], *error_ratio_series("")],
                x=8, y=6, stat="Sum", period=3600,
                lines=[(f"{w.severity} {w.factor:g}x", w.factor) for w in signals.BURN_WINDOWS],
            ),
            widget(
                "Pod CPU and memory (% of request, the HPA's measure)",
                [*utilization("cpu"), *utilization("memory")],
                x=16, y=6, annotation=settings.cpu_target_percent,
                lines=[("memory target", settings.memory_target_percent)],
            ),
            widget(
                "Queue depth",
                [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.queue.name],
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", args.dead_letter_queue.name],
                ],
                x=0, y=12, stat="Maximum", annotation=settings.queue_depth_target,
            ),
            widget(
                "Scraper success rate (%)",
                [
                    [{"expression": "100 * ok / attempts", "label": "success", "id": "rate"}],
                    [metrics.NAMESPACE, metrics.SCRAPE_SUCCESSES, *app, {"id": "ok", "visible": False}],
                    [metrics.NAMESPACE, metrics.SCRAPE_ATTEMPTS, *app, {"id": "attempts", "visible": False}],
                ],
                x=8, y=12, stat="Sum", annotation=settings.scraper_success_percent,
            ),
            widget(
                "Database",
                [
                    ["AWS/RDS", "CPUUtilization", *db],
                    ["AWS/RDS", "DatabaseConnections", *db],
                    ["AWS/RDS", "FreeStorageSpace", *db, {"yAxis": "right"}],
                ],
                x=16, y=12,
            ),
            widget(
                "DR replica lag (s)",
                [["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", lagging.identifier]],
                x=0, y=18, stat="Maximum", where=lag_region, annotation=settings.rpo_minutes * 60,
            ),
            widget(
                "Smoke tests and backup age",
                [
                    [metrics.NAMESPACE, metrics.SMOKE_SUCCESS, *app, {"stat": "Minimum"}],
                    [metrics.NAMESPACE, metrics.BACKUP_AGE, *app, {"stat": "Maximum", "yAxis": "right"}],
                ],
                x=8, y=18,
            ),
        ]
    }
