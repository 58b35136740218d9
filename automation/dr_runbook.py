"""The machinery `dr failover` and `dr failback` share: steps, the record, the lock, the standby's serving flag,
waiting for RDS and reading its ReplicaLag."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation.aws import Aws, error_code
from automation.dr_dns import FailoverDns
from automation.dr_record import RECORDS, Options, Record, RecordStore, Refused, Step, Waits, iso
from automation.errors import BadInput, OpsError
from automation.maintenance import LEASE, Aborted, OperationsLock, lock_owner
from automation.metrics import Query, get_metric_data
from automation.runner import StackRunner
from contract.outputs import StackOutputs

SITE_CONFIG_KEY = "social-media-scraper:site"
SERVING_CONFIG_PATH = f"{SITE_CONFIG_KEY}.serving"
LAG_WINDOW = timedelta(minutes=5)


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
                                 self.standby.stack, self.options.reason, lock_owner(), iso(now))
        self.record.runs.append(iso(now))
        return True

    def run(self) -> Record:
        if not self._begin():
            return self.record
        self.serving()  # the standby stack must be reachable (Pulumi CLI, stack) before anything changes
        if self.options.dry_run:
            self._steps()
            self.record.outcome = "dry run"
            return self.record
        self.lock.acquire(self.clock(), f"dr {self.kind}: {self.options.reason}",
                          lease=timedelta(minutes=self.primary.objectives.rtoMinutes * 2) + LEASE)
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
        self.record.steps.append(Step(name, outcome, detail, iso(self.clock())))

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
