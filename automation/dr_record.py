"""The record of a DR failover or failback (also the state an interrupted run resumes from) and its store."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable

from botocore.exceptions import ClientError

from automation.aws import error_code
from automation.reports import Report, Table

# The state of a failover or failback in the standby's ops bucket, apart from the reports (`failover/`,
# `failback/`) and from the drill's `dr/` reports that the checklists read.
RECORDS = "dr-records"


class Refused(Exception):
    """A precondition is not met: nothing more is done, the record says why."""


@dataclass
class Waits:
    """How long to wait for RDS and how often to look; the clock and sleep are injectable."""

    delay_seconds: float = 30.0
    promote_timeout_seconds: float = 3600.0
    replica_timeout_seconds: float = 3 * 3600.0
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Options:
    reason: str
    force: bool = False
    accept_data_loss: bool = False
    dry_run: bool = False
    smoke_url: str | None = None
    smoke_timeout: float = 5.0


@dataclass
class Step:
    name: str
    outcome: str  # done, already done, would run, refused, failed
    detail: str
    at: str


@dataclass
class Record:
    """The failover (or failback) record: also the state an interrupted run resumes from."""

    kind: str  # failover or failback
    run_id: str
    stack: str
    standby_stack: str
    reason: str
    owner: str
    started: str
    runs: list[str] = field(default_factory=list)  # when each run (the first and every resume) began
    outcome: str = "in progress"  # in progress, completed, refused, failed, dry run
    scope: str = "region: the app moves to the standby stack next to the promoted database"
    primary: str | None = None  # the evidence that the primary is impaired (or that --force was used)
    lag_seconds: float | None = None  # ReplicaLag just before promotion: the data at risk
    lag_observed_at: str | None = None
    accepted_data_loss: str | None = None
    promoted_at: str | None = None
    data_loss_window: dict[str, Any] | None = None
    replica_id: str | None = None  # failback: the new replica in the original region
    source_id: str | None = None  # failback: the promoted DR instance it replicates from
    objects_copied: int | None = None  # failback: objects written in the DR region, copied back
    serving_since: str | None = None  # failover: the standby's app passed the smoke tests (app ready)
    rto_seconds: float | None = None  # failover: to the public name held on the standby (to app ready without dns)
    notified: str | None = None
    app_ready_seconds: float | None = None  # failover: from the start to the smoke tests passing
    switched_at: str | None = None  # failover: Route 53 holds the public name on the standby
    steps: list[Step] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Record":
        return cls(**{**document, "steps": [Step(**s) for s in document.get("steps", [])]})

    def report(self, created: datetime) -> Report:
        window = self.data_loss_window
        return Report(
            kind=self.kind, title=f"DR {self.kind} {self.run_id} of {self.stack}", stack=self.stack,
            ok=self.outcome in ("completed", "dry run"), data=self.to_json(), created=created,
            summary=[f"{self.kind} {self.outcome}; reason: {self.reason}; by {self.owner}; scope: {self.scope}",
                     f"measured RTO: {as_seconds(self.rto_seconds)} ({self._rto_span()})",
                     f"app ready: {as_seconds(self.app_ready_seconds)} (from {self.started} to the smoke tests passing "
                     f"at {self.serving_since or '-'})",
                     "data-loss window: " + window_text(window, self.lag_seconds),
                     *([f"accepted data loss: {self.accepted_data_loss}"] if self.accepted_data_loss else [])],
            tables=[Table("Steps", ("step", "outcome", "at", "detail"),
                          [(s.name, s.outcome, s.at, s.detail) for s in self.steps])],
        )

    def _rto_span(self) -> str:
        if self.switched_at:
            return (f"from {self.started} to the public name held on the standby at {self.switched_at}; resolvers "
                    "follow within the alias record's TTL, 60 s for an ALB alias")
        return f"from {self.started} to the app ready at {self.serving_since or '-'}: no public name was switched"


def window_text(window: dict[str, Any] | None, lag: float | None) -> str:
    if window is None:
        return "none: nothing was promoted"
    if window["seconds"] is None:
        return f"unknown (no ReplicaLag was measured), ending {window['to']}"
    return (f"{window['from']} to {window['to']} ({window['seconds']:.0f} s of writes at risk; "
            f"ReplicaLag {as_seconds(lag)})")


def as_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def iso(moment: datetime) -> str:
    return moment.isoformat()


class RecordStore:
    """The record as JSON in the standby's ops bucket: in the DR region, so it survives the primary region."""

    def __init__(self, s3: Any, bucket: str, key: str):
        self.s3, self.bucket, self.key = s3, bucket, key

    def load(self) -> Record | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return Record.from_json(json.loads(body))

    def save(self, record: Record) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=json.dumps(record.to_json(), indent=2).encode(),
                           ContentType="application/json")
