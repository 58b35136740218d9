"""The requests pulumi-aws 7 sends for KMS keys and aliases, Secrets Manager secrets."""

from __future__ import annotations


from automation.aws_model.findings import ApiRequest
from automation.aws_model.mappings.common import NAME_PREFIX, REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import ProviderOnly, ResourceMapping, To, output
from automation.engine import PlannedResource


# KMS --------------------------------------------------------------------------------------------

KEY_ID = {"KeyId": output("keyId")}

KMS_KEY = ResourceMapping(
    "kms",
    "CreateKey",
    {
        "description": To("Description"),
        "policy": To("Policy"),
        "keyUsage": To("KeyUsage"),
        "customerMasterKeySpec": To("KeySpec"),
        "multiRegion": To("MultiRegion"),
        "bypassPolicyLockoutSafetyCheck": To("BypassPolicyLockoutSafetyCheck"),
        "customKeyStoreId": To("CustomKeyStoreId"),
        "xksKeyId": To("XksKeyId"),
        "enableKeyRotation": ProviderOnly("enableKeyRotation: makes the provider call EnableKeyRotation(KeyId)"),
        "rotationPeriodInDays": To("RotationPeriodInDays", op="EnableKeyRotation"),
        "deletionWindowInDays": To("PendingWindowInDays", op="ScheduleKeyDeletion"),
        "isEnabled": ProviderOnly("isEnabled: makes the provider call EnableKey or DisableKey"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"EnableKeyRotation": KEY_ID, "ScheduleKeyDeletion": KEY_ID},
)

KMS_ALIAS = ResourceMapping(
    "kms",
    "CreateAlias",
    {"name": To("AliasName"), "namePrefix": NAME_PREFIX, "targetKeyId": To("TargetKeyId"), "region": REGION},
    identity={"CreateAlias": {"AliasName": output("name")}},
)

# Secrets Manager (pulumi-aws 7) -----------------------------------------------------------------


def _secret_deletion(resource: PlannedResource, requests: dict[str, ApiRequest]) -> None:
    """recoveryWindowInDays 0 is the provider's way to say ForceDeleteWithoutRecovery (Terraform aws_secretsmanager_secret)."""
    delete = requests.get("DeleteSecret")
    if delete and delete.params.get("RecoveryWindowInDays") == 0:
        del delete.params["RecoveryWindowInDays"]
        delete.params["ForceDeleteWithoutRecovery"] = True


SECRET = ResourceMapping(
    "secretsmanager",
    "CreateSecret",
    {
        "name": To("Name"),
        "namePrefix": NAME_PREFIX,
        "description": To("Description"),
        "kmsKeyId": To("KmsKeyId"),
        "replicas": To("AddReplicaRegions", inner={"region": To("Region"), "kmsKeyId": To("KmsKeyId")}),
        "forceOverwriteReplicaSecret": To("ForceOverwriteReplicaSecret"),
        "recoveryWindowInDays": To("RecoveryWindowInDays", op="DeleteSecret"),
        "policy": To("ResourcePolicy", op="PutResourcePolicy"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={
        "CreateSecret": {"Name": output("name")},
        "DeleteSecret": {"SecretId": output("arn")},
        "PutResourcePolicy": {"SecretId": output("arn")},
    },
    finish=_secret_deletion,
)

SECRET_VERSION = ResourceMapping(
    "secretsmanager",
    "PutSecretValue",
    {
        "secretId": To("SecretId"),
        "secretString": To("SecretString"),
        "secretStringWo": To("SecretString"),
        "secretStringWoVersion": ProviderOnly("secretStringWoVersion: a write-only version trigger, never sent"),
        "secretBinary": To("SecretBinary"),
        "versionStages": To("VersionStages"),
        "region": REGION,
    },
)
