"""`dr failback` against moto, the standby stack behind a recording Pulumi CLI, and the fake app (the site:
tests/support/dr_site.py): replication back toward the original region, the switch back in a window, the data copied
back."""

from __future__ import annotations

import json
from datetime import timedelta

from automation import dr_record
from automation.failback import Failback
from tests.support.cli import run_cli
from tests.support.dr_site import cli_files, outcomes, put_lag
from tests.support.moto_stack import DR_REGION, REGION, client


def test_failback_recreates_replication_toward_the_original_region_and_switches_back_in_a_window(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 3.0)
    assert site.failover().outcome == "completed"

    back = site.failback(timeout=60)
    assert back.outcome == "failed" and "has not caught up within 60 s: ReplicaLag unknown" in back.steps[-1].detail
    replica = site.instance("scraper-prod-failback", REGION)
    promoted = site.instance(site.prod.dbReplicaId)
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == promoted["DBInstanceArn"]
    # Under prod's own key: the instance prod will adopt cannot change its key later.
    assert replica["KmsKeyId"] == site.prod.kmsKeyArn and replica["DeletionProtection"] is True

    put_lag("scraper-prod-failback", 8.0, REGION, at=site.clock.now - timedelta(minutes=1))
    caught_up = site.failback()
    assert caught_up.outcome == "completed"
    assert outcomes(caught_up)["create-replica"] == "already done" and caught_up.lag_seconds == 8.0
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance("scraper-prod-failback", REGION), \
        "without --switch the new replica keeps replicating"
    assert site.serving()

    # Written by the standby's app during the failover: one new object, one newer than the primary's copy.
    dr_s3, s3 = client("s3", DR_REGION), client("s3")
    s3.put_object(Bucket=site.prod.dataBucket, Key="posts/1.json", Body=b"before the failover")
    dr_s3.put_object(Bucket=site.standby.dataBucket, Key="posts/1.json", Body=b"edited during the failover")
    dr_s3.put_object(Bucket=site.standby.dataBucket, Key="posts/2.json", Body=b"new during the failover")

    switch = site.failback(switch=True, force=True, reason="planned failback")
    assert switch.outcome == "refused" and outcomes(switch)["adopted"] == "refused", switch.steps
    steps = [s.name for s in switch.steps]
    assert steps.index("standby-down") < steps.index("final-catch-up") < steps.index("promote"), \
        "the standby stops writing before the new writer is promoted"
    assert not site.serving() and "ReadReplicaSourceDBInstanceIdentifier" not in site.instance(
        "scraper-prod-failback", REGION)
    assert {k: s3.get_object(Bucket=site.prod.dataBucket, Key=k)["Body"].read() for k in ("posts/1.json", "posts/2.json")} \
        == {"posts/1.json": b"edited during the failover", "posts/2.json": b"new during the failover"}
    refusal = switch.steps[-1].detail
    assert "prod still declares scraper-prod: adopt scraper-prod-failback first" in refusal
    assert "pulumi import --stack prod --yes --protect aws:rds/instance:Instance database-primary " \
           "scraper-prod-failback" in refusal
    assert "--path 'social-media-scraper:database.instanceSuffix' -- -failback" in refusal
    assert site.primary_health_check()["Inverted"] is True, "the name stays away from the old database"

    # The operator adopts the instance (README, "Adopting the failback instance"); the prod stack then names it.
    site.prod = site.prod.model_copy(update={"dbInstanceId": "scraper-prod-failback",
                                             "dbReplicaId": "scraper-prod-failback-dr"})
    record = site.failback(switch=True, force=True, reason="planned failback")
    assert record.outcome == "completed", record.steps
    assert record.run_id == switch.run_id and record.objects_copied == 2, "the rerun copied nothing again"
    resumed = outcomes(record)
    assert resumed["promote"] == "already done" and resumed["adopted"] == "done" and resumed["dns"] == "done"
    assert {k: site.primary_health_check()[k] for k in ("Disabled", "Inverted")} == {"Disabled": False,
                                                                                      "Inverted": False}
    assert not site.serving() and len(site.pulumi.of("up")) == 2
    assert site.instance("scraper-prod", REGION)["DBInstanceStatus"] == "stopped", "never deleted"
    assert site.saved("failover") is None and site.saved("failback") is None, "the next failover starts afresh"
    history = client("s3", DR_REGION).list_objects_v2(Bucket=site.standby.opsBucket, Prefix="dr-records/prod/history/")
    assert {o["Key"].rsplit("-", 1)[1] for o in history["Contents"]} == {"failover.json", "failback.json"}


def test_failback_refuses_before_a_failover(site):
    record = site.failback()
    assert record.outcome == "refused"
    assert "is not a promoted instance: there is nothing to fail back from" in record.steps[-1].detail
    assert [i["DBInstanceIdentifier"] for i in client("rds").describe_db_instances()["DBInstances"]] == [site.prod.dbInstanceId]


def test_the_switch_back_waits_for_the_maintenance_window(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 3.0)
    site.failover()
    put_lag("scraper-prod-failback", 8.0, REGION, at=site.clock.now - timedelta(minutes=1))
    window = site.prod.maintenance.model_copy(update={"windowStart": "0 2 1 1 *"})  # once a year
    prod = site.prod.model_copy(update={"maintenance": window})
    record = Failback(site.aws, prod, site.standby, site.runner, dr_record.Options(reason="failback"),
                              clock=site.clock, waits=site.waits(), switch=True).run()
    assert record.outcome == "refused" and outcomes(record)["window"] == "refused"
    assert "the switch back runs in a maintenance window" in record.steps[-1].detail
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance("scraper-prod-failback", REGION)


def test_the_cli_failback_dry_run_lists_its_steps(capsys, site, tmp_path):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 3.0)
    assert site.failover().outcome == "completed"
    code, out, _ = run_cli(capsys, "dr", "failback", *cli_files(site, tmp_path), "--backend", "offline", "--dry-run",
                           "--switch", "--json")
    record = json.loads(out)
    assert code == 0 and record["outcome"] == "dry run"
    assert [(s["name"], s["outcome"]) for s in record["steps"]][:3] == [
        ("check-failover", "would run"), ("create-replica", "would run"), ("catch-up", "would run")]
    assert {s["name"] for s in record["steps"]} >= {"window", "promote", "standby-down", "notify", "archive"}
    assert [i["DBInstanceIdentifier"] for i in client("rds").describe_db_instances()["DBInstances"]] == [site.prod.dbInstanceId]
    assert site.saved("failback-switch") is None


def replicated_by_s3(s3, bucket: str, keys: set[str]) -> None:
    """moto performs no S3 replication and never answers HeadObject with a ReplicationStatus; here the objects S3
    would have replicated from prod are answered as S3 answers for them in a destination bucket, `REPLICA`
    (botocore s3 model, HeadObjectOutput.ReplicationStatus), through hooks on the client: the process edge."""
    def remember(params, context, **_):
        context["replicated"] = params.get("Bucket") == bucket and params.get("Key") in keys

    def mark(parsed, context, **_):
        if context.get("replicated") and "Error" not in parsed:
            parsed["ReplicationStatus"] = "REPLICA"

    s3.meta.events.register("provide-client-params.s3.HeadObject", remember)
    s3.meta.events.register("after-call.s3.HeadObject", mark)


def test_the_switch_back_copies_only_what_the_standby_wrote_never_what_s3_replicated_from_prod(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 3.0)
    assert site.failover().outcome == "completed"
    put_lag("scraper-prod-failback", 8.0, REGION, at=site.clock.now - timedelta(minutes=1))
    assert site.failback().outcome == "completed"

    dr_s3, s3 = client("s3", DR_REGION), client("s3")
    replica_bucket = site.standby.dataBucket
    assert replica_bucket == site.prod.dataReplicaBucket
    # Replicated from prod before the failure: one prod has rewritten since, one prod has deleted since.
    dr_s3.put_object(Bucket=replica_bucket, Key="posts/rewritten.json", Body=b"prod's old version")
    dr_s3.put_object(Bucket=replica_bucket, Key="posts/deleted.json", Body=b"prod deleted it")
    s3.put_object(Bucket=site.prod.dataBucket, Key="posts/rewritten.json", Body=b"prod's current version")
    # Written by the standby's app during the failover.
    dr_s3.put_object(Bucket=replica_bucket, Key="posts/scraped-in-dr.json", Body=b"new during the failover")
    replicated_by_s3(site.aws.dr("s3"), replica_bucket, {"posts/rewritten.json", "posts/deleted.json"})

    switch = site.failback(switch=True, force=True, reason="planned failback")
    assert outcomes(switch)["copy-data"] == "done" and outcomes(switch)["adopted"] == "refused", switch.steps
    back = {o["Key"]: s3.get_object(Bucket=site.prod.dataBucket, Key=o["Key"])["Body"].read()
            for o in s3.list_objects_v2(Bucket=site.prod.dataBucket)["Contents"]}
    assert back == {"posts/rewritten.json": b"prod's current version", "posts/scraped-in-dr.json": b"new during the failover"}
    assert switch.objects_copied == 1
    assert "2 replicated from" in next(s.detail for s in switch.steps if s.name == "copy-data")
