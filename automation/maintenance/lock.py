"""The operations lock (a DynamoDB item with a lease), the heartbeat that keeps it, and `maintenance unlock`."""

from __future__ import annotations

import getpass
import os
import socket
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from automation.aws import Aws
from automation.errors import CheckFailed, OpsError
from automation.maintenance.record import Aborted
from automation.reports import Report
from contract.outputs import StackOutputs

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

    def acquire(self, now: datetime, reason: str, lease: timedelta = LEASE) -> Takeover | None:
        """Take the lock for `lease` from `now`; returns what a lapsed holder left (its silenced alarms among it), or
        None. A holder that does not renew (a DR runbook) takes a lease as long as its longest run."""
        try:
            response = self.dynamodb.put_item(
                TableName=self.table,
                Item={"lockId": {"S": self.lock_id}, "owner": {"S": self.owner}, "reason": {"S": reason or "-"},
                      "expiresAt": {"N": str(_epoch(now + lease))}, "acquiredAt": {"N": str(_epoch(now))},
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
