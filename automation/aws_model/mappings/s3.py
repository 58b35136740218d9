"""The requests pulumi-aws 7 sends for S3 buckets and their configuration resources."""

from __future__ import annotations


from automation.aws_model.findings import ApiRequest
from automation.aws_model.mappings.common import NAME_PREFIX, REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import Fields, ProviderOnly, ResourceMapping, To, output
from automation.engine import PlannedResource


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
