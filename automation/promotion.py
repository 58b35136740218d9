"""`scraper-ops release promote`: a release runs on staging before production, as the guide's migration runbook
asks (back up, run the migration in staging, then in production, verify).

The staging stack goes through the whole maintenance flow with the image (backup, update with the migration Job,
smoke tests, rollback on failure); then staging soaks: for the soak period its SLO signals must hold (error
rate and p95 latency from CloudWatch, the smoke tests). The promotion record, naming the digest and that
evidence, goes to the production stack's ops bucket, where `maintenance run` on production looks for it before
it deploys the digest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation import smoke as smoke_checks
from automation.errors import BadInput
from automation.maintenance import Aborted
from automation.maintenance import Record as MaintenanceRecord
from automation.metrics import Query, get_metric_data
from automation.reports import Report, Table, Verdict
from contract.outputs import StackOutputs
from infra import signals

KIND = "promotions"  # the ops-bucket prefix of promotion records
SAMPLE_MINUTES = 5


def digest_of(image: str) -> str:
    """`repo:tag@sha256:<hex>` -> `sha256:<hex>`: the content a record vouches for, whatever the tag."""
    return image.partition("@")[2]


def record_basename(image: str, created: datetime) -> str:
    return f"{digest_of(image).replace(':', '-')}-{created:%Y%m%dT%H%M%SZ}"


@dataclass
class Sample:
    """One look at staging during the soak."""

    at: str
    error_rate_percent: float | None
    p95_seconds: float | None
    requests: float | None
    smoke_ok: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class Soak:
    minutes: int
    started: str
    ended: str = ""
    samples: list[Sample] = field(default_factory=list)
    breach: str | None = None

    @property
    def held(self) -> bool:
        return self.breach is None and bool(self.samples)


@dataclass
class PromotionRecord:
    image: str
    digest: str
    source: str
    target: str
    owner: str
    staging_maintenance: dict[str, Any] | None = None  # run id, outcome, snapshot, steps of the staging run
    soak: Soak | None = None
    outcome: str = "failed"  # passed or failed
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def report(self, created: datetime) -> Report:
        soak = self.soak
        return Report(
            kind=KIND,
            title=f"Promotion of {self.digest} from {self.source} to {self.target}",
            stack=self.target,
            ok=self.passed,
            data=self.to_json(),
            created=created,
            summary=[f"image {self.image}", f"by {self.owner}",
                     "staging maintenance: " + (f"{self.staging_maintenance['run_id']} "
                                                f"{self.staging_maintenance['outcome']}"
                                                if self.staging_maintenance else "not run"),
                     "soak: " + (f"{soak.minutes} min, " + ("held" if soak.held else f"BREACHED: {soak.breach}")
                                 if soak else "not run")],
            verdicts=[Verdict("ok" if self.passed else "critical",
                              f"Promotion of {self.digest} to {self.target} {self.outcome}"),
                      *[Verdict("critical", f"problem: {p}") for p in self.problems]],
            tables=[Table("Soak samples", ("at", "error rate %", "p95 s", "requests", "smoke", "problems"),
                          [(s.at, s.error_rate_percent, s.p95_seconds, s.requests, "ok" if s.smoke_ok else "FAILED",
                            "; ".join(s.problems)) for s in soak.samples])] if soak else [],
        )


class SoakWatch:
    """Staging's SLO signals since the soak began: error rate and p95 from its ALB (the stack's source of request
    signals, no app change needed), and the smoke tests."""

    def __init__(self, cloudwatch: Any, outputs: StackOutputs, smoke_url: str, smoke_timeout: float = 5.0):
        if outputs.loadBalancer is None:  # checked before the promotion changes anything on staging
            raise BadInput(f"the outputs of {outputs.stack} name no loadBalancer: the soak reads its request, 5xx "
                           "and latency signals from its ALB; update the stack first")
        self.cloudwatch, self.outputs = cloudwatch, outputs
        self.smoke_url, self.smoke_timeout = smoke_url, smoke_timeout

    def sample(self, since: datetime, now: datetime, final: bool) -> Sample:
        objectives = self.outputs.objectives
        alb = ((signals.ALB_DIMENSION, self.outputs.loadBalancer),)
        # One datapoint for the whole soak so far: GetMetricData periods are multiples of 60 s.
        period = max(60, -(-int((now - since).total_seconds()) // 60) * 60)
        series = get_metric_data(self.cloudwatch, [
            Query("requests", signals.ALB_NAMESPACE, signals.ALB_REQUESTS, "Sum", alb),
            Query("target_5xx", signals.ALB_NAMESPACE, signals.ALB_TARGET_5XX, "Sum", alb),
            Query("elb_5xx", signals.ALB_NAMESPACE, signals.ALB_ELB_5XX, "Sum", alb),
            Query("p95", signals.ALB_NAMESPACE, signals.ALB_RESPONSE_TIME, "p95", alb),
        ], since, now + timedelta(seconds=1), period)
        requests = sum(v for _, v in series["requests"]) if series["requests"] else None
        errors = sum(v for _, v in series["target_5xx"]) + sum(v for _, v in series["elb_5xx"])
        error_rate = 100.0 * errors / requests if requests else None
        p95 = max((v for _, v in series["p95"]), default=None)
        smoke = smoke_checks.run_smoke(self.smoke_url, self.outputs.smokeChecks, "all", objectives.latencyP95Seconds,
                                       timeout=self.smoke_timeout)
        problems = []
        if error_rate is not None and error_rate > objectives.errorRatePercent:
            problems.append(f"error rate {error_rate:.2f}% > {objectives.errorRatePercent:g}%")
        if p95 is not None and p95 > objectives.latencyP95Seconds:
            problems.append(f"p95 latency {p95:.3f} s > {objectives.latencyP95Seconds:g} s")
        if not smoke.ok:
            problems.append("smoke tests failed: " + "; ".join(smoke.problems))
        if final and requests is None:
            problems.append(f"no {signals.ALB_REQUESTS} recorded for {self.outputs.stack} during the soak: "
                            "the SLO cannot be shown to hold")
        return Sample(now.isoformat(), error_rate, p95, requests, smoke.ok, problems)


def soak(watch: SoakWatch, minutes: int, clock: Callable[[], datetime], sleep: Callable[[float], None],
         say: Callable[[str], None]) -> Soak:
    """Look every SAMPLE_MINUTES until the soak ends; stop at the first breach."""
    started = clock()
    end = started + timedelta(minutes=minutes)
    result = Soak(minutes, started.isoformat())
    while True:
        now = clock()
        final = now >= end
        sample = watch.sample(started, now, final)
        result.samples.append(sample)
        say(f"soak {now:%H:%M:%S}: error rate {_show(sample.error_rate_percent, '%')}, "
            f"p95 {_show(sample.p95_seconds, ' s')}, smoke {'ok' if sample.smoke_ok else 'FAILED'}")
        if sample.problems:
            result.breach = "; ".join(sample.problems)
            break
        if final:
            break
        sleep(min(SAMPLE_MINUTES * 60.0, (end - now).total_seconds()))
    result.ended = clock().isoformat()
    return result


def _show(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{value:.3f}{unit}"


@dataclass(frozen=True)
class GateVerdict:
    """What `maintenance run` on a production stack found for the image it is asked to deploy."""

    image: str
    required_from: str
    record: str | None  # s3:// URL of the passed promotion record
    overridden: bool
    reason: str
    refusal: str | None  # why the image is not cleared (None when a passed record exists)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def newest_promotion(s3: Any, bucket: str, image: str) -> tuple[str, dict[str, Any]] | None:
    """The newest promotion record of the image's digest in the ops bucket: a later failure outweighs an earlier pass."""
    prefix = f"{KIND}/{digest_of(image).replace(':', '-')}-"
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", []) if item["Key"].endswith(".json")]
    if not keys:
        return None
    key = max(keys)  # the names end in the UTC stamp of the record
    return f"s3://{bucket}/{key}", json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def release_gate(s3: Any, bucket: str, image: str, stack: str, source: str, min_soak_minutes: int,
                 force: bool, reason: str) -> GateVerdict:
    """The gate's verdict. Records that cannot be read clear nothing; a forced (emergency) run goes on and its
    verdict says why the gate could not be checked."""
    try:
        found = newest_promotion(s3, bucket, image)
    except (BotoCoreError, ClientError) as error:
        if not force:
            raise
        return GateVerdict(image, source, None, True, reason, f"the promotion records could not be read: {error}")
    refusal = None
    url = None
    if found is None:
        refusal = f"no promotion record of {digest_of(image)} in s3://{bucket}/{KIND}/"
    else:
        url, record = found
        soaked = (record.get("soak") or {}).get("minutes") or 0
        if not record.get("ok"):
            refusal = f"the newest promotion record of {digest_of(image)} ({url}) FAILED: " + (
                "; ".join(record.get("problems") or []) or "see the record")
        elif (record.get("source"), record.get("target")) != (source, stack):
            refusal = f"{url} promoted from {record.get('source')} to {record.get('target')}, not {source} to {stack}"
        elif soaked < min_soak_minutes:
            refusal = f"{url} soaked {soaked} minutes; {stack} requires {min_soak_minutes} (release.soakMinutes)"
    return GateVerdict(image, source, url if refusal is None else None, force and refusal is not None, reason,
                       refusal)


def staging_evidence(record: MaintenanceRecord) -> dict[str, Any]:
    """What the promotion record keeps of the staging maintenance run."""
    return {"run_id": record.run_id, "outcome": record.outcome, "snapshot_id": record.snapshot_id,
            "update_version": record.update_version, "steps": {s.name: s.outcome for s in record.steps},
            "problems": list(record.problems)}


def promote(image: str, source: str, target: str, staging_run: Any, watch: SoakWatch, soak_minutes: int,
            clock: Callable[[], datetime], sleep: Callable[[float], None], say: Callable[[str], None],
            owner: str) -> tuple[PromotionRecord, MaintenanceRecord | None]:
    """The staging maintenance flow, then the soak; returns the promotion record and the staging run's record.

    A failure on staging (refused, failed, rolled back) stops the promotion before the soak.
    """
    record = PromotionRecord(image, digest_of(image), source, target, owner)
    try:
        maintenance = staging_run.run()
    except Aborted as error:
        record.problems.append(f"staging maintenance refused: {error}; promotion stopped")
        return record, None
    record.staging_maintenance = staging_evidence(maintenance)
    if maintenance.outcome != "succeeded" or maintenance.problems:
        record.problems.append(f"staging maintenance {maintenance.run_id} {maintenance.outcome}: "
                               + ("; ".join(maintenance.problems) or "see its record")
                               + "; promotion stopped before the soak")
        return record, maintenance
    record.soak = soak(watch, soak_minutes, clock, sleep, say)
    if not record.soak.held:
        record.problems.append(f"staging SLO breached during the soak: {record.soak.breach}")
        return record, maintenance
    record.outcome = "passed"
    return record, maintenance
