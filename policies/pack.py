"""Every policy of the pack, in one list: what `__main__.py` registers and what the offline evaluator runs."""

from __future__ import annotations

from . import alerting, autoscaling, cost, cronjobs, data_safety, disaster_recovery, iam, kms, workloads

PACK_NAME = "social-media-scraper"

POLICIES = [
    *data_safety.POLICIES,
    *disaster_recovery.POLICIES,
    *alerting.POLICIES,
    *workloads.POLICIES,
    *autoscaling.POLICIES,
    *cronjobs.POLICIES,
    *iam.POLICIES,
    *kms.POLICIES,
    *cost.POLICIES,
]
