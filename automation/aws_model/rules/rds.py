"""RDS: read replicas, master password and storage rules."""

from __future__ import annotations

from typing import Iterator

from automation.aws_model.facts import PlanFacts, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

READ_REPLICA_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html"
SECRETS_LIMITATIONS_DOC = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations"
)
CREATE_INSTANCE_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
STORAGE_AUTOSCALING_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html"
GP3_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage"

# CreateDBInstance, MasterUserPassword: printable ASCII except "/", '"' and "@"; RDS for PostgreSQL 8-128 characters.
# The space is printable but refused by RDS's console and API validation alike ("Only printable ASCII characters
# besides '/', '@', '"', ' ' may be used"), so it is refused here too.
POSTGRES_PASSWORD_LENGTH = (8, 128)
PASSWORD_FORBIDDEN = set('/"@ ')
# CreateDBInstance, AllocatedStorage, RDS for PostgreSQL: gp2/gp3 20-65536 GiB.
POSTGRES_GP_STORAGE = (20, 65536)
# gp3 below 400 GiB (PostgreSQL, MySQL, MariaDB) has a fixed baseline of 3000 IOPS and 125 MiB/s: nothing to provision.
GP3_PROVISIONING_THRESHOLD_GIB = 400


def replica_source(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """A replica in another region names its source by ARN, and then must name a KMS key of its own region."""
    source = request.params.get("SourceDBInstanceIdentifier")
    if not isinstance(source, str):
        return
    arn = parse_arn(source)
    source_region = arn.region if arn else next(
        (r.region for r in facts.requests if r.operation == "CreateDBInstance" and r.params.get("DBInstanceIdentifier") == source),
        None,
    )
    cross_region = source_region is not None and source_region != request.region
    if cross_region and arn is None:
        yield request.finding(
            "rds-replica-source-arn", "SourceDBInstanceIdentifier",
            f"the source '{source}' is in {source_region}, the replica in {request.region}: a cross-region source is given by ARN",
            READ_REPLICA_DOC,
        )
    key = request.params.get("KmsKeyId")
    if key is None and cross_region and "KmsKeyId" not in request.unknown:
        yield request.finding(
            "rds-replica-kms-key", "KmsKeyId",
            f"an encrypted cross-region replica needs a KMS key of {request.region}", READ_REPLICA_DOC,
        )
    key_region = facts.key_region(key)
    if key is not None and key_region is not None and key_region != request.region:
        yield request.finding(
            "rds-replica-kms-key", "KmsKeyId",
            f"the key is in {key_region}; a replica in {request.region} needs a key of its own region", READ_REPLICA_DOC,
        )


def managed_password_on_replica_source(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """RDS refuses a read replica of a source whose master password Secrets Manager manages (all engines but SQL Server)."""
    if request.params.get("ManageMasterUserPassword") is not True:
        return
    identifier = request.params.get("DBInstanceIdentifier")
    own_arn = facts.arns.get(request.urn)
    if identifier in facts.replica_sources or (own_arn and own_arn in facts.replica_sources):
        yield request.finding(
            "rds-managed-password-replica-source", "ManageMasterUserPassword",
            f"'{identifier}' has a read replica in this plan; RDS cannot create a replica of a source whose "
            "master password it manages in Secrets Manager",
            SECRETS_LIMITATIONS_DOC,
        )


def master_password(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """A literal master password: not with ManageMasterUserPassword; for postgres 8-128 printable ASCII but / " @ space."""
    password = request.params.get("MasterUserPassword")
    if not isinstance(password, str):
        return
    if request.params.get("ManageMasterUserPassword") is True:
        yield request.finding(
            "rds-master-password", "MasterUserPassword", "cannot be given when ManageMasterUserPassword is on", CREATE_INSTANCE_DOC
        )
    if request.params.get("Engine") != "postgres":
        return
    low, high = POSTGRES_PASSWORD_LENGTH
    if not low <= len(password) <= high:
        yield request.finding(
            "rds-master-password", "MasterUserPassword", f"has {len(password)} characters; postgres allows {low}-{high}", CREATE_INSTANCE_DOC
        )
    if any(not 33 <= ord(c) <= 126 or c in PASSWORD_FORBIDDEN for c in password):
        yield request.finding(
            "rds-master-password", "MasterUserPassword",
            "only printable ASCII other than '/', '\"', '@' and space is allowed (the value is not shown)", CREATE_INSTANCE_DOC,
        )


def storage(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Storage autoscaling ceiling above the allocation; postgres gp2/gp3 size range; gp3 provisioning from 400 GiB."""
    params = request.params
    allocated, ceiling = params.get("AllocatedStorage"), params.get("MaxAllocatedStorage")
    if isinstance(allocated, int) and isinstance(ceiling, int) and ceiling <= allocated:
        yield request.finding(
            "rds-max-allocated-storage", "MaxAllocatedStorage",
            f"{ceiling} GiB must be greater than AllocatedStorage {allocated} GiB", STORAGE_AUTOSCALING_DOC,
        )
    storage_type = params.get("StorageType")
    if not isinstance(allocated, int) or storage_type not in ("gp2", "gp3"):
        return
    low, high = POSTGRES_GP_STORAGE
    if params.get("Engine") == "postgres" and not low <= allocated <= high:
        yield request.finding(
            "rds-storage-size", "AllocatedStorage", f"{allocated} GiB; postgres {storage_type} allows {low}-{high}", CREATE_INSTANCE_DOC
        )
    if storage_type == "gp3" and allocated < GP3_PROVISIONING_THRESHOLD_GIB:
        for name in ("Iops", "StorageThroughput"):
            if name in params:
                yield request.finding(
                    "rds-gp3-provisioning", name,
                    f"gp3 below {GP3_PROVISIONING_THRESHOLD_GIB} GiB has a fixed baseline; {name} cannot be set", GP3_DOC,
                )


RULES = {
    "CreateDBInstance": (managed_password_on_replica_source, master_password, storage),
    "ModifyDBInstance": (master_password, storage),
    "CreateDBInstanceReadReplica": (replica_source, storage),
}
