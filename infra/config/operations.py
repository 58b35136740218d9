"""Config groups of operations: schedules, snapshot expiry, alarms, maintenance, objectives, cost."""

from __future__ import annotations

import re
from typing import Mapping

from croniter import croniter
from pydantic import Field, ValidationInfo, field_validator

from contract import guide
from infra.config.base import PROJECT, _check_k8s_cron, _Model
from infra.schedules import aws_cron


class SchedulesConfig(_Model):
    backup: str = "0 3 * * *"
    """CronJob: database snapshot, UTC cron"""
    backup_verify: str = "0 5 * * 1"
    """CronJob: backup verification with a restore test"""
    smoke_tests: str = "*/5 * * * *"
    """CronJob: smoke tests"""
    metrics: str = "0 * * * *"
    """CronJob: operational metrics"""
    backup_plan: str = "0 5 * * *"  # the AWS Backup plan's rule, apart from the snapshot CronJob
    """the AWS Backup plan's daily rule (also expressible as an AWS cron)"""
    # The guide's weekly and monthly duties. The DR test runs on the 8th, which is never the first Sunday, so it
    # never meets the maintenance window; the cost review on the 3rd, once Cost Explorer has the closed month.
    dr_test: str = "0 6 8 * *"
    """CronJob: the monthly DR drill (on the 8th: never the first Sunday's window)"""
    capacity_report: str = "0 6 * * 1"
    """CronJob: the weekly capacity report"""
    cost_review: str = "0 7 3 * *"
    """CronJob: the monthly cost review (on the 3rd, once Cost Explorer has the closed month)"""

    @field_validator("backup", "backup_verify", "smoke_tests", "metrics", "backup_plan", "dr_test", "capacity_report",
                     "cost_review")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_k8s_cron(value)

    @field_validator("backup_plan")
    @classmethod
    def _aws_cron(cls, value: str) -> str:
        aws_cron(value)
        return value


class SnapshotRetentionConfig(_Model):
    """Expiry of the manual snapshots `scraper-ops backup create` makes, and of their DR-region copies.

    35 days by default: maintenance windows (the first Sunday of the month) are 28 or 35 days apart, so the
    previous window's pre-maintenance snapshot is kept until the next window has taken its own. The value
    must be at least `database.backupRetentionDays` (checked in StackConfig): a manual snapshot, the only
    restore point with a copy in the DR region made by this tool, never expires before the automated backups
    of the same day do. 7 newest are always kept (a week of daily backups), whatever their age; at most 100,
    the default RDS quota of manual DB snapshots per region
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html).
    """

    manual_retention_days: int = Field(default=35, ge=1, le=3650)
    """age at which `backup expire` deletes a manual snapshot and its DR copy (at least database.backupRetentionDays)"""
    keep_newest: int = Field(default=7, ge=1, le=100)
    """manual snapshots always kept, whatever their age (at most 100, the RDS quota)"""


class AlarmsConfig(_Model):
    error_rate_percent: float = Field(default=guide.ERROR_RATE_PERCENT, gt=0, le=100)
    """error-rate alarm threshold, percent of requests answered 5xx"""
    db_cpu_percent: int = Field(default=80, ge=1, le=100)
    """database CPU alarm threshold"""
    db_free_storage_gb: int = Field(default=10, gt=0)
    """database free-storage alarm threshold in GiB"""
    backup_max_age_hours: int = Field(default=26, gt=0)
    """backup-stale alarm: age of the newest snapshot"""
    dead_letter_messages: int = Field(default=0, ge=0)
    """dead-letter alarm: messages tolerated in the dead-letter queue"""
    emails: tuple[str, ...] = ()
    """addresses the alerts topic pages (a production stack needs one, or an endpoint)"""
    https_endpoints: tuple[str, ...] = ()
    """https:// endpoints the alerts topic pages"""

    @field_validator("emails")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return values

    @field_validator("https_endpoints")
    @classmethod
    def _https(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not v.startswith("https://")]
        if bad:
            raise ValueError(f"notification endpoints must be https:// URLs: {', '.join(bad)}")
        return values


class MaintenanceConfig(_Model):
    window_start: str = guide.MAINTENANCE_WINDOW_START
    """start of the maintenance window, 5-field UTC cron (guide: first Sunday 02:00, `0 2 * * 0#1`)"""
    duration_minutes: int = Field(default=guide.MAINTENANCE_DURATION_MINUTES, gt=0, le=24 * 60)
    """length of the window (guide: 2 hours)"""
    cutoff_minutes: int = Field(default=15, ge=0)
    """no new step starts this close to the window's end"""

    @field_validator("window_start")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a 5-field cron expression in UTC (for example '0 2 * * 0#1', first Sunday 02:00)")
        return value

    @field_validator("cutoff_minutes")
    @classmethod
    def _cutoff_inside_window(cls, value: int, info: ValidationInfo) -> int:
        duration = info.data.get("duration_minutes")
        if duration is not None and value >= duration:
            raise ValueError(f"must be less than durationMinutes ({duration})")
        return value


class SloConfig(_Model):
    availability_percent: float = Field(default=guide.AVAILABILITY_PERCENT, gt=0, le=100)
    """availability objective over 30 days (guide: 99.9)"""
    latency_p95_seconds: float = Field(default=guide.LATENCY_P95_SECONDS, gt=0)
    """p95 response-time objective (guide: 2 s)"""
    scraper_success_percent: float = Field(default=guide.SCRAPER_SUCCESS_PERCENT, ge=1, le=100)
    """scraper success objective (guide's daily checklist: 95)"""


class CostConfig(_Model):
    monthly_budget_usd: float = Field(default=3000.0, gt=0)
    """the cost review's monthly budget"""
    tags: Mapping[str, str] = Field(
        default_factory=lambda: {"Project": PROJECT, "Environment": "prod", "CostCenter": "data-platform"}
    )
    """cost-allocation tags on every AWS resource (the `Environment` value decides whether the stack must page someone)"""

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: Mapping[str, str]) -> dict[str, str]:
        if not tags:
            raise ValueError("at least one cost-allocation tag is required")
        bad = [k for k in tags if not re.match(r"^[\w .:/=+\-@]{1,128}$", k) or k.startswith("aws:")]
        if bad:
            raise ValueError(f"invalid tag keys: {', '.join(bad)}")
        return dict(tags)
