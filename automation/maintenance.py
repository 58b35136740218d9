"""`scraper-ops maintenance next|run|rehearse`: the guide's monthly maintenance window as one unattended run.

Order: window check, operations lock, start notice, alarm actions silenced, backup
(snapshot and DR copy), preview with diff (stop on a stateful replace or delete),
unprotect what the operator allowed to be replaced (after the backup, with the
reason recorded), update (migrations run in it), smoke tests, rollback to the
previous image on a failure after the update, completion notice, record. The
lock, the alarm actions and the record are taken care of on every exit path.
The database is never restored by this code: the pre-maintenance snapshot id is
in the record.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation import backup as backup_job
from automation import smoke as smoke_checks
from automation.aws import Aws
from automation.errors import CheckFailed, OpsError
from automation.progress import Waiting, duration
from automation.reports import Report, Table, Verdict, between_in_words, counts_in_words
from automation.runner import Change, Preview, ProtectedResources, StackRunner
from automation.windows import STEP_BUDGET_MINUTES, Window, current_window, next_windows, window_at
from contract import alarms as alarm_keys
from contract.outputs import Maintenance, StackOutputs

FINISH_STEPS = ("restore-alarms", "announce-end", "unlock")  # run on every exit, the lease held or not
IMAGE_CONFIG_PATH = "social-media-scraper:app.image"


@dataclass
class StepRecord:
    name: str
    started: str
    ended: str
    outcome: str  # ok, failed, skipped
    detail: str
    ids: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    image: str | None = None  # the release to deploy, pinned by digest (repo:tag@sha256:...)
    force: bool = False
    reason: str = ""
    allow_replace: tuple[str, ...] = ()
    smoke_url: str | None = None
    smoke_timeout: float = 5.0
    purpose: str = "maintenance"  # or "promotion": a release promotion's run on staging
    release_gate: dict[str, Any] | None = None  # what the production release gate found (promotion.GateVerdict)


@dataclass
class Record:
    run_id: str
    stack: str
    backend: str
    reason: str
    owner: str
    window: dict[str, str] | None = None
    steps: list[StepRecord] = field(default_factory=list)
    snapshot_id: str | None = None
    previous_image: str | None = None
    new_image: str | None = None
    diff: dict[str, Any] | None = None
    unprotected: list[dict[str, str]] = field(default_factory=list)  # each: urn, type, name, reason, snapshot
    update_version: int | None = None
    rollback: dict[str, Any] | None = None
    outcome: str = "failed"
    problems: list[str] = field(default_factory=list)
    kind: str = "scheduled"  # scheduled, emergency (forced: outside the window or past the release gate), promotion
    release_gate: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        return {"emergency": "EMERGENCY maintenance", "promotion": "Promotion maintenance"}.get(self.kind, "Maintenance")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def report(self, created: datetime) -> Report:
        return Report(
            kind="maintenance",
            title=f"{self.title} {self.run_id}",
            stack=self.stack,
            ok=self.outcome == "succeeded",
            data=self.to_json(),
            created=created,
            summary=[f"{self.kind} maintenance; backend {self.backend}; reason: {self.reason}; by {self.owner}",
                     *_gate_lines(self.release_gate),
                     f"pre-maintenance snapshot: {self.snapshot_id or 'none'}",
                     *([f"run took {between_in_words(self.steps[0].started, self.steps[-1].ended)}"]
                       if self.steps else []),
                     f"image: {self.previous_image} -> {self.new_image or 'unchanged'}",
                     *[f"unprotected for replacement: {u['name']} ({u['type']}), reason: {u['reason']}"
                       for u in self.unprotected]],
            verdicts=[Verdict("ok" if self.outcome == "succeeded" else "critical",
                              f"{self.title} {self.run_id} {self.outcome}"),
                      *[Verdict("critical", f"problem: {p}") for p in self.problems]],
            tables=[Table("Steps", ("step", "outcome", "started", "took", "detail"),
                          [(s.name, s.outcome, s.started, between_in_words(s.started, s.ended), s.detail)
                           for s in self.steps])]
            + ([Table("Changes", ("op", "type", "name", "keys"),
                      [(c["op"], c["type"], c["name"], ", ".join(c["keys"])) for c in self.diff["changes"]])]
               if self.diff else []),
        )


class Aborted(Exception):
    """A step failed before the update: stop, change nothing more."""


# A short lease, renewed by a heartbeat while the run lives: a killed run's lock lapses within minutes, and the next
# run (or `maintenance unlock`) takes it over and re-arms the alarms it left silenced.
LEASE = timedelta(minutes=5)
HEARTBEAT_SECONDS = LEASE.total_seconds() / 5


class LockLost(OpsError):
    """The lease was taken over or unlocked while this run held it: another run may be changing the stack."""


@dataclass(frozen=True)
class Takeover:
    """The lock item a run replaced because its holder had stopped renewing it."""

    owner: str
    reason: str
    renewed: datetime
    expired: datetime
    silenced_alarms: list[str]


class OperationsLock:
    """A DynamoDB item with an owner and a lease, taken with a conditional write: two runs never overlap.

    The holder renews the lease (`renew`) while it runs; an item whose lease has lapsed belongs to a holder that
    stopped renewing (killed), and the next `acquire` takes it over.
    """

    def __init__(self, dynamodb: Any, table: str, lock_id: str, owner: str):
        self.dynamodb, self.table, self.lock_id, self.owner = dynamodb, table, lock_id, owner

    def acquire(self, now: datetime, reason: str) -> Takeover | None:
        """Take the lock; returns what a lapsed holder left (its silenced alarms among it), or None."""
        try:
            response = self.dynamodb.put_item(
                TableName=self.table,
                Item={"lockId": {"S": self.lock_id}, "owner": {"S": self.owner}, "reason": {"S": reason or "-"},
                      "expiresAt": {"N": str(_epoch(now + LEASE))}, "acquiredAt": {"N": str(_epoch(now))},
                      "renewedAt": {"N": str(_epoch(now))}},
                ConditionExpression="attribute_not_exists(lockId) OR expiresAt < :now",
                ExpressionAttributeValues={":now": {"N": str(_epoch(now))}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = self.dynamodb.get_item(TableName=self.table, Key={"lockId": {"S": self.lock_id}}).get("Item", {})
            raise Aborted(f"operations lock {self.lock_id} is held by {_s(held, 'owner')} "
                          f"(lease until {_time(held, 'expiresAt'):%Y-%m-%d %H:%M:%S} UTC, renewed while it runs; "
                          f"reason: {_s(held, 'reason')})") from None
        old = response.get("Attributes")
        if not old:
            return None
        return Takeover(_s(old, "owner"), _s(old, "reason"), _time(old, "renewedAt", "acquiredAt"),
                        _time(old, "expiresAt"), old.get("silencedAlarms", {}).get("SS", []))

    def renew(self, now: datetime) -> None:
        """Extend the lease; LockLost when the item is no longer this holder's."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key={"lockId": {"S": self.lock_id}},
                UpdateExpression="SET expiresAt = :until, renewedAt = :now",
                ConditionExpression="#owner = :me", ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":until": {"N": str(_epoch(now + LEASE))}, ":now": {"N": str(_epoch(now))},
                                           ":me": {"S": self.owner}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise LockLost(f"operations lock {self.lock_id} is no longer held by this run (taken over or unlocked "
                           "by an operator)") from None

    def remember_silenced(self, alarms: list[str]) -> None:
        """Kept in the lock item, so that a run killed before re-arming them is repaired by the next one."""
        if alarms:
            self.dynamodb.update_item(
                TableName=self.table, Key={"lockId": {"S": self.lock_id}},
                UpdateExpression="SET silencedAlarms = :alarms", ExpressionAttributeValues={":alarms": {"SS": alarms}},
            )

    def release(self) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.table, Key={"lockId": {"S": self.lock_id}},
                ConditionExpression="#owner = :me", ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _s(item: dict[str, Any], name: str) -> str:
    return item.get(name, {}).get("S", "-")


def _time(item: dict[str, Any], *names: str) -> datetime:
    value = next((item[n]["N"] for n in names if n in item), "0")
    return datetime.fromtimestamp(int(value), timezone.utc)


class Heartbeat:
    """Renews the lease every HEARTBEAT_SECONDS from a thread, so a 45-minute update keeps its lock; the run also
    renews at every step. A lost lock is kept in `failure` for the run's next step to act on.

    `wait(seconds)` returns True once stopped; tests pass their own to run `beat_until_stopped` without sleeping.
    """

    def __init__(self, lock: OperationsLock, clock: Callable[[], datetime],
                 wait: Callable[[float], bool] | None = None):
        self.lock, self.clock = lock, clock
        self._stopped = threading.Event()
        self._wait = wait or self._stopped.wait
        self._thread: threading.Thread | None = None
        self.beats = 0
        self.failure: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.beat_until_stopped, name="lock-heartbeat", daemon=True)
        self._thread.start()

    def beat_until_stopped(self) -> None:
        while not self._wait(HEARTBEAT_SECONDS):
            self.beat()

    def beat(self) -> None:
        try:
            self.lock.renew(self.clock())
            self.beats += 1
        except LockLost as error:
            self.failure = str(error)
        except (ClientError, BotoCoreError):
            pass  # a transient AWS error: the next beat, or the next step's renewal, tries again

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class Unlock:
    """`maintenance unlock`: who held the lock, what was re-armed, who removed it and why."""

    lock_id: str
    stack: str
    reason: str
    by: str
    at: datetime
    held_by: str | None = None
    held_for: str | None = None
    lease_was_live: bool = False
    rearmed: list[str] = field(default_factory=list)
    notice: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}

    def summary(self) -> list[str]:
        if self.held_by is None:
            return [f"no lock on {self.lock_id}: nothing to remove"]
        return [f"removed lock {self.lock_id} held by {self.held_by} ({self.held_for}); reason: {self.reason}; "
                f"by {self.by}",
                ("its lease was still live: if that run is alive it stops at its next step (lock lost)"
                 if self.lease_was_live else "its lease had lapsed: the holder had stopped renewing it"),
                f"re-armed: {', '.join(self.rearmed) or 'none left silenced'}"]

    def report(self) -> Report:
        return Report(kind="maintenance", title=f"Maintenance lock removed: {self.stack}", stack=self.stack, ok=True,
                      data=self.to_json(), created=self.at, summary=self.summary())


def unlock(aws: Aws, outputs: StackOutputs, reason: str, now: datetime) -> Unlock:
    """Remove the maintenance lock for an operator and re-arm the alarms its holder left silenced."""
    dynamodb = aws.client("dynamodb")
    result = Unlock(f"maintenance/{outputs.stack}", outputs.stack, reason, lock_owner(), now)
    key = {"lockId": {"S": result.lock_id}}
    item = dynamodb.get_item(TableName=outputs.lockTableName, Key=key).get("Item")
    if item is None:
        return result
    result.held_by, result.held_for = _s(item, "owner"), _s(item, "reason")
    result.lease_was_live = _time(item, "expiresAt") >= now
    try:  # only the item just read: a run that takes the lock meanwhile keeps it
        dynamodb.delete_item(TableName=outputs.lockTableName, Key=key, ConditionExpression="#owner = :held",
                             ExpressionAttributeNames={"#owner": "owner"},
                             ExpressionAttributeValues={":held": {"S": result.held_by}})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise CheckFailed(f"lock {result.lock_id} changed hands while unlocking; nothing was removed") from None
    result.rearmed = item.get("silencedAlarms", {}).get("SS", [])
    if result.rearmed:
        aws.client("cloudwatch").enable_alarm_actions(AlarmNames=result.rearmed)
    result.notice = aws.client("sns").publish(
        TopicArn=outputs.maintenanceTopicArn, Subject=f"Maintenance lock removed: {outputs.stack}"[:100],
        Message=" ".join(result.summary()))["MessageId"]
    return result


def lock_owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


class MaintenanceRun:
    def __init__(
        self,
        runner: StackRunner,
        aws: Aws,
        outputs: StackOutputs,
        maintenance: Maintenance,
        current_image: str,
        options: Options,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        wait: backup_job.WaitPolicy | None = None,
        say: Callable[[str], None] = print,
        heartbeat_wait: Callable[[float], bool] | None = None,
    ):
        self.runner, self.aws, self.outputs = runner, aws, outputs
        self.maintenance, self.options, self.clock = maintenance, options, clock
        self.wait = wait or backup_job.WaitPolicy()
        self.say = say
        self.record = Record(
            run_id=f"{clock():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}", stack=outputs.stack, backend=runner.backend,
            reason=options.reason, owner=lock_owner(), previous_image=current_image,
            new_image=options.image, release_gate=options.release_gate,
        )
        self.window: Window | None = None
        self._lock = OperationsLock(aws.client("dynamodb"), outputs.lockTableName, f"maintenance/{outputs.stack}",
                                    f"{self.record.owner}/{self.record.run_id}")
        self._heartbeat = Heartbeat(self._lock, clock, heartbeat_wait)
        self._holding = False
        self._silenced: list[str] = []
        self._config_changed = False
        self._to_unprotect: list[Change] = []
        self._forced_because: list[str] = []

    # -- steps --------------------------------------------------------------------------------------------------

    def _step(self, name: str, action: Callable[[], tuple[str, dict[str, Any]]], budget: str | None = None) -> None:
        started = self.clock()
        if budget and self.window and started + timedelta(minutes=STEP_BUDGET_MINUTES[budget]) > self.window.cutoff:
            self.record.steps.append(StepRecord(name, started.isoformat(), started.isoformat(), "skipped",
                                                f"cannot end before the window's cutoff {self.window.cutoff:%H:%M} UTC"))
            raise Aborted(f"{name} not started: it cannot end before the cutoff {self.window.cutoff:%H:%M} UTC")
        cutoff = (self.window.cutoff - started).total_seconds() if self.window else None
        self.say(f"[{self.record.run_id}] {name}..." + (
            "" if cutoff is None else f" (cutoff {self.window.cutoff:%H:%M} UTC, "
            + (f"in {duration(cutoff)})" if cutoff >= 0 else "passed)")))
        self.wait.observe(Waiting(f"maintenance step {name}", 0.0, cutoff))
        try:
            if self._holding and name not in FINISH_STEPS:
                self._keep_lease()
            detail, ids = action()
        except (Aborted, OpsError, ClientError, BotoCoreError) as error:
            self.record.steps.append(StepRecord(name, started.isoformat(), self.clock().isoformat(), "failed", str(error)))
            raise Aborted(f"{name} failed: {error}") from None
        finally:
            self.wait.observe(Waiting(f"maintenance step {name}", (self.clock() - started).total_seconds(), cutoff,
                                      done=True))
        self.record.steps.append(StepRecord(name, started.isoformat(), self.clock().isoformat(), "ok", detail, ids))

    def _keep_lease(self) -> None:
        """Renew before each step; a lease the heartbeat lost means another run may be at work: stop here."""
        if self._heartbeat.failure:
            raise LockLost(f"lease renewal failed: {self._heartbeat.failure}")
        self._lock.renew(self.clock())

    def _notify(self, subject: str, message: str) -> tuple[str, dict[str, Any]]:
        response = self.aws.client("sns").publish(
            TopicArn=self.outputs.maintenanceTopicArn, Subject=subject[:100], Message=message
        )
        return f"published to {self.outputs.maintenanceTopicArn}", {"messageId": response["MessageId"]}

    def _app_alarms(self) -> list[str]:
        """The app's alarms and the availability SLO's burn-rate alerts (composite alarms): a deploy's restarts
        must not page."""
        alarms = self.outputs.alarms
        return [alarms[key] for key in alarm_keys.APP_BEHAVIOUR if key in alarms] + list(self.outputs.sloAlarms.values())

    def _silence_alarms(self) -> tuple[str, dict[str, Any]]:
        cloudwatch = self.aws.client("cloudwatch")
        names = self._app_alarms()
        # DescribeAlarms returns composite alarms only when AlarmTypes asks for them.
        found = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        alarms = found["MetricAlarms"] + found.get("CompositeAlarms", [])
        armed = [a["AlarmName"] for a in alarms if a.get("ActionsEnabled")]
        if armed:
            self._lock.remember_silenced(armed)
            cloudwatch.disable_alarm_actions(AlarmNames=armed)
        self._silenced = armed
        return f"actions disabled on {len(armed)} app alarms", {"alarms": armed}

    def _restore_alarms(self) -> tuple[str, dict[str, Any]]:
        if self._silenced:
            self.aws.client("cloudwatch").enable_alarm_actions(AlarmNames=self._silenced)
        restored, self._silenced = self._silenced, []
        return f"actions re-enabled on {len(restored)} app alarms", {"alarms": restored}

    def _backup(self) -> tuple[str, dict[str, Any]]:
        result = backup_job.create_backup(self.aws, self.outputs, f"maintenance {self.record.run_id}", self.clock(), self.wait)
        if not result.ok:
            failed = next(s for s in result.steps if not s.ok)
            raise Aborted(f"{failed.name}: {failed.detail}; no change is made without an available snapshot and its DR copy")
        self.record.snapshot_id = result.snapshot_id
        return f"snapshot {result.snapshot_id} and its DR copy available", {"snapshot": result.snapshot_id}

    def _message(self, what: str) -> str:
        return (f"scraper-ops maintenance {self.record.run_id} {what}: {self.options.reason or 'scheduled window'} "
                f"(by {self.record.owner})")

    def _preview(self) -> tuple[str, dict[str, Any]]:
        if self.record.new_image:
            self.runner.set_config(IMAGE_CONFIG_PATH, self.record.new_image)
            self._config_changed = True
        try:
            preview = self.runner.preview(self._message("preview"))
        except ProtectedResources as refused:
            preview = refused.preview
        self.record.diff = preview.to_json()
        destructive = [c for c in preview.changes if c.destructive and c.stateful]
        allowed = [c for c in destructive if c.op == "replace" and c.name in self.options.allow_replace]
        blocked = [c for c in destructive if c not in allowed]
        if blocked:
            raise Aborted("would " + ", ".join(f"{c.op} {c.type} {c.name}" for c in blocked)
                          + "; stateful resources are never replaced or deleted by maintenance "
                          "(pass --allow-replace NAME --reason TEXT after a deliberate review to replace one)")
        protected = [c for c in allowed if c.urn in preview.refused]
        if protected and not self.options.reason.strip():
            raise Aborted(", ".join(c.name for c in protected) + " is protected and Pulumi refuses to replace a "
                          "protected resource; unprotecting it needs --reason TEXT, which goes into the maintenance "
                          "record. Nothing was unprotected or changed")
        self._to_unprotect = protected
        return _counts(preview), {"counts": preview.counts}

    def _unprotect(self) -> tuple[str, dict[str, Any]]:
        """Runs after the backup step, so the snapshot named here is at most minutes old. The update that follows
        re-protects the replacement: the engine writes the program's `protect=True` into the new state."""
        urns = [c.urn for c in self._to_unprotect]
        self.runner.unprotect(urns)
        self.record.unprotected = [
            {"urn": c.urn, "type": c.type, "name": c.name, "reason": self.options.reason,
             "snapshot": self.record.snapshot_id or ""} for c in self._to_unprotect]
        return (f"unprotected {', '.join(c.name for c in self._to_unprotect)} for replacement "
                f"(reason: {self.options.reason}); fresh snapshot {self.record.snapshot_id}"), {"urns": urns}

    def _reprotect(self) -> tuple[str, dict[str, Any]]:
        """After a failed update: protect again what this run unprotected, so the rollback never replaces it."""
        urns = [entry["urn"] for entry in self.record.unprotected]
        self.runner.protect(urns)
        return f"protected {', '.join(entry['name'] for entry in self.record.unprotected)} again", {"urns": urns}

    def _update(self) -> tuple[str, dict[str, Any]]:
        update = self.runner.up(self._message("update"))
        self.record.update_version = update.version
        return f"update {update.version} {update.result}: {counts_in_words(update.counts)}", {"version": update.version}

    def _smoke(self) -> tuple[str, dict[str, Any]]:
        result = smoke_checks.run_smoke(self.options.smoke_url or self.outputs.serviceUrl, self.outputs.smokeChecks,
                                        "all", self.outputs.objectives.latencyP95Seconds,
                                        timeout=self.options.smoke_timeout)
        if not result.ok:
            raise Aborted("; ".join(result.problems))
        return f"all smoke checks pass (p95 {result.p95_seconds or 0:.3f} s)", {}

    def _undo_config(self) -> None:
        if self._config_changed and self.record.previous_image:
            self.runner.set_config(IMAGE_CONFIG_PATH, self.record.previous_image)
            self._config_changed = False

    def _rollback(self, cause: str) -> None:
        self.record.rollback = {"cause": cause, "image": self.record.previous_image}
        if not self._config_changed:
            self.record.rollback["outcome"] = "not possible: the update changed no image to return from"
            self.record.problems.append("no rollback: nothing to roll back to; check the service by hand")
            return
        try:
            self._step("rollback-config", self._rollback_config)
            self._step("rollback-update", self._rollback_update)
            self._step("rollback-smoke", self._smoke)
            self.record.rollback["outcome"] = "rolled back"
        except Aborted as error:
            self.record.rollback["outcome"] = f"ROLLBACK FAILED: {error}"
            self.record.problems.append(
                f"ROLLBACK FAILED ({error}); production may be degraded. The pre-maintenance snapshot is "
                f"{self.record.snapshot_id}; the database is not restored automatically."
            )

    def _rollback_config(self) -> tuple[str, dict[str, Any]]:
        self._undo_config()
        return f"image back to {self.record.previous_image}", {}

    def _rollback_update(self) -> tuple[str, dict[str, Any]]:
        update = self.runner.up(self._message(f"rollback to {self.record.previous_image}"))
        return f"update {update.version} {update.result}", {"version": update.version}

    # -- the run ------------------------------------------------------------------------------------------------

    def run(self) -> Record:
        now = self.clock()
        self.window = current_window(self.maintenance, now)
        if self.window is None:
            if not self.options.force:
                upcoming = next_windows(self.maintenance, now, 1)[0]
                raise Aborted(f"outside the maintenance window; the next one starts {upcoming.start:%Y-%m-%d %H:%M} UTC "
                              "(use --force --reason TEXT for emergency maintenance)")
            self.window = window_at(self.maintenance, now)
        self._forced_because = [why for why, forced in (
            ("outside the maintenance window", current_window(self.maintenance, now) is None),
            ("past the release gate", bool(self.options.release_gate and self.options.release_gate["overridden"])),
        ) if forced and self.options.force]
        if self.options.purpose == "promotion":
            self.record.kind = "promotion"
        elif self._forced_because:
            self.record.kind = "emergency"
        self.record.window = {k: v.isoformat() for k, v in asdict(self.window).items()}
        try:
            self._step("lock", self._acquire)
        except Aborted as error:
            self.record.problems.append(str(error))
            return self.record
        try:
            self._body()
        finally:
            self._finish()
        return self.record

    def _body(self) -> None:
        try:
            self._step("announce-start", lambda: self._notify(
                f"{self.record.title} starting: {self.outputs.stack}", self._start_notice()))
            self._step("silence-alarms", self._silence_alarms)
            self._step("backup", self._backup, budget="backup")
            self._step("preview", self._preview, budget="preview")
            if self._to_unprotect:
                self._step("unprotect", self._unprotect, budget="update")
        except Aborted as error:
            self.record.problems.append(str(error))
            self._undo_config()
            return
        try:
            self._step("update", self._update, budget="update")
        except Aborted as error:
            self.record.problems.append(str(error))
            if self.record.unprotected:
                self._step_logged("re-protect", self._reprotect)
            self._rollback(str(error))
            return
        try:
            self._step("smoke", self._smoke)
        except Aborted as error:
            self.record.problems.append(str(error))
            self._rollback(str(error))
            return
        self.record.outcome = "succeeded"

    def _acquire(self) -> tuple[str, dict[str, Any]]:
        takeover = self._lock.acquire(self.clock(), self.options.reason)
        self._holding = True
        self._heartbeat.start()
        detail = (f"lease of {LEASE.total_seconds() / 60:.0f} min, renewed every {HEARTBEAT_SECONDS:.0f} s "
                  "while the run lives")
        rearmed = takeover.silenced_alarms if takeover else []
        if takeover:
            detail += (f"; took over from {takeover.owner}, which stopped renewing (last renewal "
                       f"{takeover.renewed:%Y-%m-%d %H:%M:%S} UTC, lease lapsed {takeover.expired:%H:%M:%S} UTC)")
        if rearmed:
            self.aws.client("cloudwatch").enable_alarm_actions(AlarmNames=rearmed)
            detail += f"; re-armed {', '.join(rearmed)}, left silenced by that run"
        return detail, {"lock": self._lock.lock_id, "rearmed": rearmed,
                        "takenOverFrom": takeover.owner if takeover else None}

    def _release(self) -> tuple[str, dict[str, Any]]:
        self._heartbeat.stop()
        self._holding = False
        self._lock.release()
        return f"released ({self._heartbeat.beats} heartbeat renewals)", {}

    def _finish(self) -> None:
        """Every exit path: alarm actions back, the outcome announced, the lock released."""
        if self.record.outcome != "succeeded" and self.record.rollback and self.record.rollback.get("outcome") == "rolled back":
            self.record.outcome = "rolled back"
        for name, action in (
            ("restore-alarms", self._restore_alarms),
            ("announce-end", lambda: self._notify(
                f"{self.record.title} {self.record.outcome}: {self.outputs.stack}",
                f"{self.record.title} {self.record.run_id} of {self.outputs.stack}: {self.record.outcome}. "
                f"Snapshot {self.record.snapshot_id or 'none'}. Problems: {'; '.join(self.record.problems) or 'none'}.")),
            ("unlock", self._release),
        ):
            self._step_logged(name, action)

    def _start_notice(self) -> str:
        stack, reason = self.outputs.stack, self.options.reason or "scheduled window"
        image = f" Deploys {self.record.new_image}." if self.record.new_image else ""
        gate = " ".join(_gate_lines(self.record.release_gate))
        if self.record.kind == "emergency":
            # The guide's emergency maintenance: assess urgency, notify stakeholders, execute, verify, document.
            return (f"EMERGENCY maintenance {self.record.run_id} of {stack}, {' and '.join(self._forced_because)}. "
                    f"Urgency assessed by {self.record.owner}: {reason}. This notice is the stakeholder "
                    f"notification; the run backs up, executes the change, verifies it with the smoke tests (rolling "
                    f"back on failure) and documents every step in its record. Ends by {self.window.end:%H:%M} "
                    f"UTC.{image} {gate}").strip()
        return (f"{self.record.title} {self.record.run_id} of {stack} starts now and ends by "
                f"{self.window.end:%H:%M} UTC. Reason: {reason}.{image} {gate}").strip()

    def _step_logged(self, name: str, action: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        """A step whose failure is recorded as a problem and does not stop what follows."""
        try:
            self._step(name, action)
        except Aborted as error:
            self.record.problems.append(str(error))


def _gate_lines(gate: dict[str, Any] | None) -> list[str]:
    if not gate:
        return []
    if gate["overridden"]:
        return [f"release gate OVERRIDDEN by --force: {gate['refusal']}; reason: {gate['reason']}"]
    return [f"release gate: {gate['image']} passed on {gate['required_from']} ({gate['record']})"]


def _counts(preview: Preview) -> str:
    counts = {op: n for op, n in preview.counts.items() if op != "same"}
    return ", ".join(f"{n} to {op}" for op, n in sorted(counts.items())) or "no changes"


RUN_STEPS = (
    "take the operations lock (DynamoDB conditional write, released on every exit)",
    "announce the start on the maintenance topic",
    "silence the app alarms' actions (restored on every exit)",
    "back up: snapshot the database and copy it to the DR region",
    "preview with diff; stop if a stateful resource would be replaced or deleted, unless --allow-replace NAME "
    "--reason TEXT allows its replacement: then unprotect it (after the backup, the reason recorded)",
    "update (the migration Job runs inside it)",
    "smoke-test the deployed app",
    "on a failure after the update: roll back to the previous image and smoke-test again",
    "announce the outcome, write the record locally and to the ops bucket",
)


def rehearse(runner: StackRunner, maintenance: Maintenance, current_image: str, new_image: str | None,
             now: datetime) -> dict[str, Any]:
    """Everything up to and including the preview; the config is put back, nothing else is touched."""
    window = current_window(maintenance, now)
    if new_image:
        runner.set_config(IMAGE_CONFIG_PATH, new_image)
    try:
        preview = runner.preview(f"scraper-ops maintenance rehearsal by {lock_owner()}")
    except ProtectedResources as refused:
        preview = refused.preview
    finally:
        if new_image:
            runner.set_config(IMAGE_CONFIG_PATH, current_image)
    blocked = [f"{c.op} {c.type} {c.name}" for c in preview.changes if c.destructive and c.stateful]
    return {
        "drift": runner.refresh_preview(),
        "backend": runner.backend,
        "inWindow": window is not None,
        "nextWindow": next_windows(maintenance, now, 1)[0].start.isoformat(),
        "image": {"current": current_image, "new": new_image},
        "steps": list(RUN_STEPS),
        "preview": preview.to_json(),
        "wouldStop": blocked,
    }
