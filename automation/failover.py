"""`scraper-ops dr failover|failback`: the disaster-recovery runbook as code.

Strategy, in the terms of AWS's DR whitepaper ("Disaster Recovery of Workloads on AWS", warm standby): the
database runs hot in the DR region as a cross-region read replica of the primary (stack `S`), and the
application tier is a second stack of the same program in the DR region (`S-dr`, `site.role: standby`) with
everything deployed but the app scaled to zero. A failover promotes the replica, scales the standby's app up
through the stack runner (`site.serving: true`, then an update), smoke-tests it, pins the public name's Route 53
failover pair on the standby and announces it; a failback builds a new replica of the promoted instance in the
original region, waits for it to catch up, and switches back in a maintenance window (standby stopped, replica
promoted, data written in the DR region copied back, the name released once the primary stack has adopted the
new instance).

This command handles the loss of the primary *region* (or of the primary database, treated the same way: the
app moves to the standby, next to the promoted database). It never deletes, stops or modifies the old primary.

Every step looks at AWS before acting, and the failover record (in the standby's ops bucket, which lives in the
DR region) is saved after each step: an interrupted run is resumed by running the same command again.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation import smoke as smoke_checks
from automation.aws import Aws, error_code
from automation.errors import BadInput, OpsError
from automation.maintenance import Aborted, OperationsLock, lock_owner
from automation.metrics import Query, get_metric_data
from automation.reports import Report, Table
from automation.runner import StackRunner
from automation.windows import current_window, next_windows
from contract.outputs import StackOutputs
from infra.config import PROJECT

SITE_CONFIG_KEY = "social-media-scraper:site"
SERVING_CONFIG_PATH = f"{SITE_CONFIG_KEY}.serving"
FAILBACK_SUFFIX = "-failback"
COPIED_FROM = "dr-copy-of"  # metadata of an object `dr failback --switch` copied back: the ETag it was copied from
# Instance states in which the primary is doing its job or will be shortly by itself (RDS User Guide, "Viewing
# Amazon RDS DB instance status"); anything else, or no answer from the region, is an impaired primary.
WORKING_STATES = frozenset({
    "available", "backing-up", "modifying", "configuring-enhanced-monitoring", "configuring-iam-database-auth",
    "configuring-log-exports", "maintenance", "storage-optimization", "upgrading", "renaming", "rebooting",
})
LAG_WINDOW = timedelta(minutes=5)
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
    serving_since: str | None = None
    rto_seconds: float | None = None
    notified: str | None = None
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
                     f"measured RTO: {_seconds(self.rto_seconds)} (from {self.started} to serving {self.serving_since or '-'})",
                     "data-loss window: " + _window_text(window, self.lag_seconds),
                     *([f"accepted data loss: {self.accepted_data_loss}"] if self.accepted_data_loss else [])],
            tables=[Table("Steps", ("step", "outcome", "at", "detail"),
                          [(s.name, s.outcome, s.at, s.detail) for s in self.steps])],
        )


def _window_text(window: dict[str, Any] | None, lag: float | None) -> str:
    if window is None:
        return "none: nothing was promoted"
    if window["seconds"] is None:
        return f"unknown (no ReplicaLag was measured), ending {window['to']}"
    return (f"{window['from']} to {window['to']} ({window['seconds']:.0f} s of writes at risk; "
            f"ReplicaLag {_seconds(lag)})")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _iso(moment: datetime) -> str:
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


def describe(rds: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    except ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return None
        raise


def is_replica(instance: dict[str, Any]) -> bool:
    return bool(instance.get("ReadReplicaSourceDBInstanceIdentifier"))


def latest_lag(cloudwatch: Any, instance_id: str, now: datetime) -> tuple[float, datetime] | None:
    """The newest ReplicaLag datapoint (seconds) of the last five minutes, with its time; None when there is none.
    RDS publishes ReplicaLag every minute; a replica whose replication is broken reports -1 or nothing
    (RDS User Guide, "Monitoring read replication"), which is no measurement at all."""
    series = get_metric_data(
        cloudwatch, [Query("lag", "AWS/RDS", "ReplicaLag", "Maximum", (("DBInstanceIdentifier", instance_id),))],
        now - LAG_WINDOW, now, 60,
    )["lag"]
    measured = [(when, value) for when, value in series if value >= 0]
    if not measured:
        return None
    when, value = measured[-1]
    return value, when


def _dns_name(name: str) -> str:
    """Route 53 answers names lower-case with a trailing dot; an ALB alias may carry the `dualstack.` prefix."""
    return name.lower().rstrip(".").removeprefix("dualstack.")


class FailoverDns:
    """The failover pair of the public name (stack output `dns`; infra/components/dns.py), switched through the
    Route 53 API: the primary stack cannot be updated while its region is down (its program reads its cluster
    there). Until the switch is pinned, the PRIMARY's alarm health check already turns unhealthy by itself when the
    primary region stops reporting (insufficient data counts as unhealthy); pinning keeps it so when the region
    comes back."""

    def __init__(self, route53: Any, primary: StackOutputs, standby: StackOutputs):
        self.route53, self.primary, self.standby = route53, primary, standby

    @property
    def name(self) -> str:
        return self.primary.dns.recordName if self.primary.dns else "the public name"

    def _unconfigured(self) -> str | None:
        if self.primary.dns is None:
            return (f"{self.primary.stack} declares no failover record (no dns group): nothing to switch; move the "
                    "public name by hand")
        return None

    def _flags(self) -> dict[str, Any]:
        return self.route53.get_health_check(HealthCheckId=self.primary.dns.healthCheckId)["HealthCheck"][
            "HealthCheckConfig"]

    def pinned(self) -> str | None:
        if unconfigured := self._unconfigured():
            return unconfigured
        flags = self._flags()
        if flags.get("Disabled") and flags.get("Inverted"):
            return f"health check {self.primary.dns.healthCheckId} of the PRIMARY record is held unhealthy"
        return None

    def pin(self) -> str:
        secondary = self._record("SECONDARY", self.standby)
        self._record("PRIMARY", self.primary)
        # Disabled alone would count as healthy; disabled and inverted is unhealthy whatever the alarm says (Route 53
        # API Reference, UpdateHealthCheck: Disabled, Inverted).
        self.route53.update_health_check(HealthCheckId=self.primary.dns.healthCheckId, Disabled=True, Inverted=True)
        return (f"{self.name}: PRIMARY held unhealthy (health check {self.primary.dns.healthCheckId} disabled and "
                f"inverted); Route 53 answers with the SECONDARY record -> {secondary}")

    def released(self) -> str | None:
        if unconfigured := self._unconfigured():
            return unconfigured
        flags = self._flags()
        if not flags.get("Disabled") and not flags.get("Inverted"):
            return f"health check {self.primary.dns.healthCheckId} of the PRIMARY record follows its alarm"
        return None

    def release(self) -> str:
        primary = self._record("PRIMARY", self.primary)
        self.route53.update_health_check(HealthCheckId=self.primary.dns.healthCheckId, Disabled=False, Inverted=False)
        return (f"{self.name}: health check {self.primary.dns.healthCheckId} follows the primary's alarm again; "
                f"Route 53 answers with the PRIMARY record -> {primary}")

    def _record(self, failover: str, stack: StackOutputs) -> str:
        """The stack's record of the pair as Route 53 holds it, checked against what the stack declared."""
        if stack.dns is None:
            raise Aborted(f"{stack.stack} has no dns output: deploy it with the dns group of {self.primary.stack} "
                          f"({self.name}) so that it declares the {failover} record")
        sets = self.route53.list_resource_record_sets(
            HostedZoneId=stack.dns.hostedZoneId, StartRecordName=stack.dns.recordName, StartRecordType="A",
            MaxItems="10")["ResourceRecordSets"]
        found = [r for r in sets if _dns_name(r["Name"]) == _dns_name(stack.dns.recordName) and r["Type"] == "A"
                 and r.get("Failover") == failover and r.get("SetIdentifier") == stack.dns.setIdentifier]
        target = found[0].get("AliasTarget", {}) if found else {}
        if not found or _dns_name(target.get("DNSName", "")) != _dns_name(stack.dns.loadBalancerDnsName):
            raise Aborted(f"no {failover} record {stack.dns.setIdentifier} of {stack.dns.recordName} in zone "
                          f"{stack.dns.hostedZoneId} aliasing {stack.stack}'s ALB {stack.dns.loadBalancerDnsName}: "
                          f"run `pulumi up --stack {stack.stack}`")
        if failover == "PRIMARY" and found[0].get("HealthCheckId") != stack.dns.healthCheckId:
            raise Aborted(f"the PRIMARY record of {stack.dns.recordName} is not tied to health check "
                          f"{stack.dns.healthCheckId}: run `pulumi up --stack {stack.stack}`")
        return _dns_name(target["DNSName"])


class Runbook:
    """The shared machinery of failover and failback: steps, the record, the lock, waiting for RDS."""

    kind = ""

    def __init__(self, aws: Aws, primary: StackOutputs, standby: StackOutputs, runner: StackRunner, options: Options,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), waits: Waits | None = None,
                 say: Callable[[str], None] = lambda line: None):
        if standby.region != primary.drRegion:
            raise BadInput(f"standby stack {standby.stack} runs in {standby.region}, but {primary.stack}'s DR region "
                           f"is {primary.drRegion}; pass the standby stack of {primary.stack}")
        self.aws, self.primary, self.standby, self.runner = aws, primary, standby, runner
        self.options, self.clock, self.waits, self.say = options, clock, waits or Waits(), say
        self.store = RecordStore(aws.dr("s3"), standby.opsBucket, f"{RECORDS}/{primary.stack}/{self.record_name}.json")
        self.lock = OperationsLock(aws.dr("dynamodb"), standby.lockTableName, f"dr/{primary.stack}",
                                   f"{lock_owner()}/{self.kind}")
        self.record: Record

    @property
    def record_name(self) -> str:
        return self.kind

    @property
    def dns(self) -> FailoverDns:
        return FailoverDns(self.aws.client("route53"), self.primary, self.standby)

    @property
    def rpo_seconds(self) -> int:
        return self.primary.objectives.rpoMinutes * 60

    def _begin(self) -> bool:
        """Load the record of an unfinished run, or start one; False when a completed run leaves nothing to do."""
        now = self.clock()
        saved = self.store.load()
        if saved is not None and saved.outcome == "completed":
            self.record = saved
            return False
        if saved is not None:  # a dry run shows what a resume would do, and saves nothing
            self.record = saved
            self.say(f"resuming {self.kind} {saved.run_id} started {saved.started}")
        else:
            self.record = Record(self.kind, f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}", self.primary.stack,
                                 self.standby.stack, self.options.reason, lock_owner(), _iso(now))
        self.record.runs.append(_iso(now))
        return True

    def run(self) -> Record:
        if not self._begin():
            return self.record
        self.serving()  # the standby stack must be reachable (Pulumi CLI, stack) before anything changes
        if self.options.dry_run:
            self._steps()
            self.record.outcome = "dry run"
            return self.record
        self.lock.acquire(self.clock() + timedelta(minutes=self.primary.objectives.rtoMinutes * 2),
                          f"dr {self.kind}: {self.options.reason}")
        try:
            self._steps()
            self.record.outcome = "completed"
        except Refused:
            self.record.outcome = "refused"
        except (Aborted, OpsError, ClientError, BotoCoreError):
            self.record.outcome = "failed"
        finally:
            self.store.save(self.record)
            self.lock.release()
        return self.record

    def _steps(self) -> None:
        raise NotImplementedError

    def step(self, name: str, done: Callable[[], str | None], action: Callable[[], str],
             plan: Callable[[], str] | None = None) -> None:
        """`done` says why the step has nothing left to do (or None); `action` does it; `plan` says what a change
        would do. A step without `plan` only reads and checks, so a dry run runs it for real. Refusals and
        failures are recorded and end the run (a dry run goes on, to show every step)."""
        try:
            already = done()
            if already:
                self._log(name, "already done", already)
                return
            if plan is None and self.options.dry_run:
                self._log(name, "would run", action())
                return
            intent = plan() if plan else name
            if self.options.dry_run:
                self._log(name, "would run", intent)
                return
            self.say(f"[{self.record.run_id}] {name}: {intent}")
            self._log(name, "done", action())
        except Refused as refusal:
            self._log(name, "refused", str(refusal))
            if not self.options.dry_run:
                raise
        except (Aborted, OpsError, ClientError, BotoCoreError) as error:
            self._log(name, "failed", str(error))
            raise
        if not self.options.dry_run:
            self.store.save(self.record)

    def _log(self, name: str, outcome: str, detail: str) -> None:
        self.record.steps.append(Step(name, outcome, detail, _iso(self.clock())))

    def wait_for(self, rds: Any, instance_id: str, ready: Callable[[dict[str, Any]], bool], timeout: float,
                 what: str) -> dict[str, Any]:
        """Poll DescribeDBInstances until `ready`; boto3's waiters cannot wait for the replica link to go."""
        waited = 0.0
        while True:
            instance = describe(rds, instance_id)
            if instance is not None and ready(instance):
                return instance
            if waited >= timeout:
                state = instance.get("DBInstanceStatus") if instance else "missing"
                raise Aborted(f"{instance_id} did not become {what} within {timeout:.0f} s (status {state})")
            self.waits.sleep(self.waits.delay_seconds)
            waited += self.waits.delay_seconds

    def set_serving(self, serving: bool) -> str:
        self.runner.set_config(SERVING_CONFIG_PATH, "true" if serving else "false")
        update = self.runner.up(f"scraper-ops dr {self.kind} {self.record.run_id}: site.serving={serving} "
                                f"({self.options.reason}) by {self.record.owner}")
        return f"{self.standby.stack}: site.serving={str(serving).lower()}, update {update.version} {update.result}"

    def serving(self) -> bool | None:
        site = json.loads(self.runner.get_config().get(SITE_CONFIG_KEY) or "{}")
        return site.get("serving")

    def notify(self, subject: str, message: str) -> str:
        response = self.aws.dr("sns").publish(TopicArn=self.standby.alertsTopicArn, Subject=subject[:100],
                                              Message=message)
        self.record.notified = response["MessageId"]
        return f"published to {self.standby.alertsTopicArn} (message {response['MessageId']})"


class Failover(Runbook):
    kind = "failover"

    def _steps(self) -> None:
        dr_rds = self.aws.dr("rds")
        replica_id = self.primary.dbReplicaId
        replica = describe(dr_rds, replica_id)
        promoted = replica is not None and not is_replica(replica)
        self.step("assess", lambda: f"{replica_id} is promoted already" if promoted else None,
                  lambda: self._assess(replica))
        self.step("measure-lag", lambda: (f"ReplicaLag {_seconds(self.record.lag_seconds)} recorded at "
                                          f"{self.record.lag_observed_at}") if promoted else None,
                  self._measure_lag)
        self.step("promote", lambda: self._promoted(dr_rds), lambda: self._promote(dr_rds),
                  lambda: f"promote {replica_id} in {self.primary.drRegion} to a standalone instance "
                          f"(backups kept {self.primary.dbBackupRetentionDays} days); the old primary is left as it is")
        self.step("activate-standby", lambda: "already serving" if self.record.serving_since else None,
                  lambda: self.set_serving(True),
                  lambda: f"set site.serving=true on {self.standby.stack} (now {self.serving()}) and update it: the "
                          f"app scales up in {self.standby.region}")
        self.step("smoke", lambda: f"passed at {self.record.serving_since}" if self.record.serving_since else None,
                  self._smoke, lambda: f"smoke-test {self.options.smoke_url or self.standby.serviceUrl}")
        self.step("dns", lambda: self.dns.pinned(), self.dns.pin,
                  lambda: f"hold {self.primary.stack}'s PRIMARY record of {self.dns.name} unhealthy (its health "
                          f"check disabled and inverted) once {self.standby.stack}'s SECONDARY record is verified")
        self.step("notify", lambda: f"message {self.record.notified}" if self.record.notified else None,
                  lambda: self.notify(f"Failover completed: {self.primary.stack} -> {self.standby.stack}",
                                      self._summary()),
                  lambda: f"announce on {self.standby.alertsTopicArn}")

    def _assess(self, replica: dict[str, Any] | None) -> str:
        if replica is None:
            raise Refused(f"no instance {self.primary.dbReplicaId} in {self.primary.drRegion}: nothing to fail over to")
        try:
            primary = describe(self.aws.client("rds"), self.primary.dbInstanceId)
            state = primary["DBInstanceStatus"] if primary else "missing"
            evidence = f"{self.primary.dbInstanceId} in {self.primary.region}: {state}"
            impaired = state not in WORKING_STATES
        except (ClientError, BotoCoreError) as error:
            evidence = f"{self.primary.dbInstanceId} in {self.primary.region}: no answer ({error})"
            impaired = True
        if not impaired and not self.options.force:
            raise Refused(f"{evidence}: the primary is not impaired; pass --force to fail over anyway")
        self.record.primary = evidence + ("" if impaired else " (failover forced)")
        return self.record.primary

    def _measure_lag(self) -> str:
        now = self.clock()
        measured = latest_lag(self.aws.dr("cloudwatch"), self.primary.dbReplicaId, now)
        limit = self.rpo_seconds
        if measured is None:
            risk = f"no ReplicaLag of {self.primary.dbReplicaId} in the last {LAG_WINDOW.seconds // 60} minutes: the data at risk is unknown"
        elif measured[0] > limit:
            risk = f"ReplicaLag {measured[0]:.0f} s exceeds the maximum {limit} s (the RPO)"
        else:
            risk = ""
        if risk and not self.options.accept_data_loss:
            raise Refused(f"{risk}; pass --accept-data-loss with --reason TEXT to promote anyway")
        if measured is not None:
            self.record.lag_seconds, observed = measured
            self.record.lag_observed_at = _iso(observed)
        if risk:
            self.record.accepted_data_loss = f"{risk}; accepted: {self.options.reason}"
        return risk + ("; accepted" if risk else f"ReplicaLag {measured[0]:.0f} s (max {limit} s)")

    def _promoted(self, rds: Any) -> str | None:
        instance = describe(rds, self.primary.dbReplicaId)
        if instance is None or is_replica(instance) or instance["DBInstanceStatus"] != "available":
            return None
        if self.record.promoted_at is None:  # promoted by a run interrupted before it could record it
            self._record_promotion(self.clock(), "by an interrupted run, at the latest")
        return f"{self.primary.dbReplicaId} is a standalone instance since {self.record.promoted_at}"

    def _promote(self, rds: Any) -> str:
        instance = describe(rds, self.primary.dbReplicaId)
        if instance is not None and is_replica(instance):
            rds.promote_read_replica(DBInstanceIdentifier=self.primary.dbReplicaId,
                                     BackupRetentionPeriod=self.primary.dbBackupRetentionDays)
            self._record_promotion(self.clock(), "")
            self.store.save(self.record)
        elif self.record.promoted_at is None:  # promoted by a run interrupted before it could record it
            self._record_promotion(self.clock(), "by an interrupted run, at the latest")
        self.wait_for(rds, self.primary.dbReplicaId, lambda i: not is_replica(i) and i["DBInstanceStatus"] == "available",
                      self.waits.promote_timeout_seconds, "a standalone available instance")
        return f"{self.primary.dbReplicaId} promoted at {self.record.promoted_at} and available"

    def _record_promotion(self, moment: datetime, how: str) -> None:
        self.record.promoted_at = _iso(moment) + (f" ({how})" if how else "")
        if self.record.lag_seconds is None or not self.record.lag_observed_at:
            self.record.data_loss_window = {"from": None, "to": _iso(moment), "seconds": None}
            return
        start = datetime.fromisoformat(self.record.lag_observed_at) - timedelta(seconds=self.record.lag_seconds)
        self.record.data_loss_window = {"from": _iso(start), "to": _iso(moment),
                                        "seconds": (moment - start).total_seconds()}

    def _smoke(self) -> str:
        result = smoke_checks.run_smoke(self.options.smoke_url or self.standby.serviceUrl, self.standby.smokeChecks,
                                        "all", self.standby.objectives.latencyP95Seconds,
                                        timeout=self.options.smoke_timeout)
        if not result.ok:
            raise Aborted("smoke tests of the standby failed: " + "; ".join(result.problems)
                          + "; run the failover again once it is fixed")
        now = self.clock()
        self.record.serving_since = _iso(now)
        self.record.rto_seconds = (now - datetime.fromisoformat(self.record.started)).total_seconds()
        return f"all smoke checks pass; measured RTO {self.record.rto_seconds:.0f} s"

    def _summary(self) -> str:
        window = self.record.data_loss_window
        return (f"Failover {self.record.run_id}: {self.primary.stack} now runs as {self.standby.stack} in "
                f"{self.standby.region} on {self.primary.dbReplicaId}. Reason: {self.options.reason}. RTO "
                f"{_seconds(self.record.rto_seconds)}. Data-loss window: {_window_text(window, self.record.lag_seconds)}"
                f". Primary: {self.record.primary}. The old primary was not touched.")


class Failback(Runbook):
    """Phase one (default): a new replica of the promoted instance in the original region, caught up within the
    RPO. Phase two (`switch`), in the primary's maintenance window: the standby's app stops writing, the replica
    catches up and is promoted, the data written in the DR region is copied back, and once the primary stack has
    adopted the new instance (README, "Adopting the failback instance") the public name returns to it."""

    kind = "failback"

    def __init__(self, *args: Any, switch: bool = False, **kwargs: Any):
        self.switch = switch
        super().__init__(*args, **kwargs)

    @property
    def record_name(self) -> str:
        return "failback-switch" if self.switch else "failback"

    def _steps(self) -> None:
        rds = self.aws.client("rds")
        # Kept in the record: once the primary stack has adopted the new instance its outputs name other instances.
        self.source_id = self.record.source_id = self.record.source_id or self.primary.dbReplicaId
        self.replica_id = self.record.replica_id = (self.record.replica_id
                                                    or f"{self.primary.dbInstanceId}{FAILBACK_SUFFIX}")
        self.step("check-failover", lambda: None, self._check_failover)
        self.step("create-replica", lambda: self._replica_exists(rds), lambda: self._create_replica(rds),
                  lambda: f"create {self.replica_id} in {self.primary.region}, a read replica of "
                          f"{self.source_id} ({self.primary.drRegion}) under "
                          f"{self.primary.kmsKeyArn or self.standby.drKmsKeyArn}")
        self.step("catch-up", lambda: self._promoted(rds), self._catch_up,
                  lambda: f"wait until {self.replica_id}'s ReplicaLag is within {self.rpo_seconds} s (the RPO)")
        if not self.switch:
            return
        self.step("window", lambda: None, self._window)
        self.step("standby-down", lambda: "already standing by" if self.serving() is False else None,
                  lambda: self.set_serving(False),
                  lambda: f"set site.serving=false on {self.standby.stack} and update it: its app stops writing to "
                          f"{self.source_id} before the promotion")
        self.step("final-catch-up", lambda: self._promoted(rds), self._catch_up,
                  lambda: f"wait until {self.replica_id}'s ReplicaLag is within {self.rpo_seconds} s now that "
                          "nothing writes; the lag left is the data at risk")
        self.step("promote", lambda: self._promoted(rds), lambda: self._promote(rds),
                  lambda: f"promote {self.replica_id} in {self.primary.region}")
        self.step("copy-data", lambda: None, self._copy_data,
                  lambda: f"copy the objects the app wrote to {self.standby.dataBucket} during the failover into "
                          f"{self.primary.dataBucket} (where missing or older there)")
        self.step("adopted", lambda: None, self._adopted)
        self.step("dns", lambda: self.dns.released(), self.dns.release,
                  lambda: f"let {self.primary.stack}'s PRIMARY record of {self.dns.name} follow its health check "
                          "again (neither disabled nor inverted)")
        self.step("notify", lambda: None,
                  lambda: self.notify(f"Failback completed: {self.standby.stack} -> {self.primary.stack}",
                                      f"Failback {self.record.run_id}: {self.replica_id} in {self.primary.region} is "
                                      f"the writer and {self.primary.stack} serves on it. {self.source_id} and the "
                                      "old primary are left for you to inspect and delete."),
                  lambda: f"announce on {self.standby.alertsTopicArn}")
        self.step("archive", lambda: None, self._archive,
                  lambda: f"move this DR cycle's records to {RECORDS}/{self.primary.stack}/history/ so that the next "
                          "failover starts afresh")

    def _promoted(self, rds: Any) -> str | None:
        instance = describe(rds, self.replica_id)
        if instance is None or is_replica(instance):
            return None
        return f"{self.replica_id} is promoted already ({instance['DBInstanceStatus']})"

    def _copy_data(self) -> str:
        """The standby's app wrote to its own data bucket; S3 replicates that bucket into the original region only
        as the standby's replica bucket, so the objects are copied into the primary's data bucket, each marked with
        the ETag it was copied from (a rerun copies nothing twice). An object the primary wrote later is kept;
        deletions made during the failover are not replayed."""
        source, target = self.standby.dataBucket, self.primary.dataBucket
        dr_s3, s3 = self.aws.dr("s3"), self.aws.client("s3")
        copied = 0
        for page in dr_s3.get_paginator("list_objects_v2").paginate(Bucket=source):
            for item in page.get("Contents", []):
                key, etag = item["Key"], item["ETag"].strip('"')
                try:
                    there = s3.head_object(Bucket=target, Key=key)
                    if there["Metadata"].get(COPIED_FROM) == etag or there["LastModified"] > item["LastModified"]:
                        continue
                except ClientError as error:
                    if error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                        raise
                original = dr_s3.head_object(Bucket=source, Key=key)
                # The managed copy uses multipart UploadPartCopy above 5 GB, where one CopyObject would fail.
                s3.copy({"Bucket": source, "Key": key}, target, key, SourceClient=dr_s3, ExtraArgs={
                    "MetadataDirective": "REPLACE", "Metadata": {**original["Metadata"], COPIED_FROM: etag},
                    "ContentType": original.get("ContentType", "binary/octet-stream")})
                copied += 1
        self.record.objects_copied = (self.record.objects_copied or 0) + copied
        return (f"copied {copied} object(s) from {source} to {target} ({self.record.objects_copied} in this failback); "
                "objects deleted during the failover are not deleted here")

    def _adopted(self) -> str:
        if self.primary.dbInstanceId == self.replica_id:
            return f"{self.primary.stack} declares {self.replica_id} as its database"
        raise Refused(f"{self.primary.stack} still declares {self.primary.dbInstanceId}: adopt {self.replica_id} "
                      "first, then run `dr failback --switch` again. " + "; ".join(adoption_commands(
                          self.primary, self.standby, self.replica_id)))

    def _archive(self) -> str:
        s3, bucket = self.store.s3, self.store.bucket
        moved = []
        for name in ("failover", "failback"):
            key = f"{RECORDS}/{self.primary.stack}/{name}.json"
            try:
                s3.copy_object(Bucket=bucket, Key=f"{RECORDS}/{self.primary.stack}/history/{self.record.run_id}-{name}.json",
                               CopySource={"Bucket": bucket, "Key": key})
            except ClientError as error:
                if error_code(error) not in ("NoSuchKey", "404", "NotFound"):
                    raise
                continue
            s3.delete_object(Bucket=bucket, Key=key)
            moved.append(name)
        return f"archived the {' and '.join(moved) or 'no'} records under {RECORDS}/{self.primary.stack}/history/"

    def _check_failover(self) -> str:
        promoted = describe(self.aws.dr("rds"), self.source_id)
        if promoted is None or is_replica(promoted):
            raise Refused(f"{self.source_id} in {self.primary.drRegion} is not a promoted instance: there "
                          "is nothing to fail back from")
        return f"{self.source_id} is the writer in {self.primary.drRegion} ({promoted['DBInstanceStatus']})"

    def _replica_exists(self, rds: Any) -> str | None:
        instance = describe(rds, self.replica_id)
        if instance is None:
            return None
        return f"{self.replica_id} exists ({instance['DBInstanceStatus']}, source " \
               f"{instance.get('ReadReplicaSourceDBInstanceIdentifier') or 'none: promoted'})"

    def _create_replica(self, rds: Any) -> str:
        source = describe(self.aws.dr("rds"), self.source_id)
        # A cross-region replica names its source by ARN and needs a KMS key of its own region when encrypted
        # (RDS API Reference, CreateDBInstanceReadReplica: SourceDBInstanceIdentifier, KmsKeyId). The primary stack's
        # own key, so that the stack can adopt the instance (an instance's key cannot change: a new key would be a
        # replacement); the standby's "DR" key, in the same region, for stacks deployed before the `kmsKeyArn`
        # output. The standby stack is the same program with the regions swapped: its "DR" subnet group and security
        # groups are the original region's, the primary's database network.
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=self.replica_id, SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion=self.primary.drRegion, KmsKeyId=self.primary.kmsKeyArn or self.standby.drKmsKeyArn,
            DBSubnetGroupName=self.standby.drSubnetGroupName, VpcSecurityGroupIds=self.standby.drSecurityGroupIds,
            DeletionProtection=True, CopyTagsToSnapshot=True,
            Tags=[{"Key": "created-by", "Value": "scraper-ops dr failback"}, {"Key": "stack", "Value": self.primary.stack},
                  *({"Key": k, "Value": v} for k, v in self.primary.costTags.items())],
        )
        self.wait_for(rds, self.replica_id, lambda i: i["DBInstanceStatus"] == "available",
                      self.waits.replica_timeout_seconds, "available")
        return f"{self.replica_id} available in {self.primary.region}, replicating from {self.source_id}"

    def _catch_up(self) -> str:
        cloudwatch = self.aws.client("cloudwatch")
        waited = 0.0
        while True:
            measured = latest_lag(cloudwatch, self.replica_id, self.clock())
            if measured is not None and measured[0] <= self.rpo_seconds:
                self.record.lag_seconds, observed = measured
                self.record.lag_observed_at = _iso(observed)
                return f"ReplicaLag {measured[0]:.0f} s, within the RPO {self.rpo_seconds} s"
            if waited >= self.waits.replica_timeout_seconds:
                raise Aborted(f"{self.replica_id} has not caught up within {waited:.0f} s: ReplicaLag "
                              f"{'unknown' if measured is None else f'{measured[0]:.0f} s'} (RPO {self.rpo_seconds} s); "
                              "run the failback again to keep waiting")
            self.waits.sleep(self.waits.delay_seconds)
            waited += self.waits.delay_seconds

    def _window(self) -> str:
        now = self.clock()
        window = current_window(self.primary.maintenance, now)
        if window is not None:
            return f"inside the maintenance window until {window.end:%H:%M} UTC"
        if self.options.force:
            return f"outside the maintenance window, forced: {self.options.reason}"
        upcoming = next_windows(self.primary.maintenance, now, 1)[0]
        raise Refused(f"the switch back runs in a maintenance window; the next one starts "
                      f"{upcoming.start:%Y-%m-%d %H:%M} UTC (or --force --reason TEXT)")

    def _promote(self, rds: Any) -> str:
        instance = describe(rds, self.replica_id)
        if instance is not None and is_replica(instance):
            rds.promote_read_replica(DBInstanceIdentifier=self.replica_id,
                                     BackupRetentionPeriod=self.primary.dbBackupRetentionDays)
        self.wait_for(rds, self.replica_id, lambda i: not is_replica(i) and i["DBInstanceStatus"] == "available",
                      self.waits.promote_timeout_seconds, "a standalone available instance")
        return f"{self.replica_id} is the writer in {self.primary.region}"


FAILOVER_STEPS = (
    "assess: the primary database must be impaired (not available, or its region not answering), or --force",
    "measure-lag: the replica's newest ReplicaLag is the data at risk; refused above the RPO (or unknown) "
    "unless --accept-data-loss --reason TEXT",
    "promote: the cross-region replica becomes a standalone instance (the old primary is never touched)",
    "activate-standby: site.serving=true on the standby stack, then an update through the stack runner",
    "smoke: the standby's app passes the smoke tests; the measured RTO ends here",
    "dns: the standby's SECONDARY record is verified, then the PRIMARY record's health check is disabled and "
    "inverted so that Route 53 answers with the standby until the failback",
    "notify: the outcome, RTO and data-loss window on the standby's alerts topic",
)


def adoption_commands(primary: StackOutputs, standby: StackOutputs, replica_id: str) -> list[str]:
    """The Pulumi CLI steps that make the primary stack declare the promoted failback instance (and a new DR replica
    of it) under the same logical names; the stack runner has no import, so they are the operator's to run."""
    stack, prefix = primary.stack, f"scraper-{primary.stack}"
    instance_suffix = replica_id.removeprefix(prefix)
    replica_suffix = f"{instance_suffix}-dr"

    def urn(kind: str, name: str) -> str:
        return f"urn:pulumi:{stack}::{PROJECT}::scraper:data:Database${kind}::{name}"

    old_primary, old_replica = urn("aws:rds/instance:Instance", "database-primary"), urn("aws:rds/instance:Instance",
                                                                                          "database-replica")
    parent = f"urn:pulumi:{stack}::{PROJECT}::scraper:data:Database::database"
    provider = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:aws::aws-primary"
    return [
        f"pulumi state unprotect --stack {stack} --yes '{old_primary}'",
        f"pulumi state delete --stack {stack} --yes '{old_primary}'",
        f"pulumi state unprotect --stack {stack} --yes '{old_replica}'",
        f"pulumi state delete --stack {stack} --yes '{old_replica}'",
        f"pulumi config set --stack {stack} --path '{PROJECT}:database.instanceSuffix' -- {instance_suffix}",
        f"pulumi config set --stack {stack} --path '{PROJECT}:dr.replicaSuffix' -- {replica_suffix}",
        f"pulumi import --stack {stack} --yes --protect aws:rds/instance:Instance database-primary {replica_id} "
        f"--parent 'database={parent}' --provider 'aws-primary={provider}'",
        f"pulumi up --stack {stack}",
        f"pulumi config set --stack {standby.stack} --path '{PROJECT}:site.databaseInstanceId' {prefix}{replica_suffix}",
        f"pulumi up --stack {standby.stack}",
    ]
