"""The scraper on Kubernetes: the app (`app`), the ops CronJobs (`ops_jobs`), and what their pods share
(`pods`)."""

from infra.components.workloads.app import AppArgs, AppWorkload
from infra.components.workloads.ops_jobs import OPS_JOBS, OpsJob, OpsJobs, OpsJobsArgs, ops_cron_job_names
from infra.components.workloads.pods import (
    APP_NAME, DR_SENTINEL_PREFIX, INSTANCE_TYPE_LABEL, OUTPUTS_DIR, OUTPUTS_FILE, RUN_AS_USER, SERVICE_PORT,
)

__all__ = [
    "AppArgs", "AppWorkload", "OPS_JOBS", "OpsJob", "OpsJobs", "OpsJobsArgs", "ops_cron_job_names", "APP_NAME",
    "DR_SENTINEL_PREFIX", "INSTANCE_TYPE_LABEL", "OUTPUTS_DIR", "OUTPUTS_FILE", "RUN_AS_USER", "SERVICE_PORT",
]
