"""Per resource type: which API request(s) pulumi-aws 7 (the Terraform AWS provider underneath) sends.

Read from the pulumi-aws Python SDK (argument docs of each resource) and the
Terraform AWS provider's resource docs; the member names are botocore's.
Tags are applied by the provider through the service's tagging path and are
checked by the policy pack's tagging rule, so they are provider-only here.
"""

from __future__ import annotations

from typing import Any, Mapping

from automation.aws_model.findings import ApiRequest
from automation.aws_model.translation import Fields, ProviderOnly, ResourceMapping, To, output
from automation.engine import PlannedResource

TAGS = ProviderOnly("tags: applied through the service's tagging path; the policy pack checks them")
TAGS_ALL = ProviderOnly("tagsAll: the provider's merge of default and resource tags, computed")
NAME_PREFIX = ProviderOnly("namePrefix: the provider generates the name from it")
REGION = ProviderOnly("region: selects the provider's endpoint, not a request member")


def dimension_list(dimensions: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": value} for name, value in dimensions.items()]


def as_text(value: Any) -> Any:
    """SQS and SNS attributes are strings on the wire; the provider formats numbers and booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


# CloudWatch -------------------------------------------------------------------------------------

METRIC_STAT: Fields = {
    "metricName": To("Metric.MetricName"),
    "namespace": To("Metric.Namespace"),
    "dimensions": To("Metric.Dimensions", convert=dimension_list),
    "period": To("Period"),
    "stat": To("Stat"),
    "unit": To("Unit"),
}

METRIC_QUERY: Fields = {
    "id": To("Id"),
    "expression": To("Expression"),
    "label": To("Label"),
    "returnData": To("ReturnData"),
    "period": To("Period"),
    "accountId": To("AccountId"),
    "metric": To("MetricStat", inner=METRIC_STAT),
}

METRIC_ALARM = ResourceMapping(
    "cloudwatch",
    "PutMetricAlarm",
    {
        "name": To("AlarmName"),
        "alarmDescription": To("AlarmDescription"),
        "actionsEnabled": To("ActionsEnabled"),
        "alarmActions": To("AlarmActions"),
        "okActions": To("OKActions"),
        "insufficientDataActions": To("InsufficientDataActions"),
        "metricName": To("MetricName"),
        "namespace": To("Namespace"),
        "statistic": To("Statistic"),
        "extendedStatistic": To("ExtendedStatistic"),
        "dimensions": To("Dimensions", convert=dimension_list),
        "period": To("Period"),
        "unit": To("Unit"),
        "evaluationPeriods": To("EvaluationPeriods"),
        "datapointsToAlarm": To("DatapointsToAlarm"),
        "threshold": To("Threshold"),
        "thresholdMetricId": To("ThresholdMetricId"),
        "comparisonOperator": To("ComparisonOperator"),
        "treatMissingData": To("TreatMissingData"),
        "evaluateLowSampleCountPercentiles": To("EvaluateLowSampleCountPercentile"),
        "metricQueries": To("Metrics", inner=METRIC_QUERY),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"PutMetricAlarm": {"AlarmName": output("name")}},
)

COMPOSITE_ALARM = ResourceMapping(
    "cloudwatch",
    "PutCompositeAlarm",
    {
        "alarmName": To("AlarmName"),
        "alarmRule": To("AlarmRule"),
        "alarmDescription": To("AlarmDescription"),
        "actionsEnabled": To("ActionsEnabled"),
        "alarmActions": To("AlarmActions"),
        "okActions": To("OKActions"),
        "insufficientDataActions": To("InsufficientDataActions"),
        "actionsSuppressor": To(
            "ActionsSuppressor",
            inner={"alarm": To("ActionsSuppressor"), "waitPeriod": To("ActionsSuppressorWaitPeriod"),
                   "extensionPeriod": To("ActionsSuppressorExtensionPeriod")},
        ),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
)

DASHBOARD = ResourceMapping(
    "cloudwatch",
    "PutDashboard",
    {"dashboardName": To("DashboardName"), "dashboardBody": To("DashboardBody"), "region": REGION},
)

# RDS --------------------------------------------------------------------------------------------

DELETE_ONLY = "sent only with DeleteDBInstance when the instance is destroyed, not when it is created"

RDS_INSTANCE_FIELDS: Fields = {
    "identifier": To("DBInstanceIdentifier"),
    "identifierPrefix": NAME_PREFIX,
    "instanceClass": To("DBInstanceClass"),
    "engine": To("Engine"),
    "engineVersion": To("EngineVersion"),
    "allocatedStorage": To("AllocatedStorage"),
    "maxAllocatedStorage": To("MaxAllocatedStorage"),
    "storageType": To("StorageType"),
    "iops": To("Iops"),
    "storageThroughput": To("StorageThroughput"),
    "storageEncrypted": To("StorageEncrypted"),
    "kmsKeyId": To("KmsKeyId"),
    "dbName": To("DBName"),
    "username": To("MasterUsername"),
    "password": To("MasterUserPassword"),
    "passwordWo": To("MasterUserPassword"),
    "passwordWoVersion": ProviderOnly("passwordWoVersion: a write-only version trigger the provider compares, never sent"),
    "manageMasterUserPassword": To("ManageMasterUserPassword"),
    "masterUserSecretKmsKeyId": To("MasterUserSecretKmsKeyId"),
    "port": To("Port"),
    "multiAz": To("MultiAZ"),
    "availabilityZone": To("AvailabilityZone"),
    "dbSubnetGroupName": To("DBSubnetGroupName"),
    "vpcSecurityGroupIds": To("VpcSecurityGroupIds"),
    "publiclyAccessible": To("PubliclyAccessible"),
    "parameterGroupName": To("DBParameterGroupName"),
    "optionGroupName": To("OptionGroupName"),
    "backupRetentionPeriod": To("BackupRetentionPeriod"),
    "backupWindow": To("PreferredBackupWindow"),
    "maintenanceWindow": To("PreferredMaintenanceWindow"),
    "autoMinorVersionUpgrade": To("AutoMinorVersionUpgrade"),
    "copyTagsToSnapshot": To("CopyTagsToSnapshot"),
    "deletionProtection": To("DeletionProtection"),
    "iamDatabaseAuthenticationEnabled": To("EnableIAMDatabaseAuthentication"),
    "enabledCloudwatchLogsExports": To("EnableCloudwatchLogsExports"),
    "performanceInsightsEnabled": To("EnablePerformanceInsights"),
    "performanceInsightsKmsKeyId": To("PerformanceInsightsKMSKeyId"),
    "performanceInsightsRetentionPeriod": To("PerformanceInsightsRetentionPeriod"),
    "monitoringInterval": To("MonitoringInterval"),
    "monitoringRoleArn": To("MonitoringRoleArn"),
    "caCertIdentifier": To("CACertificateIdentifier"),
    "networkType": To("NetworkType"),
    "replicateSourceDb": To("SourceDBInstanceIdentifier"),
    "applyImmediately": ProviderOnly("applyImmediately: sent only with ModifyDBInstance on later updates"),
    "skipFinalSnapshot": ProviderOnly(f"skipFinalSnapshot: {DELETE_ONLY}"),
    "finalSnapshotIdentifier": ProviderOnly(f"finalSnapshotIdentifier: {DELETE_ONLY}"),
    "deleteAutomatedBackups": ProviderOnly(f"deleteAutomatedBackups: {DELETE_ONLY}"),
    "tags": TAGS,
    "tagsAll": TAGS_ALL,
    "region": REGION,
}

READ_REPLICA_OPERATIONS = ("CreateDBInstanceReadReplica", "ModifyDBInstance")
# Members a read replica takes from its source; the provider leaves them out of the replica's requests.
# Terraform aws_db_instance docs: storage_encrypted "is ignored" for a cross-region replica (declare kms_key_id);
# username and db_name are not used with replicate_source_db.
REPLICA_INHERITED = frozenset({"StorageEncrypted", "MasterUsername", "DBName", "Engine"})


def _route_read_replica(resource: PlannedResource, requests: dict[str, ApiRequest]) -> None:
    """A replica is made with CreateDBInstanceReadReplica; what that call cannot take follows in ModifyDBInstance."""
    from automation.aws_model.models import operation_model

    create = requests.get("CreateDBInstance")
    if create is None or "SourceDBInstanceIdentifier" not in create.params:
        return
    del requests["CreateDBInstance"]
    members = {op: operation_model("rds", op).input_shape.members for op in READ_REPLICA_OPERATIONS}
    routed = {op: ApiRequest(create.urn, create.resource, create.type, create.region, "rds", op) for op in READ_REPLICA_OPERATIONS}
    for name, value in create.params.items():
        if name in REPLICA_INHERITED:
            continue
        op = next((op for op in READ_REPLICA_OPERATIONS if name in members[op]), READ_REPLICA_OPERATIONS[0])
        routed[op].params[name] = value
    for name in create.unknown:
        op = next((op for op in READ_REPLICA_OPERATIONS if name in members[op]), READ_REPLICA_OPERATIONS[0])
        routed[op].unknown.add(name)
    identifier = create.params.get("DBInstanceIdentifier", resource.outputs.get("identifier"))
    modify = routed["ModifyDBInstance"]
    if len(modify.params) > int("DBInstanceIdentifier" in modify.params):
        modify.params["DBInstanceIdentifier"] = identifier
        requests["ModifyDBInstance"] = modify
    requests["CreateDBInstanceReadReplica"] = routed["CreateDBInstanceReadReplica"]


RDS_INSTANCE = ResourceMapping(
    "rds",
    "CreateDBInstance",
    RDS_INSTANCE_FIELDS,
    identity={"CreateDBInstance": {"DBInstanceIdentifier": output("identifier")}},
    finish=_route_read_replica,
)

RDS_BACKUPS_REPLICATION = ResourceMapping(
    "rds",
    "StartDBInstanceAutomatedBackupsReplication",
    {
        "sourceDbInstanceArn": To("SourceDBInstanceArn"),
        "kmsKeyId": To("KmsKeyId"),
        "retentionPeriod": To("BackupRetentionPeriod"),
        "preSignedUrl": To("PreSignedUrl"),
        "region": REGION,
    },
)

# S3 ---------------------------------------------------------------------------------------------

BUCKET_ID = {"Bucket": output("bucket")}


def _bucket_location(resource: PlannedResource, requests: dict[str, ApiRequest]) -> None:
    """CreateBucket outside us-east-1 names its region as LocationConstraint (S3 API Reference, CreateBucket)."""
    create = requests["CreateBucket"]
    if resource.region and resource.region != "us-east-1":
        create.params.setdefault("CreateBucketConfiguration", {})["LocationConstraint"] = resource.region


BUCKET = ResourceMapping(
    "s3",
    "CreateBucket",
    {
        "bucket": To("Bucket"),
        "bucketPrefix": NAME_PREFIX,
        "objectLockEnabled": To("ObjectLockEnabledForBucket"),
        "forceDestroy": ProviderOnly("forceDestroy: the provider empties the bucket before DeleteBucket"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateBucket": BUCKET_ID},
    finish=_bucket_location,
)

S3_FILTER: Fields = {
    "prefix": To("Prefix"),
    "tag": To("Tag", inner={"key": To("Key"), "value": To("Value")}),
    "objectSizeGreaterThan": To("ObjectSizeGreaterThan"),
    "objectSizeLessThan": To("ObjectSizeLessThan"),
    "and": To(
        "And",
        inner={
            "prefix": To("Prefix"),
            "tags": To("Tags", convert=lambda tags: [{"Key": k, "Value": v} for k, v in tags.items()]),
            "objectSizeGreaterThan": To("ObjectSizeGreaterThan"),
            "objectSizeLessThan": To("ObjectSizeLessThan"),
        },
    ),
}

BUCKET_LIFECYCLE = ResourceMapping(
    "s3",
    "PutBucketLifecycleConfiguration",
    {
        "bucket": To("Bucket"),
        "expectedBucketOwner": To("ExpectedBucketOwner"),
        "transitionDefaultMinimumObjectSize": To("TransitionDefaultMinimumObjectSize"),
        "rules": To(
            "LifecycleConfiguration.Rules",
            inner={
                "id": To("ID"),
                "status": To("Status"),
                "prefix": To("Prefix"),
                "filter": To("Filter", inner=S3_FILTER),
                "expiration": To(
                    "Expiration",
                    inner={"days": To("Days"), "date": To("Date"), "expiredObjectDeleteMarker": To("ExpiredObjectDeleteMarker")},
                ),
                "transitions": To(
                    "Transitions", inner={"days": To("Days"), "date": To("Date"), "storageClass": To("StorageClass")}
                ),
                "noncurrentVersionExpiration": To(
                    "NoncurrentVersionExpiration",
                    inner={"noncurrentDays": To("NoncurrentDays"), "newerNoncurrentVersions": To("NewerNoncurrentVersions")},
                ),
                "noncurrentVersionTransitions": To(
                    "NoncurrentVersionTransitions",
                    inner={
                        "noncurrentDays": To("NoncurrentDays"),
                        "newerNoncurrentVersions": To("NewerNoncurrentVersions"),
                        "storageClass": To("StorageClass"),
                    },
                ),
                "abortIncompleteMultipartUpload": To(
                    "AbortIncompleteMultipartUpload", inner={"daysAfterInitiation": To("DaysAfterInitiation")}
                ),
            },
        ),
        "region": REGION,
    },
)

BUCKET_OWNERSHIP = ResourceMapping(
    "s3",
    "PutBucketOwnershipControls",
    {
        "bucket": To("Bucket"),
        "rule": To("OwnershipControls.Rules", single=True, inner={"objectOwnership": To("ObjectOwnership")}),
        "region": REGION,
    },
)

BUCKET_POLICY = ResourceMapping(
    "s3", "PutBucketPolicy", {"bucket": To("Bucket"), "policy": To("Policy"), "region": REGION}
)

BUCKET_PUBLIC_ACCESS_BLOCK = ResourceMapping(
    "s3",
    "PutPublicAccessBlock",
    {
        "bucket": To("Bucket"),
        "blockPublicAcls": To("PublicAccessBlockConfiguration.BlockPublicAcls"),
        "blockPublicPolicy": To("PublicAccessBlockConfiguration.BlockPublicPolicy"),
        "ignorePublicAcls": To("PublicAccessBlockConfiguration.IgnorePublicAcls"),
        "restrictPublicBuckets": To("PublicAccessBlockConfiguration.RestrictPublicBuckets"),
        "skipDestroy": ProviderOnly("skipDestroy: the provider keeps the block when the resource is destroyed"),
        "region": REGION,
    },
)

STATUS: Fields = {"status": To("Status")}

BUCKET_REPLICATION = ResourceMapping(
    "s3",
    "PutBucketReplication",
    {
        "bucket": To("Bucket"),
        "token": To("Token"),
        "role": To("ReplicationConfiguration.Role"),
        "rules": To(
            "ReplicationConfiguration.Rules",
            inner={
                "id": To("ID"),
                "priority": To("Priority"),
                "status": To("Status"),
                "prefix": To("Prefix"),
                "filter": To("Filter", inner=S3_FILTER),
                "deleteMarkerReplication": To("DeleteMarkerReplication", inner=STATUS),
                "existingObjectReplication": To("ExistingObjectReplication", inner=STATUS),
                "sourceSelectionCriteria": To(
                    "SourceSelectionCriteria",
                    inner={
                        "sseKmsEncryptedObjects": To("SseKmsEncryptedObjects", inner=STATUS),
                        "replicaModifications": To("ReplicaModifications", inner=STATUS),
                    },
                ),
                "destination": To(
                    "Destination",
                    inner={
                        "bucket": To("Bucket"),
                        "account": To("Account"),
                        "storageClass": To("StorageClass"),
                        "accessControlTranslation": To("AccessControlTranslation", inner={"owner": To("Owner")}),
                        "encryptionConfiguration": To(
                            "EncryptionConfiguration", inner={"replicaKmsKeyId": To("ReplicaKmsKeyID")}
                        ),
                        "metrics": To(
                            "Metrics",
                            inner={"status": To("Status"), "eventThreshold": To("EventThreshold", inner={"minutes": To("Minutes")})},
                        ),
                        "replicationTime": To(
                            "ReplicationTime",
                            inner={"status": To("Status"), "time": To("Time", inner={"minutes": To("Minutes")})},
                        ),
                    },
                ),
            },
        ),
        "region": REGION,
    },
)

BUCKET_ENCRYPTION = ResourceMapping(
    "s3",
    "PutBucketEncryption",
    {
        "bucket": To("Bucket"),
        "expectedBucketOwner": To("ExpectedBucketOwner"),
        "rules": To(
            "ServerSideEncryptionConfiguration.Rules",
            inner={
                "applyServerSideEncryptionByDefault": To(
                    "ApplyServerSideEncryptionByDefault",
                    inner={"sseAlgorithm": To("SSEAlgorithm"), "kmsMasterKeyId": To("KMSMasterKeyID")},
                ),
                "bucketKeyEnabled": To("BucketKeyEnabled"),
            },
        ),
        "region": REGION,
    },
)

BUCKET_VERSIONING = ResourceMapping(
    "s3",
    "PutBucketVersioning",
    {
        "bucket": To("Bucket"),
        "expectedBucketOwner": To("ExpectedBucketOwner"),
        "mfa": To("MFA"),
        "versioningConfiguration": To(
            "VersioningConfiguration", inner={"status": To("Status"), "mfaDelete": To("MFADelete")}
        ),
        "region": REGION,
    },
)

# SQS, SNS ---------------------------------------------------------------------------------------

QUEUE = ResourceMapping(
    "sqs",
    "CreateQueue",
    {
        "name": To("QueueName"),
        "namePrefix": NAME_PREFIX,
        "visibilityTimeoutSeconds": To("Attributes.VisibilityTimeout", convert=as_text),
        "messageRetentionSeconds": To("Attributes.MessageRetentionPeriod", convert=as_text),
        "maxMessageSize": To("Attributes.MaximumMessageSize", convert=as_text),
        "delaySeconds": To("Attributes.DelaySeconds", convert=as_text),
        "receiveWaitTimeSeconds": To("Attributes.ReceiveMessageWaitTimeSeconds", convert=as_text),
        "policy": To("Attributes.Policy"),
        "redrivePolicy": To("Attributes.RedrivePolicy"),
        "redriveAllowPolicy": To("Attributes.RedriveAllowPolicy"),
        "kmsMasterKeyId": To("Attributes.KmsMasterKeyId"),
        "kmsDataKeyReusePeriodSeconds": To("Attributes.KmsDataKeyReusePeriodSeconds", convert=as_text),
        "sqsManagedSseEnabled": To("Attributes.SqsManagedSseEnabled", convert=as_text),
        "fifoQueue": To("Attributes.FifoQueue", convert=as_text),
        "contentBasedDeduplication": To("Attributes.ContentBasedDeduplication", convert=as_text),
        "deduplicationScope": To("Attributes.DeduplicationScope"),
        "fifoThroughputLimit": To("Attributes.FifoThroughputLimit"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateQueue": {"QueueName": output("name")}},
)

REDRIVE_ALLOW_POLICY = ResourceMapping(
    "sqs",
    "SetQueueAttributes",
    {"queueUrl": To("QueueUrl"), "redriveAllowPolicy": To("Attributes.RedriveAllowPolicy"), "region": REGION},
)

TOPIC = ResourceMapping(
    "sns",
    "CreateTopic",
    {
        "name": To("Name"),
        "namePrefix": NAME_PREFIX,
        "displayName": To("Attributes.DisplayName"),
        "policy": To("Attributes.Policy"),
        "deliveryPolicy": To("Attributes.DeliveryPolicy"),
        "kmsMasterKeyId": To("Attributes.KmsMasterKeyId"),
        "fifoTopic": To("Attributes.FifoTopic", convert=as_text),
        "contentBasedDeduplication": To("Attributes.ContentBasedDeduplication", convert=as_text),
        "signatureVersion": To("Attributes.SignatureVersion", convert=as_text),
        "tracingConfig": To("Attributes.TracingConfig"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateTopic": {"Name": output("name")}},
)

TOPIC_SUBSCRIPTION = ResourceMapping(
    "sns",
    "Subscribe",
    {
        "topic": To("TopicArn"),
        "protocol": To("Protocol"),
        "endpoint": To("Endpoint"),
        "filterPolicy": To("Attributes.FilterPolicy"),
        "filterPolicyScope": To("Attributes.FilterPolicyScope"),
        "rawMessageDelivery": To("Attributes.RawMessageDelivery", convert=as_text),
        "redrivePolicy": To("Attributes.RedrivePolicy"),
        "deliveryPolicy": To("Attributes.DeliveryPolicy"),
        "subscriptionRoleArn": To("Attributes.SubscriptionRoleArn"),
        "endpointAutoConfirms": ProviderOnly("endpointAutoConfirms: tells the provider whether to wait for confirmation"),
        "confirmationTimeoutInMinutes": ProviderOnly("confirmationTimeoutInMinutes: how long the provider waits"),
        "region": REGION,
    },
    identity={"Subscribe": {"ReturnSubscriptionArn": lambda resource: True}},
)

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

# EKS (add-ons; the cluster itself is not the stack's) ------------------------------------------

EKS_ADDON = ResourceMapping(
    "eks",
    "CreateAddon",
    {
        "clusterName": To("clusterName"),
        "addonName": To("addonName"),
        "addonVersion": To("addonVersion"),
        "serviceAccountRoleArn": To("serviceAccountRoleArn"),
        "resolveConflictsOnCreate": To("resolveConflicts"),
        "resolveConflictsOnUpdate": ProviderOnly("resolveConflictsOnUpdate: sent as resolveConflicts with UpdateAddon on later updates"),
        "configurationValues": To("configurationValues"),
        "podIdentityAssociations": To(
            "podIdentityAssociations", inner={"roleArn": To("roleArn"), "serviceAccount": To("serviceAccount")}
        ),
        "preserve": ProviderOnly("preserve: sent only with DeleteAddon when the add-on is destroyed"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
)

# IAM --------------------------------------------------------------------------------------------

IAM_ROLE = ResourceMapping(
    "iam",
    "CreateRole",
    {
        "name": To("RoleName"),
        "namePrefix": NAME_PREFIX,
        "assumeRolePolicy": To("AssumeRolePolicyDocument"),
        "description": To("Description"),
        "maxSessionDuration": To("MaxSessionDuration"),
        "path": To("Path"),
        "permissionsBoundary": To("PermissionsBoundary"),
        "forceDetachPolicies": ProviderOnly("forceDetachPolicies: the provider detaches policies before DeleteRole"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
    },
    identity={"CreateRole": {"RoleName": output("name")}},
)

IAM_ROLE_POLICY = ResourceMapping(
    "iam",
    "PutRolePolicy",
    {"name": To("PolicyName"), "namePrefix": NAME_PREFIX, "role": To("RoleName"), "policy": To("PolicyDocument")},
    identity={"PutRolePolicy": {"PolicyName": output("name")}},
)

IAM_ROLE_POLICY_ATTACHMENT = ResourceMapping(
    "iam", "AttachRolePolicy", {"role": To("RoleName"), "policyArn": To("PolicyArn")}
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

# Route 53 ---------------------------------------------------------------------------------------


def _record_change(resource: PlannedResource, requests: dict[str, ApiRequest]) -> None:
    """The provider sends a record as one CREATE change of ChangeResourceRecordSets (UPSERT with allowOverwrite);
    its one-element `aliases` and `failoverRoutingPolicies` blocks become the AliasTarget structure and the Failover
    value (Terraform aws_route53_record, `alias`, `failover_routing_policy`)."""
    change = requests["ChangeResourceRecordSets"]
    record = change.params.pop("ResourceRecordSet", {})
    if isinstance(record.get("AliasTarget"), list) and len(record["AliasTarget"]) == 1:
        record["AliasTarget"] = record["AliasTarget"][0]
    if isinstance(record.get("Failover"), list) and len(record["Failover"]) == 1:
        record["Failover"] = record["Failover"][0].get("Type")
    action = "UPSERT" if resource.inputs.get("allowOverwrite") else "CREATE"
    change.params["ChangeBatch"] = {"Changes": [{"Action": action, "ResourceRecordSet": record}]}


ROUTE53_RECORD = ResourceMapping(
    "route53",
    "ChangeResourceRecordSets",
    {
        "zoneId": To("HostedZoneId"),
        "name": To("ResourceRecordSet.Name"),
        "type": To("ResourceRecordSet.Type"),
        "setIdentifier": To("ResourceRecordSet.SetIdentifier"),
        "ttl": To("ResourceRecordSet.TTL"),
        "records": To("ResourceRecordSet.ResourceRecords", convert=lambda values: [{"Value": v} for v in values]),
        "healthCheckId": To("ResourceRecordSet.HealthCheckId"),
        "failoverRoutingPolicies": To("ResourceRecordSet.Failover", inner={"type": To("Type")}),
        "aliases": To(
            "ResourceRecordSet.AliasTarget",
            inner={"name": To("DNSName"), "zoneId": To("HostedZoneId"), "evaluateTargetHealth": To("EvaluateTargetHealth")},
        ),
        "allowOverwrite": ProviderOnly("allowOverwrite: makes the change an UPSERT instead of a CREATE"),
        "region": REGION,
    },
    finish=_record_change,
)

ROUTE53_HEALTH_CHECK = ResourceMapping(
    "route53",
    "CreateHealthCheck",
    {
        "type": To("HealthCheckConfig.Type"),
        "cloudwatchAlarmName": To("HealthCheckConfig.AlarmIdentifier.Name"),
        "cloudwatchAlarmRegion": To("HealthCheckConfig.AlarmIdentifier.Region"),
        "insufficientDataHealthStatus": To("HealthCheckConfig.InsufficientDataHealthStatus"),
        "invertHealthcheck": To("HealthCheckConfig.Inverted"),
        "disabled": To("HealthCheckConfig.Disabled"),
        "fqdn": To("HealthCheckConfig.FullyQualifiedDomainName"),
        "port": To("HealthCheckConfig.Port"),
        "resourcePath": To("HealthCheckConfig.ResourcePath"),
        "failureThreshold": To("HealthCheckConfig.FailureThreshold"),
        "requestInterval": To("HealthCheckConfig.RequestInterval"),
        "referenceName": ProviderOnly("referenceName: the provider builds CallerReference from it"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    # CallerReference is the provider's unique token (at most 64 characters, CreateHealthCheck).
    identity={"CreateHealthCheck": {"CallerReference": lambda resource: resource.urn[-64:]}},
)

MAPPINGS: dict[str, ResourceMapping] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": METRIC_ALARM,
    "aws:cloudwatch/dashboard:Dashboard": DASHBOARD,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": COMPOSITE_ALARM,
    "aws:eks/addon:Addon": EKS_ADDON,
    "aws:rds/instance:Instance": RDS_INSTANCE,
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": RDS_BACKUPS_REPLICATION,
    "aws:s3/bucket:Bucket": BUCKET,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": BUCKET_LIFECYCLE,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": BUCKET_OWNERSHIP,
    "aws:s3/bucketPolicy:BucketPolicy": BUCKET_POLICY,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": BUCKET_PUBLIC_ACCESS_BLOCK,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": BUCKET_REPLICATION,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": BUCKET_ENCRYPTION,
    "aws:s3/bucketVersioning:BucketVersioning": BUCKET_VERSIONING,
    "aws:sqs/queue:Queue": QUEUE,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": REDRIVE_ALLOW_POLICY,
    "aws:sns/topic:Topic": TOPIC,
    "aws:sns/topicSubscription:TopicSubscription": TOPIC_SUBSCRIPTION,
    "aws:kms/key:Key": KMS_KEY,
    "aws:kms/alias:Alias": KMS_ALIAS,
    "aws:dynamodb/table:Table": DYNAMODB_TABLE,
    "aws:backup/vault:Vault": BACKUP_VAULT,
    "aws:backup/plan:Plan": BACKUP_PLAN,
    "aws:backup/selection:Selection": BACKUP_SELECTION,
    "aws:iam/role:Role": IAM_ROLE,
    "aws:iam/rolePolicy:RolePolicy": IAM_ROLE_POLICY,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": IAM_ROLE_POLICY_ATTACHMENT,
    "aws:secretsmanager/secret:Secret": SECRET,
    "aws:secretsmanager/secretVersion:SecretVersion": SECRET_VERSION,
    "aws:route53/record:Record": ROUTE53_RECORD,
    "aws:route53/healthCheck:HealthCheck": ROUTE53_HEALTH_CHECK,
}
