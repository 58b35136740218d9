"""The operations guide's numbers and names, as the pack needs them.

The pack is published and run on its own (`pulumi policy publish` uploads only
this directory), so it cannot import the stack's config model. These are the
same values the stack config takes as defaults; tests/policies/test_pack.py
asserts that they agree with the contract package (contract.guide, contract.metrics).
"""

CPU_TARGET_PERCENT = 70
MEMORY_TARGET_PERCENT = 80
QUEUE_DEPTH_TARGET = 1000
SCALE_UP_STABILIZATION_SECONDS = 300  # "for 5 minutes"
LATENCY_P95_SECONDS = 2.0
SCRAPER_SUCCESS_PERCENT = 95.0
ERROR_RATE_PERCENT = 5.0
RPO_MINUTES = 15
COST_TAG_KEYS = ("CostCenter", "Environment", "Project")

# Custom CloudWatch metrics the app and the ops jobs publish.
SCRAPE_ATTEMPTS = "ScrapeAttempts"
SCRAPE_SUCCESSES = "ScrapeSuccesses"
SMOKE_SUCCESS = "SmokeTestSuccess"
BACKUP_AGE = "BackupAgeHours"

# What AWS publishes and the alarms measure (the stack's infra/signals.py holds the same definitions).
POD_OVER_LIMIT = {"cpu": "pod_cpu_utilization_over_pod_limit", "memory": "pod_memory_utilization_over_pod_limit"}
ALB_TARGET_5XX = "HTTPCode_Target_5XX_Count"
ALB_RESPONSE_TIME = "TargetResponseTime"
