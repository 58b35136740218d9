"""Per resource type: which API request(s) pulumi-aws 7 (the Terraform AWS provider underneath) sends.

Read from the pulumi-aws Python SDK (argument docs of each resource) and the
Terraform AWS provider's resource docs; the member names are botocore's.
Tags are applied by the provider through the service's tagging path and are
checked by the policy pack's tagging rule, so they are provider-only here.
"""

from __future__ import annotations

from automation.aws_model.mappings.backup import BACKUP_PLAN, BACKUP_SELECTION, BACKUP_VAULT, DYNAMODB_TABLE
from automation.aws_model.mappings.cloudwatch import COMPOSITE_ALARM, DASHBOARD, METRIC_ALARM
from automation.aws_model.mappings.iam import EKS_ADDON, IAM_ROLE, IAM_ROLE_POLICY, IAM_ROLE_POLICY_ATTACHMENT
from automation.aws_model.mappings.keys import KMS_ALIAS, KMS_KEY, SECRET, SECRET_VERSION
from automation.aws_model.mappings.messaging import QUEUE, REDRIVE_ALLOW_POLICY, TOPIC, TOPIC_SUBSCRIPTION
from automation.aws_model.mappings.rds import RDS_BACKUPS_REPLICATION, RDS_INSTANCE
from automation.aws_model.mappings.route53 import ROUTE53_HEALTH_CHECK, ROUTE53_RECORD
from automation.aws_model.mappings.s3 import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LIFECYCLE,
    BUCKET_OWNERSHIP,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_REPLICATION,
    BUCKET_VERSIONING,
)
from automation.aws_model.translation import ResourceMapping

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
