"""The requests pulumi-aws 7 sends for AWS Backup vaults, plans and selections; the DynamoDB lock table."""

from __future__ import annotations


from automation.aws_model.mappings.common import REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import Fields, ProviderOnly, ResourceMapping, To, output


# DynamoDB ---------------------------------------------------------------------------------------

TABLE_NAME = {"TableName": output("name")}

DYNAMODB_TABLE = ResourceMapping(
    "dynamodb",
    "CreateTable",
    {
        "name": To("TableName"),
        "attributes": To("AttributeDefinitions", inner={"name": To("AttributeName"), "type": To("AttributeType")}),
        "hashKey": To("KeySchema[]", convert=lambda key: {"AttributeName": key, "KeyType": "HASH"}),
        "rangeKey": To("KeySchema[]", convert=lambda key: {"AttributeName": key, "KeyType": "RANGE"}),
        "billingMode": To("BillingMode"),
        "readCapacity": To("ProvisionedThroughput.ReadCapacityUnits"),
        "writeCapacity": To("ProvisionedThroughput.WriteCapacityUnits"),
        "tableClass": To("TableClass"),
        "deletionProtectionEnabled": To("DeletionProtectionEnabled"),
        "streamEnabled": To("StreamSpecification.StreamEnabled"),
        "streamViewType": To("StreamSpecification.StreamViewType"),
        "serverSideEncryption": To(
            "SSESpecification", inner={"enabled": To("Enabled"), "kmsKeyArn": To("KMSMasterKeyId")}
        ),
        "pointInTimeRecovery": To(
            "PointInTimeRecoverySpecification",
            op="UpdateContinuousBackups",
            inner={"enabled": To("PointInTimeRecoveryEnabled"), "recoveryPeriodInDays": To("RecoveryPeriodInDays")},
        ),
        "ttl": To(
            "TimeToLiveSpecification",
            op="UpdateTimeToLive",
            inner={"enabled": To("Enabled"), "attributeName": To("AttributeName")},
        ),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateTable": TABLE_NAME, "UpdateContinuousBackups": TABLE_NAME, "UpdateTimeToLive": TABLE_NAME},
)

# AWS Backup -------------------------------------------------------------------------------------

BACKUP_LIFECYCLE: Fields = {
    "deleteAfter": To("DeleteAfterDays"),
    "coldStorageAfter": To("MoveToColdStorageAfterDays"),
    "optInToArchiveForSupportedResources": To("OptInToArchiveForSupportedResources"),
}

BACKUP_VAULT = ResourceMapping(
    "backup",
    "CreateBackupVault",
    {
        "name": To("BackupVaultName"),
        "kmsKeyArn": To("EncryptionKeyArn"),
        "forceDestroy": ProviderOnly("forceDestroy: the provider deletes recovery points before DeleteBackupVault"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateBackupVault": {"BackupVaultName": output("name")}},
)

BACKUP_PLAN = ResourceMapping(
    "backup",
    "CreateBackupPlan",
    {
        "name": To("BackupPlan.BackupPlanName"),
        "rules": To(
            "BackupPlan.Rules",
            inner={
                "ruleName": To("RuleName"),
                "targetVaultName": To("TargetBackupVaultName"),
                "schedule": To("ScheduleExpression"),
                "scheduleExpressionTimezone": To("ScheduleExpressionTimezone"),
                "startWindow": To("StartWindowMinutes"),
                "completionWindow": To("CompletionWindowMinutes"),
                "enableContinuousBackup": To("EnableContinuousBackup"),
                "recoveryPointTags": To("RecoveryPointTags"),
                "lifecycle": To("Lifecycle", inner=BACKUP_LIFECYCLE),
                "copyActions": To(
                    "CopyActions",
                    inner={"destinationVaultArn": To("DestinationBackupVaultArn"), "lifecycle": To("Lifecycle", inner=BACKUP_LIFECYCLE)},
                ),
            },
        ),
        "advancedBackupSettings": To(
            "BackupPlan.AdvancedBackupSettings", inner={"backupOptions": To("BackupOptions"), "resourceType": To("ResourceType")}
        ),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateBackupPlan": {"BackupPlan.BackupPlanName": output("name")}},
)

BACKUP_SELECTION = ResourceMapping(
    "backup",
    "CreateBackupSelection",
    {
        "planId": To("BackupPlanId"),
        "name": To("BackupSelection.SelectionName"),
        "iamRoleArn": To("BackupSelection.IamRoleArn"),
        "resources": To("BackupSelection.Resources"),
        "notResources": To("BackupSelection.NotResources"),
        "selectionTags": To(
            "BackupSelection.ListOfTags",
            inner={"type": To("ConditionType"), "key": To("ConditionKey"), "value": To("ConditionValue")},
        ),
        "region": REGION,
    },
)
