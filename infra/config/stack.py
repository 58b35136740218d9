"""The whole stack config, and how it is read: validated once, errors as one line per bad key."""

from __future__ import annotations

import json
from typing import Any, Mapping

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from infra.config.base import (
    PRODUCTION_ENVIRONMENTS,
    PROJECT,
    REGION_KEY,
    ConfigError,
    _check_region,
    _Model,
    check_pinned_image,
    group_model,
)
from infra.config.data import DatabaseConfig, DrConfig
from infra.config.operations import (
    AlarmsConfig,
    CostConfig,
    MaintenanceConfig,
    SchedulesConfig,
    SloConfig,
    SnapshotRetentionConfig,
)
from infra.config.site import DnsConfig, ReleaseConfig, SiteConfig
from infra.config.workload import AppConfig, AutoscalingConfig, ClusterConfig


class StackConfig(_Model):
    region: str
    """primary region"""
    dr_region: str
    """DR region, different from the primary"""
    cluster: ClusterConfig
    """the EKS cluster"""
    namespace: str = Field(default=PROJECT, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    """the app's namespace (never default or a system namespace)"""
    app: AppConfig
    """the app"""
    ops_image: str
    """the image the ops CronJobs run, pinned by digest"""
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    """the HPA (KEDA ScaledObject)"""
    database: DatabaseConfig
    """the RDS primary"""
    dr: DrConfig
    """disaster recovery"""
    schedules: SchedulesConfig = SchedulesConfig()
    """the ops CronJobs' schedules, UTC"""
    alarms: AlarmsConfig = AlarmsConfig()
    """alarm thresholds and who they page"""
    maintenance: MaintenanceConfig = MaintenanceConfig()
    """the maintenance window"""
    slo: SloConfig = SloConfig()
    """service level objectives"""
    cost: CostConfig = CostConfig()
    """budget and cost tags"""
    snapshots: SnapshotRetentionConfig = SnapshotRetentionConfig()
    """manual snapshot expiry"""
    site: SiteConfig = SiteConfig()
    """the stack's part in the warm-standby design"""
    release: ReleaseConfig = ReleaseConfig()
    """staging before production"""
    dns: DnsConfig | None = None
    """the app's public name as a Route 53 failover record (none: no DNS switch)"""

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _check_region(value)

    @field_validator("ops_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return check_pinned_image(value)

    @field_validator("namespace")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value in {"default", "kube-system", "kube-public"}:
            raise ValueError("workloads must not run in a system or the default namespace")
        return value

    @field_validator("dr_region")
    @classmethod
    def _dr_region(cls, value: str, info: ValidationInfo) -> str:
        _check_region(value)
        if value == info.data.get("region"):
            raise ValueError(f"must differ from {REGION_KEY} ({value}): DR replicas need a second region")
        return value

    @field_validator("snapshots")
    @classmethod
    def _snapshots_outlive_automated_backups(cls, value: SnapshotRetentionConfig,
                                             info: ValidationInfo) -> SnapshotRetentionConfig:
        database = info.data.get("database")
        if database is not None and value.manual_retention_days < database.backup_retention_days:
            raise ValueError(f"manualRetentionDays ({value.manual_retention_days}) must be >= "
                             f"database.backupRetentionDays ({database.backup_retention_days})")
        return value


    @model_validator(mode="after")
    def _production_pages_someone(self) -> StackConfig:
        environment = self.cost.tags.get("Environment", "")
        if environment in PRODUCTION_ENVIRONMENTS and not (self.alarms.emails or self.alarms.https_endpoints):
            raise ValueError(
                f"{PROJECT}:alarms.emails = []: a production stack (cost tag Environment={environment}) must page "
                "someone; give at least one address in alarms.emails or an endpoint in alarms.httpsEndpoints")
        return self


def _key_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "region":
        return REGION_KEY
    return f"{PROJECT}:{'.'.join(parts)}"


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed beside the unknown key at `loc`."""
    model: type[BaseModel] = StackConfig
    for part in loc[:-1]:
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        group = group_model(field.annotation) if field is not None else None
        if group is None:
            return []
        model = group
    return sorted(f.alias for f in model.model_fields.values() if f.alias != "region")


def _describe(error: Mapping[str, Any]) -> str:
    if not error["loc"]:  # a rule across groups: its message names the keys
        return error["msg"].removeprefix("Value error, ")
    key = _key_of(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (a typo?); allowed: {', '.join(_known_keys(error['loc']))}"
    if error["type"] == "missing":
        return f"{key}: required but not set"
    message = error["msg"].removeprefix("Value error, ")
    value = error["input"]
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    return f"{key} = {json.dumps(value, default=str)}: {message}"


def _decode(value: Any) -> Any:
    """Pulumi hands object and list values to the program as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config (fully qualified keys like `social-media-scraper:app`) into a StackConfig."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key == REGION_KEY:
            values["region"] = value
        elif key.startswith(f"{PROJECT}:"):
            name = key.split(":", 1)[1]
            if name == "region":
                problems.append(f"{key}: unknown key; the primary region is {REGION_KEY}")
                continue
            values[name] = _decode(value)
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        problems.extend(_describe(e) for e in error.errors(include_url=False))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config


def load_from_pulumi() -> StackConfig:
    """Read the running program's config once.

    `pulumi.Config` can only look keys up, so unknown keys (typos) would pass
    silently; the runtime's config map is enumerated instead.
    """
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_stack_config(raw)
