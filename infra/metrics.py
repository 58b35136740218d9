"""Names of the custom CloudWatch metrics: the contract between the app, the ops jobs and the alarms.

The app publishes the request and scrape metrics; `scraper-ops smoke` publishes
the smoke-test metrics and `scraper-ops backup` the backup age. Every metric
carries the dimension `Stack` (the Pulumi stack name).
"""

NAMESPACE = "SocialMediaScraper"
STACK_DIMENSION = "Stack"

REQUEST_COUNT = "RequestCount"
ERROR_COUNT = "ErrorCount"
RESPONSE_TIME = "ResponseTime"  # seconds, one datapoint per request (percentiles need raw values)
SCRAPE_ATTEMPTS = "ScrapeAttempts"
SCRAPE_SUCCESSES = "ScrapeSuccesses"
JOBS_COMPLETED = "JobsCompleted"
JOBS_FAILED = "JobsFailed"
SMOKE_SUCCESS = "SmokeTestSuccess"  # 1 per passing run, 0 per failing run
SMOKE_LATENCY = "SmokeTestLatency"  # seconds
BACKUP_AGE = "BackupAgeHours"  # age of the newest available snapshot

CONTAINER_INSIGHTS = "ContainerInsights"
