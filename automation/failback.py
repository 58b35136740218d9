"""`scraper-ops dr failback`: replication back to the original region, then the switch back (automation/failover.py
describes the strategy)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from automation.aws import error_code
from automation.dr_record import RECORDS, Refused, iso
from automation.dr_runbook import Runbook, describe, is_replica, latest_lag
from automation.maintenance import Aborted
from automation.windows import current_window, next_windows
from contract.outputs import StackOutputs
from infra.config import PROJECT

FAILBACK_SUFFIX = "-failback"
COPIED_FROM = "dr-copy-of"  # metadata of an object `dr failback --switch` copied back: the ETag it was copied from


class Failback(Runbook):
    """Phase one (default): a new replica of the promoted instance in the original region, caught up within the
    RPO. Phase two (`switch`), in the primary's maintenance window: the standby's app stops writing, the replica
    catches up and is promoted, the data written in the DR region is copied back, and once the primary stack has
    adopted the new instance (README, "Adopting the failback instance") the public name returns to it."""

    kind = "failback"

    def __init__(self, *args: Any, switch: bool = False, **kwargs: Any):
        self.switch = switch
        super().__init__(*args, **kwargs)

    @property
    def record_name(self) -> str:
        return "failback-switch" if self.switch else "failback"

    def _steps(self) -> None:
        rds = self.aws.client("rds")
        # Kept in the record: once the primary stack has adopted the new instance its outputs name other instances.
        self.source_id = self.record.source_id = self.record.source_id or self.primary.dbReplicaId
        self.replica_id = self.record.replica_id = (self.record.replica_id
                                                    or f"{self.primary.dbInstanceId}{FAILBACK_SUFFIX}")
        self.step("check-failover", lambda: None, self._check_failover)
        self.step("create-replica", lambda: self._replica_exists(rds), lambda: self._create_replica(rds),
                  lambda: f"create {self.replica_id} in {self.primary.region}, a read replica of "
                          f"{self.source_id} ({self.primary.drRegion}) under "
                          f"{self.primary.kmsKeyArn or self.standby.drKmsKeyArn}")
        self.step("catch-up", lambda: self._promoted(rds), self._catch_up,
                  lambda: f"wait until {self.replica_id}'s ReplicaLag is within {self.rpo_seconds} s (the RPO)")
        if not self.switch:
            return
        self.step("window", lambda: None, self._window)
        self.step("standby-down", lambda: "already standing by" if self.serving() is False else None,
                  lambda: self.set_serving(False),
                  lambda: f"set site.serving=false on {self.standby.stack} and update it: its app stops writing to "
                          f"{self.source_id} before the promotion")
        self.step("final-catch-up", lambda: self._promoted(rds), self._catch_up,
                  lambda: f"wait until {self.replica_id}'s ReplicaLag is within {self.rpo_seconds} s now that "
                          "nothing writes; the lag left is the data at risk")
        self.step("promote", lambda: self._promoted(rds), lambda: self._promote(rds),
                  lambda: f"promote {self.replica_id} in {self.primary.region}")
        self.step("copy-data", lambda: None, self._copy_data,
                  lambda: f"copy the objects the app wrote to {self.standby.dataBucket} during the failover (not "
                          f"those S3 replicated there) into {self.primary.dataBucket} (where missing or older there)")
        self.step("adopted", lambda: None, self._adopted)
        self.step("dns", lambda: self.dns.released(), self.dns.release,
                  lambda: f"let {self.primary.stack}'s PRIMARY record of {self.dns.name} follow its health check "
                          "again (neither disabled nor inverted)")
        self.step("notify", lambda: None,
                  lambda: self.notify(f"Failback completed: {self.standby.stack} -> {self.primary.stack}",
                                      f"Failback {self.record.run_id}: {self.replica_id} in {self.primary.region} is "
                                      f"the writer and {self.primary.stack} serves on it. {self.source_id} and the "
                                      "old primary are left for you to inspect and delete."),
                  lambda: f"announce on {self.standby.alertsTopicArn}")
        self.step("archive", lambda: None, self._archive,
                  lambda: f"move this DR cycle's records to {RECORDS}/{self.primary.stack}/history/ so that the next "
                          "failover starts afresh")

    def _promoted(self, rds: Any) -> str | None:
        instance = describe(rds, self.replica_id)
        if instance is None or is_replica(instance):
            return None
        return f"{self.replica_id} is promoted already ({instance['DBInstanceStatus']})"

    def _copy_data(self) -> str:
        """The standby's app wrote to its data bucket, the primary's replica bucket, which also holds every object S3
        replicated from the primary: only the objects S3 did not mark `REPLICA` (S3 User Guide, "Getting replication
        status information"; HeadObject's ReplicationStatus) were written in the DR region, and only they are copied
        into the primary's data bucket, each marked with the ETag it was copied from (a rerun copies nothing twice).
        An object the primary wrote later is kept; deletions made during the failover are not replayed."""
        source, target = self.standby.dataBucket, self.primary.dataBucket
        dr_s3, s3 = self.aws.dr("s3"), self.aws.client("s3")
        copied = replicated = 0
        for page in dr_s3.get_paginator("list_objects_v2").paginate(Bucket=source):
            for item in page.get("Contents", []):
                key, etag = item["Key"], item["ETag"].strip('"')
                original = dr_s3.head_object(Bucket=source, Key=key)
                if original.get("ReplicationStatus") == "REPLICA":
                    replicated += 1
                    continue
                try:
                    there = s3.head_object(Bucket=target, Key=key)
                    if there["Metadata"].get(COPIED_FROM) == etag or there["LastModified"] > item["LastModified"]:
                        continue
                except ClientError as error:
                    if error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                        raise
                # The managed copy uses multipart UploadPartCopy above 5 GB, where one CopyObject would fail.
                s3.copy({"Bucket": source, "Key": key}, target, key, SourceClient=dr_s3, ExtraArgs={
                    "MetadataDirective": "REPLACE", "Metadata": {**original["Metadata"], COPIED_FROM: etag},
                    "ContentType": original.get("ContentType", "binary/octet-stream")})
                copied += 1
        self.record.objects_copied = (self.record.objects_copied or 0) + copied
        return (f"copied {copied} object(s) written in {self.primary.drRegion} from {source} to {target} "
                f"({self.record.objects_copied} in this failback); {replicated} replicated from {target} left alone; "
                "objects deleted during the failover are not deleted here")

    def _adopted(self) -> str:
        if self.primary.dbInstanceId == self.replica_id:
            return f"{self.primary.stack} declares {self.replica_id} as its database"
        raise Refused(f"{self.primary.stack} still declares {self.primary.dbInstanceId}: adopt {self.replica_id} "
                      "first, then run `dr failback --switch` again. " + "; ".join(adoption_commands(
                          self.primary, self.standby, self.replica_id)))

    def _archive(self) -> str:
        s3, bucket = self.store.s3, self.store.bucket
        moved = []
        for name in ("failover", "failback"):
            key = f"{RECORDS}/{self.primary.stack}/{name}.json"
            try:
                s3.copy_object(Bucket=bucket, Key=f"{RECORDS}/{self.primary.stack}/history/{self.record.run_id}-{name}.json",
                               CopySource={"Bucket": bucket, "Key": key})
            except ClientError as error:
                if error_code(error) not in ("NoSuchKey", "404", "NotFound"):
                    raise
                continue
            s3.delete_object(Bucket=bucket, Key=key)
            moved.append(name)
        return f"archived the {' and '.join(moved) or 'no'} records under {RECORDS}/{self.primary.stack}/history/"

    def _check_failover(self) -> str:
        promoted = describe(self.aws.dr("rds"), self.source_id)
        if promoted is None or is_replica(promoted):
            raise Refused(f"{self.source_id} in {self.primary.drRegion} is not a promoted instance: there "
                          "is nothing to fail back from")
        return f"{self.source_id} is the writer in {self.primary.drRegion} ({promoted['DBInstanceStatus']})"

    def _replica_exists(self, rds: Any) -> str | None:
        instance = describe(rds, self.replica_id)
        if instance is None:
            return None
        return f"{self.replica_id} exists ({instance['DBInstanceStatus']}, source " \
               f"{instance.get('ReadReplicaSourceDBInstanceIdentifier') or 'none: promoted'})"

    def _create_replica(self, rds: Any) -> str:
        source = describe(self.aws.dr("rds"), self.source_id)
        # A cross-region replica names its source by ARN and needs a KMS key of its own region when encrypted
        # (RDS API Reference, CreateDBInstanceReadReplica: SourceDBInstanceIdentifier, KmsKeyId). The primary stack's
        # own key, so that the stack can adopt the instance (an instance's key cannot change: a new key would be a
        # replacement); the standby's "DR" key, in the same region, for stacks deployed before the `kmsKeyArn`
        # output. The standby stack is the same program with the regions swapped: its "DR" subnet group and security
        # groups are the original region's, the primary's database network.
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=self.replica_id, SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion=self.primary.drRegion, KmsKeyId=self.primary.kmsKeyArn or self.standby.drKmsKeyArn,
            DBSubnetGroupName=self.standby.drSubnetGroupName, VpcSecurityGroupIds=self.standby.drSecurityGroupIds,
            DeletionProtection=True, CopyTagsToSnapshot=True,
            Tags=[{"Key": "created-by", "Value": "scraper-ops dr failback"}, {"Key": "stack", "Value": self.primary.stack},
                  *({"Key": k, "Value": v} for k, v in self.primary.costTags.items())],
        )
        self.wait_for(rds, self.replica_id, lambda i: i["DBInstanceStatus"] == "available",
                      self.waits.replica_timeout_seconds, "available")
        return f"{self.replica_id} available in {self.primary.region}, replicating from {self.source_id}"

    def _catch_up(self) -> str:
        cloudwatch = self.aws.client("cloudwatch")
        waited = 0.0
        while True:
            measured = latest_lag(cloudwatch, self.replica_id, self.clock())
            if measured is not None and measured[0] <= self.rpo_seconds:
                self.record.lag_seconds, observed = measured
                self.record.lag_observed_at = iso(observed)
                return f"ReplicaLag {measured[0]:.0f} s, within the RPO {self.rpo_seconds} s"
            if waited >= self.waits.replica_timeout_seconds:
                raise Aborted(f"{self.replica_id} has not caught up within {waited:.0f} s: ReplicaLag "
                              f"{'unknown' if measured is None else f'{measured[0]:.0f} s'} (RPO {self.rpo_seconds} s); "
                              "run the failback again to keep waiting")
            self.waits.sleep(self.waits.delay_seconds)
            waited += self.waits.delay_seconds

    def _window(self) -> str:
        now = self.clock()
        window = current_window(self.primary.maintenance, now)
        if window is not None:
            return f"inside the maintenance window until {window.end:%H:%M} UTC"
        if self.options.force:
            return f"outside the maintenance window, forced: {self.options.reason}"
        upcoming = next_windows(self.primary.maintenance, now, 1)[0]
        raise Refused(f"the switch back runs in a maintenance window; the next one starts "
                      f"{upcoming.start:%Y-%m-%d %H:%M} UTC (or --force --reason TEXT)")

    def _promote(self, rds: Any) -> str:
        instance = describe(rds, self.replica_id)
        if instance is not None and is_replica(instance):
            rds.promote_read_replica(DBInstanceIdentifier=self.replica_id,
                                     BackupRetentionPeriod=self.primary.dbBackupRetentionDays)
        self.wait_for(rds, self.replica_id, lambda i: not is_replica(i) and i["DBInstanceStatus"] == "available",
                      self.waits.promote_timeout_seconds, "a standalone available instance")
        return f"{self.replica_id} is the writer in {self.primary.region}"


def adoption_commands(primary: StackOutputs, standby: StackOutputs, replica_id: str) -> list[str]:
    """The Pulumi CLI steps that make the primary stack declare the promoted failback instance (and a new DR replica
    of it) under the same logical names; the stack runner has no import, so they are the operator's to run."""
    stack, prefix = primary.stack, f"scraper-{primary.stack}"
    instance_suffix = replica_id.removeprefix(prefix)
    replica_suffix = f"{instance_suffix}-dr"

    def urn(kind: str, name: str) -> str:
        return f"urn:pulumi:{stack}::{PROJECT}::scraper:data:Database${kind}::{name}"

    old_primary, old_replica = urn("aws:rds/instance:Instance", "database-primary"), urn("aws:rds/instance:Instance",
                                                                                          "database-replica")
    parent = f"urn:pulumi:{stack}::{PROJECT}::scraper:data:Database::database"
    provider = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:aws::aws-primary"
    return [
        f"pulumi state unprotect --stack {stack} --yes '{old_primary}'",
        f"pulumi state delete --stack {stack} --yes '{old_primary}'",
        f"pulumi state unprotect --stack {stack} --yes '{old_replica}'",
        f"pulumi state delete --stack {stack} --yes '{old_replica}'",
        f"pulumi config set --stack {stack} --path '{PROJECT}:database.instanceSuffix' -- {instance_suffix}",
        f"pulumi config set --stack {stack} --path '{PROJECT}:dr.replicaSuffix' -- {replica_suffix}",
        f"pulumi import --stack {stack} --yes --protect aws:rds/instance:Instance database-primary {replica_id} "
        f"--parent 'database={parent}' --provider 'aws-primary={provider}'",
        f"pulumi up --stack {stack}",
        f"pulumi config set --stack {standby.stack} --path '{PROJECT}:site.databaseInstanceId' {prefix}{replica_suffix}",
        f"pulumi up --stack {standby.stack}",
    ]
