"""Secrets Manager: CreateSecret replicas and DeleteSecret recovery window."""

from __future__ import annotations

from typing import Iterator

from automation.aws_model.facts import PlanFacts
from automation.aws_model.findings import ApiRequest, Finding

DELETE_SECRET_DOC = "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html"
REPLICATE_DOC = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html"

RECOVERY_WINDOW_DAYS = (7, 30)


def recovery_window(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """RecoveryWindowInDays is 7-30 (0 in the provider means ForceDeleteWithoutRecovery instead)."""
    days = request.params.get("RecoveryWindowInDays")
    low, high = RECOVERY_WINDOW_DAYS
    if isinstance(days, int) and not low <= days <= high:
        yield request.finding(
            "secrets-recovery-window", "RecoveryWindowInDays", f"{days} days; allowed are 0 (no recovery) or {low}-{high}", DELETE_SECRET_DOC
        )


def replica_regions(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """A replica lives in another region than its secret, once per region, encrypted with a key of that region."""
    seen: set[str] = set()
    for index, replica in enumerate(request.params.get("AddReplicaRegions") or []):
        region = replica.get("Region") if isinstance(replica, dict) else None
        if region is None:
            continue
        path = f"AddReplicaRegions[{index}]"
        if region == request.region:
            yield request.finding("secrets-replica-region", f"{path}.Region", f"{region} is the secret's own region", REPLICATE_DOC)
        if region in seen:
            yield request.finding("secrets-replica-region", f"{path}.Region", f"{region} is listed twice", REPLICATE_DOC)
        seen.add(region)
        key_region = facts.key_region(replica.get("KmsKeyId"))
        if key_region and key_region != region:
            yield request.finding(
                "secrets-replica-region", f"{path}.KmsKeyId", f"the key is in {key_region}; the replica is in {region}", REPLICATE_DOC
            )


RULES = {"CreateSecret": (replica_regions,), "DeleteSecret": (recovery_window,)}
