"""CloudWatch alarms for every scaling trigger and objective of the guide, the availability SLO's burn-rate
alerts, and the dashboard: the alarm table (`alarms`), the dashboard (`dashboard`), the component (`component`).
"""

from infra.components.monitoring.alarms import AlarmSettings, AlarmSpec, alarm_specs, slo_alarm_specs
from infra.components.monitoring.component import Monitoring, MonitoringArgs

__all__ = ["AlarmSettings", "AlarmSpec", "alarm_specs", "slo_alarm_specs", "Monitoring", "MonitoringArgs"]
