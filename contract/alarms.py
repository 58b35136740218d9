"""The keys of the stack's metric alarms (stack outputs `alarms`: key -> alarm name) and who reads which.

Consumers look alarms up by key in the outputs, never by the shape of a physical name.
"""

APP_CPU_HIGH = "app-cpu-high"
APP_MEMORY_HIGH = "app-memory-high"
QUEUE_DEPTH_HIGH = "queue-depth-high"
DEAD_LETTER_MESSAGES = "dead-letter-messages"
ERROR_RATE_HIGH = "error-rate-high"
LATENCY_P95_HIGH = "latency-p95-high"
SCRAPER_SUCCESS_LOW = "scraper-success-low"
SMOKE_TESTS_FAILING = "smoke-tests-failing"
BACKUP_STALE = "backup-stale"
REPLICA_LAG_HIGH = "replica-lag-high"
DB_CPU_HIGH = "db-cpu-high"
DB_FREE_STORAGE_LOW = "db-free-storage-low"

ALL = (APP_CPU_HIGH, APP_MEMORY_HIGH, QUEUE_DEPTH_HIGH, DEAD_LETTER_MESSAGES, ERROR_RATE_HIGH, LATENCY_P95_HIGH,
       SCRAPER_SUCCESS_LOW, SMOKE_TESTS_FAILING, BACKUP_STALE, REPLICA_LAG_HIGH, DB_CPU_HIGH, DB_FREE_STORAGE_LOW)
# Alarms on the app's own behaviour, which a deploy disturbs: maintenance silences them; data-safety alarms keep
# paging.
APP_BEHAVIOUR = (APP_CPU_HIGH, APP_MEMORY_HIGH, ERROR_RATE_HIGH, LATENCY_P95_HIGH, SMOKE_TESTS_FAILING,
                 SCRAPER_SUCCESS_LOW, QUEUE_DEPTH_HIGH)
# The daily checklist's "Resource usage normal".
RESOURCE_USAGE = (APP_CPU_HIGH, APP_MEMORY_HIGH, QUEUE_DEPTH_HIGH, DB_CPU_HIGH, DB_FREE_STORAGE_LOW)
