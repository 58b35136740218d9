"""The scraped-data bucket, its replica in the DR region, and the ops bucket; all protected."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform, service_trust

NONCURRENT_VERSION_DAYS = 90
REPORT_TRANSITION_DAYS = 90


@dataclass(frozen=True)
class StorageArgs:
    platform: Platform
    primary_key: aws.kms.Key  # encrypts the data and ops buckets
    dr_key: aws.kms.Key  # encrypts the replica bucket in the DR region
    # site.dataBucket: a standby's data bucket, its primary's `dataReplicaBucket` (None on a primary, which owns it)
    primary_replica_bucket: str | None = None


@dataclass(frozen=True)
class BucketRef:
    """What the app and the ops jobs need of a bucket the stack does not own."""

    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]


def primary_replica_bucket(name: str, provider: aws.Provider) -> BucketRef:
    """A standby's data bucket: its primary's `dataReplicaBucket` in this region, looked up, not owned. It holds
    what the primary scraped (S3 replication), so after a failover the app sees it; named in config rather than
    read through a StackReference, because on the day the primary region fails the standby's update must depend
    on nothing of the primary but what lives in this region (README, "Disaster recovery")."""
    found = aws.s3.get_bucket_output(bucket=name, opts=pulumi.InvokeOutputOptions(provider=provider))
    return BucketRef(found.bucket, found.arn)


class Storage(pulumi.ComponentResource):
    """The scraped-data bucket replicated to the DR region, and the ops bucket for reports and records. A standby
    owns only its ops bucket: its data bucket is its primary's replica bucket (`site.dataBucket`)."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:Storage", name, None, opts)
        platform = args.platform
        self.data_bucket: aws.s3.Bucket | BucketRef
        self.data_replica_bucket: aws.s3.Bucket | None = None
        if args.primary_replica_bucket:
            self.data_bucket = primary_replica_bucket(args.primary_replica_bucket, platform.aws)
        else:
            self._replicated_data(name, platform, args)
        self.ops_bucket, _ = self._bucket(f"{name}-ops", platform.aws, args.primary_key)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-ops-lifecycle",
            bucket=self.ops_bucket.id,
            rules=[
                {
                    "id": "reports-to-infrequent-access",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [{"days": REPORT_TRANSITION_DAYS, "storage_class": "STANDARD_IA"}],
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs(
            {
                "dataBucket": self.data_bucket.bucket,
                "dataReplicaBucket": self.data_replica_bucket.bucket if self.data_replica_bucket else None,
                "opsBucket": self.ops_bucket.bucket,
            }
        )

    def _replicated_data(self, name: str, platform: Platform, args: StorageArgs) -> None:
        """A primary's data bucket and its replica in the DR region, with the replication between them."""
        self.data_bucket, data_versioning = self._bucket(f"{name}-data", platform.aws, args.primary_key)
        self.data_replica_bucket, replica_versioning = self._bucket(
            f"{name}-data-replica", platform.aws_dr, args.dr_key
        )
        self.replication_role = self._replication_role(name, platform, args)
        self.replication = aws.s3.BucketReplicationConfig(
            f"{name}-data-replication",
            bucket=self.data_bucket.id,
            role=self.replication_role.arn,
            rules=[
                {
                    "id": "data-to-dr-region",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": self.data_replica_bucket.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": args.dr_key.arn},
                        # Replication Time Control: 99.99 % of objects within 15 minutes, measured.
                        "replication_time": {"status": "Enabled", "time": {"minutes": 15}},
                        "metrics": {"status": "Enabled", "event_threshold": {"minutes": 15}},
                    },
                }
            ],
            opts=pulumi.ResourceOptions(
                parent=self, provider=platform.aws, depends_on=[data_versioning, replica_versioning]
            ),
        )

    def _bucket(
        self, name: str, provider: aws.Provider, key: aws.kms.Key
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        bucket = aws.s3.Bucket(
            name,
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            opts=child,
        )
        return bucket, versioning

    def _replication_role(self, name: str, platform: Platform, args: StorageArgs) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-replication-role",
            description="S3 replication of the scraped data to the DR region",
            assume_role_policy=service_trust("s3.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        source, replica = self.data_bucket, self.data_replica_bucket
        aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": [source.arn],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            "Resource": [pulumi.Output.concat(source.arn, "/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                            "Resource": [pulumi.Output.concat(replica.arn, "/*")],
                        },
                        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [args.primary_key.arn]},
                        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [args.dr_key.arn]},
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        return role
