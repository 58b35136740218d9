"""Names of the custom CloudWatch metrics: the contract between the app, the ops jobs and the alarms.

Request rate, errors and latency are not here: the Application Load Balancer in front of the app publishes
them (`infra.signals`), so nothing depends on the app for them. What only the app knows stays its contract
(`APP_CONTRACT`, README "Metric sources": names, unit, dimension, an embedded-metric-format example);
`scraper-ops smoke` publishes the smoke-test metrics and `scraper-ops metrics collect` the backup age
(`OPS_JOB_METRICS`). Every metric carries the dimension `Stack` (the Pulumi stack name).
"""

NAMESPACE = "SocialMediaScraper"
STACK_DIMENSION = "Stack"

SCRAPE_ATTEMPTS = "ScrapeAttempts"  # Count, one per scrape the app starts
SCRAPE_SUCCESSES = "ScrapeSuccesses"  # Count, one per scrape that returned data
JOBS_COMPLETED = "JobsCompleted"
JOBS_FAILED = "JobsFailed"
SMOKE_SUCCESS = "SmokeTestSuccess"  # 1 per passing run, 0 per failing run
SMOKE_LATENCY = "SmokeTestLatency"  # seconds
BACKUP_AGE = "BackupAgeHours"  # age of the newest available snapshot

APP_CONTRACT = (SCRAPE_ATTEMPTS, SCRAPE_SUCCESSES, JOBS_COMPLETED, JOBS_FAILED)
OPS_JOB_METRICS = {SMOKE_SUCCESS: "smokeTests", SMOKE_LATENCY: "smokeTests", BACKUP_AGE: "metrics"}  # -> cronJobs key
