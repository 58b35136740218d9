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

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation import smoke as smoke_checks
from automation.dr_record import Refused, as_seconds, iso, window_text
from automation.dr_runbook import LAG_WINDOW, SITE_CONFIG_KEY, Runbook, describe, is_replica, latest_lag
from automation.maintenance import Aborted

# Instance states in which the primary is doing its job or will be shortly by itself (RDS User Guide, "Viewing
# Amazon RDS DB instance status"); anything else, or no answer from the region, is an impaired primary.
WORKING_STATES = frozenset({
    "available", "backing-up", "modifying", "configuring-enhanced-monitoring", "configuring-iam-database-auth",
    "configuring-log-exports", "maintenance", "storage-optimization", "upgrading", "renaming", "rebooting",
})


class Failover(Runbook):
    kind = "failover"

    def _steps(self) -> None:
        dr_rds = self.aws.dr("rds")
        replica_id = self.primary.dbReplicaId
        replica = describe(dr_rds, replica_id)
        promoted = replica is not None and not is_replica(replica)
        self.step("assess", lambda: f"{replica_id} is promoted already" if promoted else None,
                  lambda: self._assess(replica))
        self.step("check-data", lambda: None, self._check_data)
        self.step("measure-lag", lambda: (f"ReplicaLag {as_seconds(self.record.lag_seconds)} recorded at "
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
        self.step("dns", self._dns_pinned, self._pin_dns,
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
            self.record.lag_observed_at = iso(observed)
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
        self.record.promoted_at = iso(moment) + (f" ({how})" if how else "")
        if self.record.lag_seconds is None or not self.record.lag_observed_at:
            self.record.data_loss_window = {"from": None, "to": iso(moment), "seconds": None}
            return
        start = datetime.fromisoformat(self.record.lag_observed_at) - timedelta(seconds=self.record.lag_seconds)
        self.record.data_loss_window = {"from": iso(start), "to": iso(moment),
                                        "seconds": (moment - start).total_seconds()}

    def _smoke(self) -> str:
        result = smoke_checks.run_smoke(self.options.smoke_url or self.standby.serviceUrl, self.standby.smokeChecks,
                                        "all", self.standby.objectives.latencyP95Seconds,
                                        timeout=self.options.smoke_timeout)
        if not result.ok:
            raise Aborted("smoke tests of the standby failed: " + "; ".join(result.problems)
                          + "; run the failover again once it is fixed")
        now = self.clock()
        self.record.serving_since = iso(now)
        self.record.app_ready_seconds = self._since_start(now)
        if self.primary.dns is None:  # no public name to switch: users are served once the app is
            self.record.rto_seconds = self.record.app_ready_seconds
            return f"all smoke checks pass; measured RTO {self.record.rto_seconds:.0f} s"
        return f"all smoke checks pass; app ready after {self.record.app_ready_seconds:.0f} s"

    def _since_start(self, moment: datetime) -> float:
        return (moment - datetime.fromisoformat(self.record.started)).total_seconds()

    def _pin_dns(self) -> str:
        detail = self.dns.pin()
        self._switched(self.clock(), "")
        return f"{detail}; measured RTO {self.record.rto_seconds:.0f} s"

    def _dns_pinned(self) -> str | None:
        pinned = self.dns.pinned()
        if pinned and self.primary.dns is not None and self.record.switched_at is None:
            self._switched(self.clock(), "by an interrupted run, at the latest")  # pinned, then killed
        return pinned

    def _switched(self, moment: datetime, how: str) -> None:
        """The RTO ends when Route 53 holds the public name on the standby: users are served by it from then on,
        once their resolvers' cached answer expires (the ALB alias's fixed TTL of 60 s: Route 53 FAQs, "Do I need
        to adjust the TTL of my records in order to use DNS failover?")."""
        self.record.switched_at = iso(moment) + (f" ({how})" if how else "")
        self.record.rto_seconds = self._since_start(moment)

    def _check_data(self) -> str:
        """After the failover the app must see what the primary scraped: the standby's data bucket is the primary's
        replica bucket (`site.dataBucket` of the standby)."""
        expected, standby = self.primary.dataReplicaBucket, self.standby.stack
        if expected is None:
            raise Refused(f"{self.primary.stack} has no dataReplicaBucket output (a standby?): pass the primary stack")
        if self.standby.dataBucket != expected:
            raise Refused(f"{standby}'s app uses the bucket {self.standby.dataBucket}, not {self.primary.stack}'s "
                          f"replica bucket {expected}: it would not see what {self.primary.stack} scraped. Run "
                          f"`pulumi config set --stack {standby} --path '{SITE_CONFIG_KEY}.dataBucket' {expected}` and "
                          f"`pulumi up --stack {standby}`, then the failover again")
        return f"{standby}'s app uses {expected}, {self.primary.stack}'s replica bucket"

    def _summary(self) -> str:
        window = self.record.data_loss_window
        return (f"Failover {self.record.run_id}: {self.primary.stack} now runs as {self.standby.stack} in "
                f"{self.standby.region} on {self.primary.dbReplicaId}. Reason: {self.options.reason}. RTO "
                f"{as_seconds(self.record.rto_seconds)} (app ready after {as_seconds(self.record.app_ready_seconds)}). "
                f"Data-loss window: {window_text(window, self.record.lag_seconds)}. Primary: {self.record.primary}. "
                "The old primary was not touched.")
