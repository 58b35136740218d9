"""Cron expressions between the two dialects the stack speaks: Kubernetes (5 fields) and AWS (6 fields)."""

from __future__ import annotations

import re

_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def aws_cron(expression: str) -> str:
    """`0 5 * * 1-5` -> `cron(0 5 ? * MON-FRI *)`.

    AWS numbers weekdays 1-7 from Sunday and wants `?` in one of the two day
    fields, so weekdays become names and the unused day field becomes `?`.
    """
    minute, hour, day, month, weekday = expression.split()
    if day != "*" and weekday != "*":
        raise ValueError("AWS cron cannot restrict both day of month and weekday")
    if "/" in weekday:
        raise ValueError("AWS cron takes weekday names, not steps, in the weekday field")
    weekday = re.sub(r"\d", lambda m: _WEEKDAYS[int(m.group())], weekday)
    if weekday == "*":
        weekday = "?"
    else:
        day = "?"
    return f"cron({minute} {hour} {day} {month} {weekday} *)"
