"""The typed stack configuration: every key of the project namespace, read once.

The guide's thresholds are the defaults here and nowhere else: the HPA, the alarms, the policy pack and the
reports all read them from this model. The package's modules: `base` (the frozen model, ConfigError, the shared
checks), the groups by area (`workload`, `data`, `operations`, `site`), and `stack` (StackConfig and how it is
read). Importers take every name from `infra.config`.
"""

from infra.config.base import (
    AWS_REGIONS, INT32_MAX, PRODUCTION_ENVIRONMENTS, PROJECT, REGION_KEY, ConfigError, aws_regions,
    check_pinned_image, image_tag,
)
from infra.config.data import IDENTIFIER_SUFFIX, MIN_REPLICA_BACKUP_MAJOR, DatabaseConfig, DrConfig
from infra.config.operations import (
    AlarmsConfig, CostConfig, MaintenanceConfig, SchedulesConfig, SloConfig, SnapshotRetentionConfig,
)
from infra.config.site import DnsConfig, ReleaseConfig, SiteConfig
from infra.config.stack import StackConfig, load_from_pulumi, parse_stack_config
from infra.config.workload import (
    KEDA_CHART_FOR_KUBERNETES, AppConfig, AutoscalingConfig, ClusterConfig, ResourceQuantities,
)

__all__ = [
    "AWS_REGIONS", "INT32_MAX", "PRODUCTION_ENVIRONMENTS", "PROJECT", "REGION_KEY", "ConfigError", "aws_regions",
    "check_pinned_image", "image_tag", "IDENTIFIER_SUFFIX", "MIN_REPLICA_BACKUP_MAJOR", "DatabaseConfig",
    "DrConfig", "AlarmsConfig", "CostConfig", "MaintenanceConfig", "SchedulesConfig", "SloConfig",
    "SnapshotRetentionConfig", "DnsConfig", "ReleaseConfig", "SiteConfig", "StackConfig", "load_from_pulumi",
    "parse_stack_config", "KEDA_CHART_FOR_KUBERNETES", "AppConfig", "AutoscalingConfig", "ClusterConfig",
    "ResourceQuantities",
]
