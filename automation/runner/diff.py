"""The offline backend's diff: what an update from one plan to another would do, refused as the engine refuses."""

from __future__ import annotations

from typing import Any

from automation.engine import PlannedResource
from automation.runner.base import PROTECTED_REFUSAL, Change, Preview

# Inputs whose change makes the provider replace the resource, by type (kubernetes: for every kind).
REPLACE_KEYS: dict[str, set[str]] = {
    "aws:rds/instance:Instance": {"identifier", "engine", "dbName", "username", "kmsKeyId", "storageEncrypted",
                                  "availabilityZone", "replicateSourceDb"},
    "aws:s3/bucket:Bucket": {"bucket", "bucketPrefix"},
    "aws:kms/key:Key": {"customerMasterKeySpec", "keyUsage", "multiRegion"},
    "aws:dynamodb/table:Table": {"name", "hashKey", "rangeKey"},
    "aws:backup/vault:Vault": {"name", "kmsKeyArn"},
    "aws:sqs/queue:Queue": {"name", "fifoQueue"},
    "aws:sns/topic:Topic": {"name", "fifoTopic"},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"name"},
    "aws:iam/role:Role": {"name"},
    "kubernetes:": {"metadata.name", "metadata.namespace"},
    "kubernetes:batch/v1:Job": {"spec"},
    "kubernetes:apps/v1:Deployment": {"spec.selector"},
}


def _changed_keys(old: dict[str, Any], new: dict[str, Any], kubernetes: bool) -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        nested_old, nested_new = old.get(key), new.get(key)
        if kubernetes and isinstance(nested_old, dict) and isinstance(nested_new, dict):
            keys += [f"{key}.{sub}" for sub in sorted(set(nested_old) | set(nested_new))
                     if nested_old.get(sub) != nested_new.get(sub)]
        else:
            keys.append(key)
    return keys


def _replaces(resource_type: str, keys: list[str]) -> bool:
    triggers = set(REPLACE_KEYS.get(resource_type, set()))
    if resource_type.startswith("kubernetes:"):
        triggers |= REPLACE_KEYS["kubernetes:"]
    return any(key in triggers or key.split(".", 1)[0] in triggers for key in keys)


def _refusal(op: str, urn: str) -> str:
    """The engine's error for a protected resource, word for word (pulumi/pulumi pkg/resource/deploy)."""
    if op == "replace":
        return (f'unable to replace resource "{urn}"\n{PROTECTED_REFUSAL}. To unprotect the resource, '
                "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")
    return (f'unable to delete resource "{urn}"\n{PROTECTED_REFUSAL}. To unprotect the resource, either remove '
            "the `protect` flag from the resource in your Pulumi program and run `pulumi up` or use the command:\n"
            f"`pulumi state unprotect '{urn}'`")


def diff(old: list[PlannedResource], new: list[PlannedResource]) -> Preview:
    """What an update from `old` to `new` would do, resource by resource, refused as the engine refuses:
    a replace of a resource protected in the state and in the program, a delete of one protected in the state."""
    before = {r.urn: r for r in old if r.custom and not r.type.startswith("pulumi:providers:")}
    after = {r.urn: r for r in new if r.custom and not r.type.startswith("pulumi:providers:")}
    changes, refused = [], {}
    for urn in sorted(set(before) | set(after)):
        previous, planned = before.get(urn), after.get(urn)
        if previous is None:
            changes.append(Change(urn, planned.type, planned.name, "create", [], planned.protect))
            continue
        if planned is None:
            changes.append(Change(urn, previous.type, previous.name, "delete", [], previous.protect))
            if previous.protect:
                refused[urn] = _refusal("delete", urn)
            continue
        keys = _changed_keys(previous.inputs, planned.inputs, planned.type.startswith("kubernetes:"))
        op = "same" if not keys else ("replace" if _replaces(planned.type, keys) else "update")
        changes.append(Change(urn, planned.type, planned.name, op, keys, previous.protect))
        if op == "replace" and previous.protect and planned.protect:
            refused[urn] = _refusal("replace", urn)
    return Preview(changes, refused)
