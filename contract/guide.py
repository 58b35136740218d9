"""The operations guide's numbers (shared/ops-guide.md), and the project's own where the guide names none.

The stack's config model takes these as its defaults and the policy pack's config schema as its thresholds, so a
change here moves both, and loosening a stack's config never loosens the rule meant to catch it.
"""

# "Operational Objectives"
AVAILABILITY_PERCENT = 99.9
LATENCY_P95_SECONDS = 2.0
# "Daily Checklist": scraper success rate > 95 %
SCRAPER_SUCCESS_PERCENT = 95.0

# "Scaling Triggers": CPU > 70 % for 5 minutes, memory > 80 % for 5 minutes, queue depth > 1000
CPU_TARGET_PERCENT = 70
MEMORY_TARGET_PERCENT = 80
QUEUE_DEPTH_TARGET = 1000
SCALE_UP_STABILIZATION_SECONDS = 300

# "Maintenance Windows": monthly, first Sunday, 02:00-04:00 UTC
MAINTENANCE_WINDOW_START = "0 2 * * 0#1"
MAINTENANCE_DURATION_MINUTES = 120

# The project's choices where the guide gives no figure ("zero data loss" needs a number to be measured).
ERROR_RATE_PERCENT = 5.0
RPO_MINUTES = 15
RTO_MINUTES = 60
COST_TAG_KEYS = ("CostCenter", "Environment", "Project")
