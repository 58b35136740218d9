"""The requests pulumi-aws 7 sends for RDS instances and their automated-backup replication."""

from __future__ import annotations


from automation.aws_model.findings import ApiRequest
from automation.aws_model.mappings.common import NAME_PREFIX, REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import Fields, ProviderOnly, ResourceMapping, To, output
from automation.engine import PlannedResource


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
    from automation.aws_model.models import request_model

    create = requests.get("CreateDBInstance")
    if create is None or "SourceDBInstanceIdentifier" not in create.params:
        return
    del requests["CreateDBInstance"]
    members = {op: request_model("rds", op).input_shape.members for op in READ_REPLICA_OPERATIONS}
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
