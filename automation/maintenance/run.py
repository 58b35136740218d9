"""The maintenance run: lock, notice, backup, preview, update, smoke test, rollback on failure, record."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation import backup as backup_job
from automation import smoke as smoke_checks
from automation.aws import Aws
from automation.errors import OpsError
from automation.maintenance.alarms import AppAlarms
from automation.maintenance.lock import HEARTBEAT_SECONDS, LEASE, Heartbeat, LockLost, OperationsLock, lock_owner
from automation.maintenance.record import Aborted, Record, StepRecord, end_notice, start_notice
from automation.progress import Waiting, duration
from automation.reports import counts_in_words
from automation.runner import Change, Preview, ProtectedResources, StackRunner
from automation.windows import STEP_BUDGET_MINUTES, Window, current_window, next_windows, window_at
from contract.outputs import Maintenance, StackOutputs

FINISH_STEPS = ("restore-alarms", "announce-end", "unlock")  # run on every exit, the lease held or not
IMAGE_CONFIG_PATH = "social-media-scraper:app.image"


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


class MaintenanceRun:
    """One maintenance run of a stack. `run()` returns its Record; progress lines go to `say` (the CLI shows
    them on stderr; the job itself never prints)."""

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
        say: Callable[[str], None] = lambda line: None,
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
        self._alarms = AppAlarms(aws, outputs)
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

    def _silence_alarms(self) -> tuple[str, dict[str, Any]]:
        armed = self._alarms.silence(self._lock)
        return f"actions disabled on {len(armed)} app alarms", {"alarms": armed}

    def _restore_alarms(self) -> tuple[str, dict[str, Any]]:
        restored = self._alarms.restore()
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
        self._to_unprotect = to_unprotect(preview, self.options.allow_replace, self.options.reason)
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
        self._open_window(self.clock())
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

    def _open_window(self, now: datetime) -> None:
        """The window this run works in, or Aborted outside it unless forced; the run's kind follows from why it
        was forced (emergency maintenance) or what it is for (a promotion)."""
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

    def _body(self) -> None:
        try:
            self._step("announce-start", lambda: self._notify(
                f"{self.record.title} starting: {self.outputs.stack}",
                start_notice(self.record, self._forced_because, self.window)))
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
            ("announce-end", lambda: self._notify(f"{self.record.title} {self.record.outcome}: {self.outputs.stack}",
                                                  end_notice(self.record))),
            ("unlock", self._release),
        ):
            self._step_logged(name, action)

    def _step_logged(self, name: str, action: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        """A step whose failure is recorded as a problem and does not stop what follows."""
        try:
            self._step(name, action)
        except Aborted as error:
            self.record.problems.append(str(error))


def to_unprotect(preview: Preview, allow_replace: tuple[str, ...], reason: str) -> list[Change]:
    """The preview's gate: Aborted when a stateful resource would be replaced or deleted without --allow-replace,
    or a protected one would be unprotected without a reason; else the protected replacements to unprotect."""
    destructive = [c for c in preview.changes if c.destructive and c.stateful]
    allowed = [c for c in destructive if c.op == "replace" and c.name in allow_replace]
    blocked = [c for c in destructive if c not in allowed]
    if blocked:
        raise Aborted("would " + ", ".join(f"{c.op} {c.type} {c.name}" for c in blocked)
                      + "; stateful resources are never replaced or deleted by maintenance "
                      "(pass --allow-replace NAME --reason TEXT after a deliberate review to replace one)")
    protected = [c for c in allowed if c.urn in preview.refused]
    if protected and not reason.strip():
        raise Aborted(", ".join(c.name for c in protected) + " is protected and Pulumi refuses to replace a "
                      "protected resource; unprotecting it needs --reason TEXT, which goes into the maintenance "
                      "record. Nothing was unprotected or changed")
    return protected


def _counts(preview: Preview) -> str:
    counts = {op: n for op, n in preview.counts.items() if op != "same"}
    return ", ".join(f"{n} to {op}" for op, n in sorted(counts.items())) or "no changes"
