"""S3: PutBucketReplication rules."""

from __future__ import annotations

from typing import Any, Iterator

from automation.aws_model.facts import PlanFacts, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

REPLICATION_RULE_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ReplicationRule.html"
DESTINATION_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_Destination.html"
RTC_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html"
KMS_REPLICATION_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html"

RTC_MINUTES = 15  # ReplicationTimeValue and Metrics EventThreshold: "Valid value is 15"


def _status(block: Any) -> str | None:
    return block.get("Status") if isinstance(block, dict) else None


def _rules(request: ApiRequest) -> list[tuple[str, dict[str, Any]]]:
    rules = (request.params.get("ReplicationConfiguration") or {}).get("Rules") or []
    return [(f"ReplicationConfiguration.Rules[{i}]", rule) for i, rule in enumerate(rules) if isinstance(rule, dict)]


def destination_bucket(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Destination.Bucket is the destination bucket's ARN."""
    for path, rule in _rules(request):
        bucket = (rule.get("Destination") or {}).get("Bucket")
        arn = parse_arn(bucket)
        if bucket is not None and (arn is None or arn.service != "s3" or "/" in arn.resource):
            yield request.finding("s3-replication-destination", f"{path}.Destination.Bucket", f"'{bucket}' is not a bucket ARN", DESTINATION_DOC)


def replication_time(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """S3 RTC: ReplicationTime and Metrics are enabled together, both at 15 minutes."""
    for path, rule in _rules(request):
        destination = rule.get("Destination") or {}
        rtc, metrics = destination.get("ReplicationTime"), destination.get("Metrics")
        if _status(rtc) == "Enabled" and _status(metrics) != "Enabled":
            yield request.finding("s3-replication-time", f"{path}.Destination.Metrics", "S3 RTC needs replication metrics enabled", RTC_DOC)
        minutes = [
            (f"{path}.Destination.ReplicationTime.Time.Minutes", ((rtc or {}).get("Time") or {}).get("Minutes")),
            (f"{path}.Destination.Metrics.EventThreshold.Minutes", ((metrics or {}).get("EventThreshold") or {}).get("Minutes")),
        ]
        for where, value in minutes:
            if value is not None and value != RTC_MINUTES:
                yield request.finding("s3-replication-time", where, f"{value}; the only valid value is {RTC_MINUTES}", RTC_DOC)


def rule_schema(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """V2 rules (Filter) need DeleteMarkerReplication and Priority; DeleteMarkerReplication needs a Filter; no Prefix with Filter."""
    for path, rule in _rules(request):
        has_filter = "Filter" in rule
        if "DeleteMarkerReplication" in rule and not has_filter:
            yield request.finding(
                "s3-replication-schema", f"{path}.DeleteMarkerReplication", "DeleteMarkerReplication needs a Filter (V2 rule)",
                REPLICATION_RULE_DOC,
            )
        if has_filter:
            for required in ("DeleteMarkerReplication", "Priority"):
                if required not in rule:
                    yield request.finding(
                        "s3-replication-schema", f"{path}.{required}", f"a rule with a Filter needs {required}", REPLICATION_RULE_DOC
                    )
            if "Prefix" in rule:
                yield request.finding("s3-replication-schema", f"{path}.Prefix", "Prefix and Filter exclude each other", REPLICATION_RULE_DOC)


def replica_key(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Replicating SSE-KMS objects needs ReplicaKmsKeyID, a key in the destination bucket's region."""
    for path, rule in _rules(request):
        destination = rule.get("Destination") or {}
        key = (destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID")
        wants_kms = _status((rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects")) == "Enabled"
        if wants_kms and key is None:
            yield request.finding(
                "s3-replication-kms-key", f"{path}.Destination.EncryptionConfiguration.ReplicaKmsKeyID",
                "replicating SSE-KMS objects needs a replica KMS key", KMS_REPLICATION_DOC,
            )
        bucket_arn = parse_arn(destination.get("Bucket"))
        bucket_region = facts.bucket_regions.get(bucket_arn.resource) if bucket_arn else None
        key_region = facts.key_region(key)
        if bucket_region and key_region and key_region != bucket_region:
            yield request.finding(
                "s3-replication-kms-key", f"{path}.Destination.EncryptionConfiguration.ReplicaKmsKeyID",
                f"the key is in {key_region}; the destination bucket is in {bucket_region}", KMS_REPLICATION_DOC,
            )


RULES = {"PutBucketReplication": (destination_bucket, replication_time, rule_schema, replica_key)}
