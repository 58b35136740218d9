"""Config groups of the stack's place: its part in the warm standby, release promotion, the public name."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from infra.config.base import _Model


class SiteConfig(_Model):
    """The stack's part in the warm-standby DR design (README, "Disaster recovery").

    `primary` (the default) owns the database and its cross-region read replica. `standby` is the same program run
    in the primary's DR region (regions swapped): it declares no database and no replica of its own; its app runs
    on the primary's replica (`databaseInstanceId`, promoted by `scraper-ops dr failover`) with the primary's master
    secret as Secrets Manager replicates it into this region, and stays scaled to zero while `serving` is false.
    """

    role: Literal["primary", "standby"] = "primary"
    """`primary` owns the database and its replica; `standby` is the warm standby in the DR region"""
    serving: bool = True
    """whether the app serves (only a standby waits with false, at zero replicas)"""
    primary_stack: str | None = Field(default=None, validate_default=True)
    """standby only: the primary stack it takes over from"""
    database_instance_id: str | None = Field(default=None, validate_default=True)
    """standby only: the primary's replica it runs on once promoted"""

    @field_validator("serving")
    @classmethod
    def _primary_serves(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and info.data.get("role") == "primary":
            raise ValueError("a primary stack always serves; only role standby waits with serving false")
        return value

    @field_validator("primary_stack", "database_instance_id")
    @classmethod
    def _standby_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        standby = info.data.get("role") == "standby"
        if standby and not value:
            raise ValueError("required with role standby: the stack and the replica the standby takes over")
        if value and not standby:
            raise ValueError("only for role standby; a primary owns its database")
        if value and not re.match(r"^[a-z][a-z0-9-]{0,62}$", value):
            raise ValueError("must be lowercase letters, digits and hyphens, starting with a letter (at most 63)")
        return value

    data_bucket: str | None = Field(default=None, validate_default=True)
    """standby only: the primary's `dataReplicaBucket` its app uses (auto-named: read it once the primary is up)"""

    @field_validator("data_bucket")
    @classmethod
    def _primary_replica_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        standby = info.data.get("role") == "standby"
        if standby and not value:
            raise ValueError("required with role standby: the primary's dataReplicaBucket, which holds what the "
                             "primary scraped (pulumi stack output dataReplicaBucket --stack <primaryStack>)")
        if value and not standby:
            raise ValueError("only for role standby; a primary owns its data bucket")
        # S3 User Guide, "General purpose bucket naming rules": 3-63 characters, lower-case letters, digits, dots
        # and hyphens, beginning and ending with a letter or digit.
        if value and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
            raise ValueError("must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, beginning "
                             "and ending with a letter or digit")
        return value


class ReleaseConfig(_Model):
    """Staging before production: a stack with `promotedFrom` deploys only images that passed a soak of at least
    `soakMinutes` there (`scraper-ops release promote`)."""

    promoted_from: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    """the stack whose soaked releases this one deploys (staging for prod)"""
    soak_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """how long a release soaks there before it may be promoted"""


# Route 53 hosted zone ids are up to 32 characters (Route 53 API Reference, ResourceId) of upper-case letters and
# digits, given without the "/hostedzone/" prefix some API answers carry.
_HOSTED_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class DnsConfig(_Model):
    """The app's public name as a Route 53 failover record (README, "Disaster recovery"): a primary stack declares
    the PRIMARY record with a health check, its standby the SECONDARY one, both aliases of their own ALB."""

    hosted_zone_id: str
    """the Route 53 hosted zone of the public name (`Z...`, without `/hostedzone/`)"""
    record_name: str
    """the public name, e.g. `scraper.example.com`"""

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        if not _HOSTED_ZONE_ID.match(value):
            raise ValueError("must be a Route 53 hosted zone id: up to 32 upper-case letters and digits, like "
                             "Z0123456789ABCDEFGHIJ, without /hostedzone/")
        return value

    @field_validator("record_name")
    @classmethod
    def _record_name(cls, value: str) -> str:
        labels = value.split(".")
        if len(value) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
            raise ValueError("must be a lower-case DNS name like scraper.example.com (labels of letters, digits and "
                             "inner hyphens, at most 63 characters each), without the trailing dot")
        return value
