"""`scraper-ops smoke`: the guide's smoke-tests.sh as code, with bounded timeouts and retries."""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import requests

from contract import metrics as names
from contract.outputs import SmokeChecks

SUITES = ("all", "health", "api", "scrapers")
# The latency clock and the retry backoff's sleep, read at each call: tests run the checks on a simulated clock.
CLOCK: Callable[[], float] = time.perf_counter
SLEEP: Callable[[float], None] = time.sleep
HEALTHY_SCRAPER_STATES = {"ok", "healthy", "idle", "running"}


@dataclass
class CheckResult:
    name: str
    url: str
    ok: bool
    status: int | None
    latency_seconds: float | None
    attempts: int
    detail: str


@dataclass
class SmokeResult:
    suite: str
    base_url: str
    checks: list[CheckResult]
    p95_seconds: float | None
    objective_seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "baseUrl": self.base_url,
            "ok": self.ok,
            "p95Seconds": self.p95_seconds,
            "objectiveSeconds": self.objective_seconds,
            "problems": self.problems,
            "checks": [asdict(c) for c in self.checks],
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile, as CloudWatch reports pNN for small samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _scrapers_healthy(body: Any) -> str | None:
    """None when every scraper reports a healthy state, else what is wrong."""
    scrapers = body.get("scrapers") if isinstance(body, dict) else None
    if not isinstance(scrapers, list) or not scrapers:
        return "response has no 'scrapers' list"
    failing = [
        f"{s.get('name', '?')}={s.get('status', '?')}" for s in scrapers
        if not isinstance(s, dict) or str(s.get("status", "")).lower() not in HEALTHY_SCRAPER_STATES
    ]
    return f"scrapers failing: {', '.join(failing)}" if failing else None


def _json_object(body: Any) -> str | None:
    return None if isinstance(body, (dict, list)) else "response is not a JSON document"


@dataclass(frozen=True)
class Check:
    name: str
    path: str
    validate_json: Callable[[Any], str | None] | None = None


def checks_for(suite: str, paths: SmokeChecks) -> list[Check]:
    health = [Check("health", paths.health), Check("readiness", paths.readiness)]
    api = [Check("api", paths.api, _json_object)]
    scrapers = [Check("scrapers", paths.scrapers, _scrapers_healthy)]
    return {"health": health, "api": api, "scrapers": scrapers, "all": health + api + scrapers}[suite]


def run_check(
    session: requests.Session, base_url: str, check: Check, timeout: float, retries: int, backoff: float
) -> CheckResult:
    """One check with at most `retries` retries on connection errors, timeouts and 5xx; never on 4xx."""
    url = base_url.rstrip("/") + check.path
    detail = ""
    status = None
    latency = None
    attempt = 0
    for attempt in range(1, retries + 2):
        started = CLOCK()
        try:
            response = session.get(url, timeout=(min(timeout, 3.0), timeout), allow_redirects=False)
        except requests.Timeout:
            status, latency, detail = None, None, f"no answer within {timeout:g} s"
        except requests.ConnectionError as error:
            status, latency = None, None
            detail = f"cannot connect: {_root_cause(error)}"
        else:
            latency = CLOCK() - started
            status = response.status_code
            if status == 200:
                problem = None
                if check.validate_json is not None:
                    try:
                        problem = check.validate_json(response.json())
                    except ValueError:
                        problem = "response is not JSON"
                return CheckResult(check.name, url, problem is None, status, latency, attempt, problem or "ok")
            detail = f"HTTP {status}"
            if status < 500:
                break
        if attempt <= retries:
            SLEEP(backoff * 2 ** (attempt - 1))
    return CheckResult(check.name, url, False, status, latency, attempt, detail)


def _root_cause(error: BaseException) -> str:
    """The operating system's reason inside requests' nested connection errors ("Connection refused")."""
    text = str(error)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1).strip() if match else text


def run_smoke(
    base_url: str,
    paths: SmokeChecks,
    suite: str,
    objective_seconds: float,
    timeout: float = 5.0,
    retries: int = 2,
    backoff: float = 0.5,
) -> SmokeResult:
    with requests.Session() as session:
        session.headers["User-Agent"] = "scraper-ops-smoke"
        results = [run_check(session, base_url, c, timeout, retries, backoff) for c in checks_for(suite, paths)]
    latencies = [r.latency_seconds for r in results if r.ok and r.latency_seconds is not None]
    p95 = percentile(latencies, 95)
    problems = [f"{r.name} ({r.url}): {r.detail}" for r in results if not r.ok]
    if p95 is not None and p95 > objective_seconds:
        problems.append(f"p95 latency {p95:.3f} s is above the objective of {objective_seconds:g} s")
    return SmokeResult(suite, base_url, results, p95, objective_seconds, problems)


def publish(cloudwatch: Any, namespace: str, stack: str, result: SmokeResult) -> None:
    """What the uptime alarm and the metrics report read: 1/0 per run, and the run's p95 latency."""
    dimensions = [{"Name": names.STACK_DIMENSION, "Value": stack}]
    data = [{"MetricName": names.SMOKE_SUCCESS, "Dimensions": dimensions, "Value": 1.0 if result.ok else 0.0,
             "Unit": "Count"}]
    if result.p95_seconds is not None:
        data.append({"MetricName": names.SMOKE_LATENCY, "Dimensions": dimensions, "Value": result.p95_seconds,
                     "Unit": "Seconds"})
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
