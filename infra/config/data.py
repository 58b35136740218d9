"""Config groups of the data: the database and disaster recovery."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator

from contract import guide
from infra.config.base import _Model

_MAJOR = re.compile(r"^\d+$")
_MAJOR_MINOR = re.compile(r"^\d+\.\d+$")
MIN_REPLICA_BACKUP_MAJOR = 14
IDENTIFIER_SUFFIX = r"^(-[a-z0-9]+)*$"


class DatabaseConfig(_Model):
    auto_minor_version_upgrade: bool = True
    """let RDS apply minor engine upgrades in the maintenance window"""
    # With automatic minor upgrades the stack names only the major version ("16"): RDS upgrades the minor in the
    # maintenance window, and a pinned "16.4" would then read as drift that the next update tries to downgrade.
    # The provider accepts a version prefix in that case (Terraform AWS provider, aws_db_instance
    # `engine_version`: "If auto_minor_version_upgrade is enabled, you can provide a prefix of the version").
    engine_version: str = Field(default="16")
    """PostgreSQL version: major only (`16`) with automatic minor upgrades, full (`16.4`) without"""
    # Bump to rotate the master password: a new random value is written (write-only) to the instance and to the
    # stack's Secrets Manager secret in the same update.
    master_password_version: int = Field(default=1, ge=1)
    """bump to rotate the master password (write-only, through the stack's secret)"""
    instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """RDS instance class of the primary"""
    allocated_storage_gb: int = Field(default=100, ge=20, le=65536)
    """initial storage in GiB"""
    max_allocated_storage_gb: int = Field(default=500, ge=20, le=65536)
    """storage autoscaling ceiling in GiB (at least allocatedStorageGb)"""
    backup_retention_days: int = Field(default=14, ge=1, le=35)
    """automated backup retention, 1-35 days"""
    backup_window: str = Field(default="00:30-01:30", pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    """daily automated backup window, UTC (`hh:mm-hh:mm`)"""
    maintenance_window: str = Field(default="sun:02:00-sun:04:00", pattern=r"^[a-z]{3}:\d\d:\d\d-[a-z]{3}:\d\d:\d\d$")
    """RDS maintenance window, UTC (`ddd:hh:mm-ddd:hh:mm`)"""
    multi_az: bool = True
    """a standby in a second availability zone"""
    db_name: str = Field(default="scraper", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
    """the database's name"""
    username: str = Field(default="scraper", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
    """the master user's name"""
    subnet_group_name: str = Field(min_length=1)
    """existing DB subnet group of the primary"""
    security_group_ids: tuple[str, ...] = Field(min_length=1)
    """security groups of the primary"""
    # After `dr failback --switch` the writer is `scraper-<stack>-failback`: "-failback" here makes the stack declare
    # that instance once it is imported (README, "Adopting the failback instance"). RDS identifiers are letters,
    # digits and single hyphens (RDS API Reference, CreateDBInstance, DBInstanceIdentifier).
    instance_suffix: str = Field(default="", pattern=IDENTIFIER_SUFFIX, max_length=24)
    """appended to the primary's identifier: `-failback` once the stack adopts the failback instance"""

    @field_validator("engine_version")
    @classmethod
    def _version_matches_upgrades(cls, value: str, info: ValidationInfo) -> str:
        automatic = info.data.get("auto_minor_version_upgrade", True)
        if automatic and not _MAJOR.match(value):
            raise ValueError(
                "with autoMinorVersionUpgrade (the default) give the major version only, e.g. \"16\"; "
                "RDS moves the minor and a pinned minor would drift"
            )
        if not automatic and not _MAJOR_MINOR.match(value):
            raise ValueError('with autoMinorVersionUpgrade false give the full version, e.g. "16.4"')
        return value

    @field_validator("engine_version")
    @classmethod
    def _replica_keeps_backups(cls, value: str) -> str:
        """The DR replica keeps automated backups (and AWS Backup snapshots it on a standby stack): RDS supports
        automated backups of PostgreSQL read replicas from 14.1 only, manual snapshots on every version (RDS User
        Guide, "Working with read replicas for Amazon RDS for PostgreSQL", limitations; "Differences among read
        replicas for DB engines", backups)."""
        if int(value.split(".")[0]) < MIN_REPLICA_BACKUP_MAJOR:
            raise ValueError(f"must be PostgreSQL {MIN_REPLICA_BACKUP_MAJOR} or later: the DR read replica keeps "
                             "automated backups, which RDS supports on PostgreSQL read replicas from 14.1 only")
        return value

    @field_validator("max_allocated_storage_gb")
    @classmethod
    def _max_storage_not_below_allocated(cls, value: int, info: ValidationInfo) -> int:
        allocated = info.data.get("allocated_storage_gb")
        if allocated is not None and value < allocated:
            raise ValueError(f"must be >= allocatedStorageGb ({allocated})")
        return value


class DrConfig(_Model):
    replica_instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """instance class of the cross-region read replica"""
    rpo_minutes: int = Field(default=guide.RPO_MINUTES, gt=0)
    """recovery point objective; the replica-lag alarm fires beyond it"""
    rto_minutes: int = Field(default=guide.RTO_MINUTES, gt=0)
    """recovery time objective the DR drill and failover are measured against"""
    backup_copy_retention_days: int = Field(default=14, ge=1, le=35)
    """retention of the backup copies in the DR region, 1-35 days"""
    subnet_group_name: str = Field(min_length=1)
    """DB subnet group in the DR region (replica and restore tests)"""
    security_group_ids: tuple[str, ...] = Field(min_length=1)
    """security groups in the DR region"""
    # The replica's identifier is `scraper-<stack>` + this; a new one ("-failback-dr") after a failback, since the
    # promoted old replica keeps its name until someone deletes it.
    replica_suffix: str = Field(default="-dr", pattern=IDENTIFIER_SUFFIX, min_length=2, max_length=24)
    """appended to the replica's identifier (`-dr`; a new one, e.g. `-failback-dr`, after a failback)"""
