"""The alarms a maintenance run silences: a deploy's restarts must not page. Re-armed on every exit."""

from __future__ import annotations

from automation.aws import Aws
from automation.maintenance.lock import OperationsLock
from contract import alarms as alarm_keys
from contract.outputs import StackOutputs


class AppAlarms:
    """The app's alarms and the availability SLO's burn-rate alerts (composite alarms) of a stack."""

    def __init__(self, aws: Aws, outputs: StackOutputs):
        self.aws, self.outputs = aws, outputs
        self.silenced: list[str] = []

    def names(self) -> list[str]:
        alarms = self.outputs.alarms
        return [alarms[key] for key in alarm_keys.APP_BEHAVIOUR if key in alarms] + list(self.outputs.sloAlarms.values())

    def silence(self, lock: OperationsLock) -> list[str]:
        """Disable the actions of the armed ones, named first in the lock item (a run killed before re-arming them
        is repaired by the next one); returns them."""
        cloudwatch = self.aws.client("cloudwatch")
        # DescribeAlarms returns composite alarms only when AlarmTypes asks for them.
        found = cloudwatch.describe_alarms(AlarmNames=self.names(), AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        alarms = found["MetricAlarms"] + found.get("CompositeAlarms", [])
        armed = [a["AlarmName"] for a in alarms if a.get("ActionsEnabled")]
        if armed:
            lock.remember_silenced(armed)
            cloudwatch.disable_alarm_actions(AlarmNames=armed)
        self.silenced = armed
        return armed

    def restore(self) -> list[str]:
        """Re-enable what `silence` disabled; returns them."""
        if self.silenced:
            self.aws.client("cloudwatch").enable_alarm_actions(AlarmNames=self.silenced)
        restored, self.silenced = self.silenced, []
        return restored
