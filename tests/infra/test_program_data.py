"""The program's data as declared: the database and its replica, backups, the buckets, the queue, the lock table and
the master password."""

from __future__ import annotations

import json

from automation.engine import SECRET_PLACEHOLDER
from tests.support.programs import resource, resources_of
from tests.support.resource_types import (
    DEPLOYMENT,
    JOB,
    RDS,
    ROLE_POLICY,
)


def test_snapshot_retention_is_exported_for_the_in_cluster_job(prod_plan):
    assert prod_plan.outputs["snapshotRetention"] == {"manualRetentionDays": 35, "keepNewest": 7}


def test_database_is_encrypted_protected_multi_az_and_private(prod_plan):
    primary = resource(prod_plan, RDS, "database-primary")
    key = resource(prod_plan, "aws:kms/key:Key", "keys-primary")
    inputs = primary.inputs
    assert primary.region == "us-east-1" and primary.protect
    assert inputs["engine"] == "postgres"
    assert inputs["engineVersion"] == "16" and inputs["autoMinorVersionUpgrade"] is True, (
        "the major only: RDS moves the minor, and a pinned minor would read as drift (issue 9 item 7)"
    )
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert key.inputs["enableKeyRotation"] is True
    assert inputs["deletionProtection"] is True and inputs["multiAz"] is True
    assert inputs["backupRetentionPeriod"] == 14
    assert inputs["publiclyAccessible"] is False
    assert "manageMasterUserPassword" not in inputs and "password" not in inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["copyTagsToSnapshot"] is True
    assert inputs["skipFinalSnapshot"] is False


def test_replica_and_backup_copies_live_in_the_dr_region_under_the_dr_key(prod_plan):
    replica = resource(prod_plan, RDS, "database-replica")
    primary = resource(prod_plan, RDS, "database-primary")
    assert replica.region == "us-west-2" and replica.protect
    assert replica.inputs["replicateSourceDb"] == f"arn:aws:rds:us-east-1:123456789012:db:{primary.inputs['identifier']}"
    assert replica.inputs["kmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    assert replica.inputs["publiclyAccessible"] is False
    replication = resource(
        prod_plan, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "database-backup-replication",
    )
    assert replication.region == "us-west-2"
    assert replication.inputs["kmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    plan = resource(prod_plan, "aws:backup/plan:Plan", "backups-plan").inputs["rules"][0]
    dr_vault = resource(prod_plan, "aws:backup/vault:Vault", "backups-dr-vault")
    assert dr_vault.region == "us-west-2" and dr_vault.protect
    assert plan["copyActions"][0]["destinationVaultArn"].startswith("arn:aws:backup:us-west-2:")
    assert plan["schedule"] == "cron(0 5 * * ? *)"
    selection = resource(prod_plan, "aws:backup/selection:Selection", "backups-selection").inputs
    assert selection["resources"] == ["arn:aws:rds:us-east-1:123456789012:db:scraper-prod"]


def test_data_bucket_is_versioned_encrypted_private_and_replicated(prod_plan):
    buckets = {r.name: r for r in resources_of(prod_plan, "aws:s3/bucket:Bucket")}
    assert set(buckets) == {"storage-data", "storage-data-replica", "storage-ops"}
    assert all(b.protect for b in buckets.values())
    assert buckets["storage-data-replica"].region == "us-west-2"
    for name in buckets:
        assert resource(prod_plan, "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning").inputs[
            "versioningConfiguration"
        ] == {"status": "Enabled"}
        rule = resource(
            prod_plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption",
        ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert rule["sseAlgorithm"] == "aws:kms"
        block = resource(prod_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access-block")
        assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    replication = resource(prod_plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "storage-data-replication")
    destination = replication.inputs["rules"][0]["destination"]
    assert destination["bucket"] == f"arn:aws:s3:::{prod_plan.outputs['dataReplicaBucket']}"
    assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == prod_plan.outputs["drKmsKeyArn"]
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}


def test_queue_has_a_dead_letter_queue_and_everything_is_encrypted(prod_plan):
    queue = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs").inputs
    dlq = resource(prod_plan, "aws:sqs/queue:Queue", "messaging-scrape-jobs-dlq").inputs
    redrive = json.loads(queue["redrivePolicy"])
    dlq_name = prod_plan.outputs["deadLetterQueueUrl"].rsplit("/", 1)[1]
    assert redrive == {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:123456789012:{dlq_name}", "maxReceiveCount": 5}
    assert queue["kmsMasterKeyId"] and dlq["kmsMasterKeyId"]
    for topic in resources_of(prod_plan, "aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:{topic.region}:")
    subscriptions = resources_of(prod_plan, "aws:sns/topicSubscription:TopicSubscription")
    assert {(s.region, s.inputs["endpoint"]) for s in subscriptions} == {
        ("us-east-1", "sre-oncall@example.com"),
        ("us-west-2", "sre-oncall@example.com"),
    }


def test_lock_table_expires_locks_and_is_protected(prod_plan):
    table = resource(prod_plan, "aws:dynamodb/table:Table", "ops-lock-table")
    assert table.protect
    assert table.inputs["hashKey"] == "lockId"
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}


def test_master_password_is_write_only_in_a_replicated_stack_secret(prod_plan):
    """Issue 9 item 1: RDS cannot create a read replica of a source whose master password it manages, so the
    stack owns the secret. The secret version is the one source: the instance reads its password back from it,
    so a retried create or a replaced instance gets the stored value, never a fresh one."""
    primary = resource(prod_plan, RDS, "database-primary")
    replica = resource(prod_plan, RDS, "database-replica")
    assert replica.inputs["replicateSourceDb"] == primary.outputs["arn"]
    assert primary.inputs["passwordWo"] == SECRET_PLACEHOLDER, "a Pulumi secret, never a plain value"
    assert primary.inputs["passwordWoVersion"] == 1
    assert "passwordWo" not in primary.outputs, "write-only: sent, never stored"
    secret = resource(prod_plan, "aws:secretsmanager/secret:Secret", "database-master-secret")
    assert secret.protect and secret.region == "us-east-1"
    assert secret.inputs["kmsKeyId"] == resource(prod_plan, "aws:kms/key:Key", "keys-primary").outputs["arn"]
    assert secret.inputs["replicas"] == [
        {"region": "us-west-2", "kmsKeyId": resource(prod_plan, "aws:kms/key:Key", "keys-dr").outputs["arn"]}
    ]
    version = resource(prod_plan, "aws:secretsmanager/secretVersion:SecretVersion", "database-master-secret-version")
    assert version.inputs["secretStringWo"] == SECRET_PLACEHOLDER and version.inputs["secretStringWoVersion"] == 1
    assert primary.urn not in version.dependencies, "the secret holds no host: it serves the DR replica too"
    assert version.urn in primary.property_dependencies["passwordWo"] and version.urn in primary.dependencies
    assert prod_plan.outputs["dbSecretArn"] == secret.outputs["arn"]
    app_policy = json.loads(resource(prod_plan, ROLE_POLICY, "app-irsa-policy").inputs["policy"])
    readers = [s for s in app_policy["Statement"] if s["Action"] == ["secretsmanager:GetSecretValue"]]
    dr_copy = secret.outputs["arn"].replace(":us-east-1:", ":us-west-2:")
    assert readers == [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret.outputs["arn"], dr_copy]}
    ]
    deployment = resource(prod_plan, DEPLOYMENT, "app-deployment").inputs["spec"]["template"]["spec"]
    env = {e["name"]: e for e in deployment["containers"][0]["env"]}
    assert env["DATABASE_SECRET_ARN"]["value"] == secret.outputs["arn"]
    assert version.urn in resource(prod_plan, JOB, "app-migration").dependencies, "pods start once it holds a value"
    plan_text = json.dumps(prod_plan.to_json())
    assert "Offline0" not in plan_text, "the generated password never enters a plan"


def test_rotating_the_password_bumps_both_write_only_versions(plan_with):
    plan = plan_with(database={"masterPasswordVersion": 2})
    assert resource(plan, RDS, "database-primary").inputs["passwordWoVersion"] == 2
    version = resource(plan, "aws:secretsmanager/secretVersion:SecretVersion", "database-master-secret-version")
    assert version.inputs["secretStringWoVersion"] == 2
