"""`dr failover` and `dr failback` against moto, the standby stack behind a recording Pulumi CLI, and the fake app.

Where moto falls short (see `real_promotion` and the Stubber tests): its promote_read_replica flips a flag but
leaves the replica's link to its source in place, accepts a second promotion of an instance that is no longer a
replica, and makes an instance available at once, where RDS takes minutes and passes through `modifying`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from automation import dr_record
from automation.aws import Aws
from automation.checklist import MANUAL, Context, dr_drill
from automation.engine import run_program
from automation.failback import Failback
from automation.failover import Failover
from automation.outputs import parse_outputs
from automation.runner import PulumiRunner
from automation.stack_files import read_stack_file
from tests.support.cli import run_cli
from tests.support.fake_pulumi import RecordingPulumi
from tests.support.moto_stack import DR_REGION, REGION, client, network
from tests.support.programs import REPO_ROOT

RPO_SECONDS = 900
UPDATE_SECONDS = 240.0  # how long the standby's update takes on the simulated clock


@pytest.fixture
def real_promotion(monkeypatch):
    """RDS unlinks a promoted replica from its source and refuses to promote an instance that is not a read
    replica (PromoteReadReplica: "Must match the identifier of an existing read replica DB instance",
    InvalidDBInstanceState). moto 5 only clears a flag, so the fake gains both behaviours."""
    from moto.rds import models
    from moto.rds.exceptions import RDSClientError

    def promote(self, db_kwargs):
        database = self.databases[db_kwargs["db_instance_identifier"]]
        if not database.source_db_instance_identifier:
            raise RDSClientError("InvalidDBInstanceState",
                                 f"DB Instance {database.db_instance_identifier} is not a read replica.")
        database.is_replica = False
        database.source_db_instance_identifier = None
        if db_kwargs.get("backup_retention_period") is not None:
            database.backup_retention_period = db_kwargs["backup_retention_period"]
        return database

    monkeypatch.setattr(models.RDSBackend, "promote_read_replica", promote)


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def standby_plan():
    return run_program("prod-dr", read_stack_file("prod-dr", REPO_ROOT))


def seed_standby(outputs_template: dict) -> dict:
    """Create in moto what `pulumi up` of the standby stack (Pulumi.prod-dr.yaml) creates that the runbook
    touches; returns its outputs with the ids moto chose."""
    outputs = dict(outputs_template)
    outputs["drKmsKeyArn"] = client("kms").create_key(Description="prod-dr's key in us-east-1")["KeyMetadata"]["Arn"]
    client("rds").create_db_subnet_group(DBSubnetGroupName=outputs["drSubnetGroupName"], DBSubnetGroupDescription="prod",
                                         SubnetIds=network(REGION, "10.10.0.0/16"))
    # moto gap: a cross-region replica is a copy of its source that keeps the source's region, so moto looks its
    # subnet group up in the source's region. RDS uses the replica's own region; the same name there satisfies moto.
    dr_subnets = client("rds", DR_REGION).describe_db_subnet_groups()["DBSubnetGroups"][0]["Subnets"]
    client("rds", DR_REGION).create_db_subnet_group(DBSubnetGroupName=outputs["drSubnetGroupName"],
                                                    DBSubnetGroupDescription="moto",
                                                    SubnetIds=[s["SubnetIdentifier"] for s in dr_subnets])
    client("s3", DR_REGION).create_bucket(Bucket=outputs["opsBucket"],
                                          CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    client("dynamodb", DR_REGION).create_table(
        TableName=outputs["lockTableName"], KeySchema=[{"AttributeName": "lockId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lockId", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    topic = outputs["alertsTopicArn"].rsplit(":", 1)[1]
    outputs["alertsTopicArn"] = client("sns", DR_REGION).create_topic(Name=topic)["TopicArn"]
    return outputs


def put_lag(instance: str, seconds: float, region: str = DR_REGION, at: datetime | None = None):
    when = at or datetime.now(timezone.utc) - timedelta(minutes=1)
    client("cloudwatch", region).put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance}],
         "Value": seconds, "Timestamp": when}])


def seed_dns(prod: dict, standby: dict) -> None:
    """What `pulumi up` of both stacks declares in Route 53 (infra/components/dns.py): the failover pair of the
    public name and the PRIMARY's alarm health check, with the ids moto chose in the outputs."""
    route53 = client("route53")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="dr-tests")["HostedZone"]["Id"]
    check = route53.create_health_check(CallerReference="dr-tests", HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "InsufficientDataHealthStatus": "Unhealthy",
        "AlarmIdentifier": {"Region": REGION, "Name": "scraper-prod-smoke-tests-failing"}})["HealthCheck"]["Id"]
    for outputs, health in ((prod, {"HealthCheckId": check}), (standby, {})):
        dns = outputs["dns"] = {**outputs["dns"], "hostedZoneId": zone.rsplit("/", 1)[1],
                                "healthCheckId": health.get("HealthCheckId")}
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {
                "Name": dns["recordName"], "Type": "A", "SetIdentifier": dns["setIdentifier"], "Failover": dns["failover"],
                "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": dns["loadBalancerDnsName"],
                                "EvaluateTargetHealth": True}, **health}}]})


class Site:
    """The primary stack in moto, its standby stack (recorded Pulumi CLI + moto resources) and the app."""

    def __init__(self, deployed, fake_app, standby_plan):
        prod, standby = deployed["outputs"], seed_standby(standby_plan.outputs)
        # The standby's site.dataBucket names prod's replica bucket once prod is deployed (Pulumi.prod-dr.yaml).
        standby["dataBucket"] = prod["dataReplicaBucket"]
        prod["kmsKeyArn"] = client("kms").create_key(Description="prod's key in us-east-1")["KeyMetadata"]["Arn"]
        seed_dns(prod, standby)
        self.prod = parse_outputs(prod, "prod")
        self.standby = parse_outputs(standby, "prod-dr")
        self.fake_app = fake_app
        self.clock = Clock()
        self.sleeps: list[float] = []
        self.pulumi = RecordingPulumi("prod-dr", read_stack_file("prod-dr", REPO_ROOT), self.standby.model_dump())
        self.pulumi.on_up = lambda count: self.clock.advance(UPDATE_SECONDS)
        self.runner = PulumiRunner("prod-dr", pulumi_command=self.pulumi, work_dir=REPO_ROOT)
        self.aws = Aws(REGION, DR_REGION)
        sqs = client("sqs", DR_REGION)
        self.notices = sqs.create_queue(QueueName="dr-notices")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.notices, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client("sns", DR_REGION).subscribe(TopicArn=self.standby.alertsTopicArn, Protocol="sqs", Endpoint=arn)

    def waits(self, timeout: float = 600) -> dr_record.Waits:
        def sleep(seconds):
            self.sleeps.append(seconds)
            self.clock.advance(seconds)
        return dr_record.Waits(delay_seconds=30, promote_timeout_seconds=timeout, replica_timeout_seconds=timeout,
                             sleep=sleep)

    def failover(self, **options) -> dr_record.Record:
        options = {"reason": "us-east-1 outage", "smoke_url": self.fake_app.url, **options}
        return Failover(self.aws, self.prod, self.standby, self.runner, dr_record.Options(**options),
                                clock=self.clock, waits=self.waits()).run()

    def failback(self, switch=False, timeout=600, **options) -> dr_record.Record:
        options = {"reason": "us-east-1 is back", **options}
        return Failback(self.aws, self.prod, self.standby, self.runner, dr_record.Options(**options),
                                clock=self.clock, waits=self.waits(timeout), switch=switch).run()

    def instance(self, identifier: str, region: str = DR_REGION) -> dict:
        return client("rds", region).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]

    def stop_primary(self):
        client("rds").stop_db_instance(DBInstanceIdentifier=self.prod.dbInstanceId)

    def serving(self) -> bool:
        return json.loads(self.pulumi.config["social-media-scraper:site"])["serving"]

    def saved(self, kind: str = "failover") -> dict | None:
        try:
            body = client("s3", DR_REGION).get_object(Bucket=self.standby.opsBucket, Key=f"dr-records/prod/{kind}.json")["Body"]
        except client("s3", DR_REGION).exceptions.NoSuchKey:
            return None
        return json.loads(body.read())

    def notices_received(self) -> list[dict]:
        messages = client("sqs", DR_REGION).receive_message(QueueUrl=self.notices, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def primary_health_check(self) -> dict:
        return client("route53").get_health_check(HealthCheckId=self.prod.dns.healthCheckId)["HealthCheck"][
            "HealthCheckConfig"]

    def lock_free(self) -> bool:
        item = client("dynamodb", DR_REGION).get_item(TableName=self.standby.lockTableName,
                                                      Key={"lockId": {"S": "dr/prod"}})
        return "Item" not in item


@pytest.fixture
def site(deployed, fake_app, real_promotion, standby_plan):
    return Site(deployed, fake_app, standby_plan)


def outcomes(record) -> dict[str, str]:
    return {s.name: s.outcome for s in record.steps}


def test_a_clean_failover_promotes_moves_the_app_and_measures_rto_and_the_data_loss_window(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    record = site.failover()

    assert record.outcome == "completed", record.steps
    assert set(outcomes(record).values()) == {"done"}
    promoted = site.instance(site.prod.dbReplicaId)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted and promoted["DBInstanceStatus"] == "available"
    old = site.instance(site.prod.dbInstanceId, REGION)
    assert old["DBInstanceStatus"] == "stopped", "the old primary is left exactly as it was"
    assert site.serving() and len(site.pulumi.of("up")) == 1
    assert "/health" in site.fake_app.requests
    # RTO: from the start of the failover to the public name held on the standby; app ready: to the smoke tests.
    started, serving = datetime.fromisoformat(record.started), datetime.fromisoformat(record.serving_since)
    assert record.app_ready_seconds == (serving - started).total_seconds() >= UPDATE_SECONDS
    assert record.rto_seconds == (datetime.fromisoformat(record.switched_at) - started).total_seconds() \
        >= record.app_ready_seconds
    # The data at risk: ReplicaLag just before the promotion, as a window of time ending at the promotion.
    assert record.lag_seconds == 42.0
    window = record.data_loss_window
    observed = datetime.fromisoformat(record.lag_observed_at)
    assert window["from"] == (observed - timedelta(seconds=42)).isoformat() and window["to"] == record.promoted_at
    assert window["seconds"] >= 42.0
    assert "stopped" in record.primary
    [notice] = site.notices_received()
    assert notice["Subject"] == "Failover completed: prod -> prod-dr" and window["from"] in notice["Message"]
    assert site.saved()["outcome"] == "completed" and site.lock_free()
    # The public name: the PRIMARY record is held unhealthy, so Route 53 answers with the standby's record even
    # when the primary region comes back.
    assert {k: site.primary_health_check()[k] for k in ("Disabled", "Inverted")} == {"Disabled": True, "Inverted": True}
    dns = next(s for s in record.steps if s.name == "dns").detail
    assert f"SECONDARY record -> {site.standby.dns.loadBalancerDnsName}; measured RTO" in dns


def test_the_public_name_is_not_pinned_away_from_the_primary_without_a_standby_record(site):
    """Pinning the PRIMARY unhealthy with no SECONDARY to answer would move nothing; the step fails, says what is
    missing, and the failover resumes there once the standby declares its record."""
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    route53 = client("route53")
    zone = site.standby.dns.hostedZoneId
    [secondary] = [r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                   if r.get("Failover") == "SECONDARY"]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": secondary}]})
    first = site.failover()
    assert first.outcome == "failed" and outcomes(first)["dns"] == "failed"
    assert "no SECONDARY record prod-dr of scraper.example.com" in first.steps[-1].detail
    assert site.primary_health_check()["Inverted"] is False, "the primary was not pinned away"

    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": secondary}]})
    second = site.failover()
    assert second.outcome == "completed" and outcomes(second)["dns"] == "done"
    assert outcomes(second)["promote"] == "already done" and site.primary_health_check()["Inverted"] is True


def test_stacks_without_a_dns_group_fail_over_and_say_the_name_is_moved_by_hand(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    site.prod = site.prod.model_copy(update={"dns": None})
    record = site.failover()
    assert record.outcome == "completed"
    assert "declares no failover record (no dns group): nothing to switch" in next(
        s.detail for s in record.steps if s.name == "dns")


def test_an_interrupted_failover_is_resumed_where_it_stopped(site):
    """The standby fails its smoke test after the promotion; the second run does not promote again (the fake,
    like RDS, would refuse) and measures the RTO from the first run's start."""
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    site.fake_app.mode = "failing"
    first = site.failover()
    assert first.outcome == "failed" and outcomes(first)["smoke"] == "failed"
    assert site.saved()["promoted_at"] == first.promoted_at and site.lock_free()

    site.fake_app.mode = "healthy"
    site.clock.advance(600)
    second = site.failover()
    assert second.outcome == "completed", second.steps
    assert second.run_id == first.run_id and len(second.runs) == 2
    resumed = outcomes(second)
    assert {k: resumed[k] for k in ("assess", "measure-lag", "promote")} == dict.fromkeys(
        ("assess", "measure-lag", "promote"), "already done")
    assert resumed["smoke"] == "done" and resumed["notify"] == "done"
    assert second.rto_seconds >= 600 + UPDATE_SECONDS
    assert second.promoted_at == first.promoted_at and second.data_loss_window == first.data_loss_window

    third = site.failover()
    assert third.outcome == "completed" and third.steps == second.steps, "a completed failover is not run again"
    assert len(site.notices_received()) == 1


def test_excessive_lag_is_refused_unless_the_data_loss_is_accepted_with_a_reason(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 1200.0)
    refused = site.failover()
    assert refused.outcome == "refused"
    assert outcomes(refused)["measure-lag"] == "refused"
    assert f"ReplicaLag 1200 s exceeds the maximum {RPO_SECONDS} s" in refused.steps[-1].detail
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId), "nothing was promoted"
    assert site.pulumi.of("up") == [] and not site.serving()

    accepted = site.failover(accept_data_loss=True, reason="region lost; 20 minutes of writes accepted as lost")
    assert accepted.outcome == "completed"
    assert accepted.accepted_data_loss.endswith("accepted: region lost; 20 minutes of writes accepted as lost")
    assert accepted.data_loss_window["seconds"] >= 1200


def test_unknown_lag_and_a_healthy_primary_are_refused(site):
    record = site.failover()
    assert record.outcome == "refused" and "the primary is not impaired; pass --force" in record.steps[-1].detail
    forced = site.failover(force=True)
    assert forced.outcome == "refused"
    assert "no ReplicaLag of scraper-prod-dr in the last 5 minutes: the data at risk is unknown" in forced.steps[-1].detail
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId)
    accepted = site.failover(force=True, accept_data_loss=True, reason="drill on a healthy primary")
    assert accepted.outcome == "completed"
    assert accepted.data_loss_window == {"from": None, "to": accepted.promoted_at, "seconds": None}
    summary = " ".join(accepted.report(site.clock.now).summary)
    assert f"data-loss window: unknown (no ReplicaLag was measured), ending {accepted.promoted_at}" in summary


def test_a_run_killed_right_after_promoting_is_resumed_without_its_record(site):
    """Killed between PromoteReadReplica and saving the record: the next run finds a standalone instance and
    carries on; the promotion time is bounded by the resume, the data at risk is unknown."""
    site.stop_primary()
    client("rds", DR_REGION).promote_read_replica(DBInstanceIdentifier=site.prod.dbReplicaId)
    record = site.failover()
    assert record.outcome == "completed", record.steps
    assert outcomes(record)["promote"] == "already done"
    assert record.promoted_at.endswith("(by an interrupted run, at the latest)")
    assert record.data_loss_window["seconds"] is None and site.serving()


def test_a_dry_run_shows_every_step_and_changes_nothing(site):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    record = site.failover(dry_run=True)
    assert record.outcome == "dry run"
    assert [s.name for s in record.steps] == ["assess", "check-data", "measure-lag", "promote", "activate-standby",
                                              "smoke", "dns", "notify"]
    assert set(outcomes(record).values()) == {"would run"}
    assert "stopped" in record.steps[0].detail and "ReplicaLag 42 s" in record.steps[2].detail
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId)
    assert site.pulumi.of("up") == [] and site.pulumi.of("config set") == []
    assert site.saved() is None and site.lock_free() and site.notices_received() == []
    assert site.fake_app.requests == [] and site.primary_health_check()["Inverted"] is False


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


# -- where moto falls short: the promotion as RDS performs it, through botocore's Stubber ---------------------


def replica_state(status: str, source: str | None) -> dict:
    instance = {"DBInstanceIdentifier": "scraper-prod-dr", "DBInstanceStatus": status,
                "DBInstanceArn": "arn:aws:rds:us-west-2:123456789012:db:scraper-prod-dr"}
    if source:
        instance["ReadReplicaSourceDBInstanceIdentifier"] = source
    return {"DBInstances": [instance]}


def test_the_promotion_waits_until_rds_has_unlinked_the_replica(site):
    """RDS answers PromoteReadReplica at once, then shows the instance `modifying` with its link for minutes
    before it is a standalone `available` instance; moto skips all of that."""
    rds = boto3.client("rds", region_name=DR_REGION)
    source = "arn:aws:rds:us-east-1:123456789012:db:scraper-prod"
    failover = Failover(site.aws, site.prod, site.standby, site.runner, dr_record.Options(reason="outage"),
                                clock=site.clock, waits=site.waits())
    failover._begin()
    failover.record.lag_seconds, failover.record.lag_observed_at = 30.0, site.clock.now.isoformat()
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", replica_state("available", source))
        stub.add_response("promote_read_replica", {"DBInstance": replica_state("modifying", source)["DBInstances"][0]},
                          {"DBInstanceIdentifier": "scraper-prod-dr", "BackupRetentionPeriod": 14})
        stub.add_response("describe_db_instances", replica_state("modifying", source))
        stub.add_response("describe_db_instances", replica_state("rebooting", None))
        stub.add_response("describe_db_instances", replica_state("available", None))
        detail = failover._promote(rds)
        stub.assert_no_pending_responses()
    assert site.sleeps == [30, 30] and detail.endswith("available")
    assert failover.record.data_loss_window["seconds"] == 30.0


def test_promoting_an_instance_that_is_no_longer_a_replica_is_refused_by_rds():
    """The double refuses what RDS refuses: the resume logic must never depend on a second promotion."""
    rds = boto3.client("rds", region_name=DR_REGION)
    with Stubber(rds) as stub:
        stub.add_client_error("promote_read_replica", "InvalidDBInstanceState",
                              "DB Instance scraper-prod-dr is not a read replica.",
                              expected_params={"DBInstanceIdentifier": "scraper-prod-dr"})
        with pytest.raises(rds.exceptions.InvalidDBInstanceStateFault):
            rds.promote_read_replica(DBInstanceIdentifier="scraper-prod-dr")


def test_the_cli_wants_a_reason(capsys, deployed, tmp_path):
    code, _, err = run_cli(capsys, "dr", "failover", "--stack", "prod", "--outputs", str(deployed["file"]))
    assert code == 2 and "--reason TEXT is required: a failover must say why" in err
    assert not list(tmp_path.glob("failover-*"))


def cli_files(site, tmp_path) -> list[str]:
    standby = tmp_path / "standby-outputs.json"
    standby.write_text(json.dumps(site.standby.model_dump()))
    prod = tmp_path / "prod-outputs.json"
    prod.write_text(json.dumps(site.prod.model_dump()))
    return ["--stack", "prod", "--outputs", str(prod), "--standby-outputs", str(standby), "--out", str(tmp_path)]


def test_the_cli_dry_run_shows_the_runbook_without_changing_anything(capsys, site, tmp_path):
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    code, out, _ = run_cli(capsys, "dr", "failover", *cli_files(site, tmp_path), "--backend", "offline", "--dry-run")
    text = " ".join(out.split())
    assert code == 0, out
    assert text.startswith("dry run: nothing was changed, locked or recorded")
    for step in ("assess", "measure-lag", "promote", "activate-standby", "smoke", "dns", "notify"):
        assert f"│ {step} " in out
    assert "set site.serving=true on prod-dr (now False)" in text
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId)
    assert site.saved() is None and not list(tmp_path.glob("failover-*"))


def test_without_the_pulumi_cli_nothing_is_promoted(capsys, site, tmp_path, monkeypatch):
    """The standby stack is reached before the first change: a missing CLI is exit 3, not a half failover."""
    monkeypatch.setenv("PATH", str(tmp_path))
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    code, _, err = run_cli(capsys, "dr", "failover", *cli_files(site, tmp_path), "--reason", "outage")
    assert code == 3 and "no Pulumi CLI" in err
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId)
    assert site.saved() is None and site.lock_free()


def test_a_failover_through_the_cli_updates_the_standby_stack_and_writes_the_record(capsys, site, tmp_path,
                                                                                   monkeypatch):
    """The whole command on the offline backend: the standby's stack file gets site.serving=true, its update
    unpauses the app's ScaledObject, and the record goes to the standby's ops bucket and to --out."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.prod-dr.yaml"):
        (project / name).write_text((REPO_ROOT / name).read_text())
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(project))
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    code, out, err = run_cli(capsys, "dr", "failover", *cli_files(site, tmp_path), "--backend", "offline",
                             "--reason", "us-east-1 outage", "--url", site.fake_app.url, "--json")
    record = json.loads(out)
    assert code == 0, err
    assert record["outcome"] == "completed" and record["lag_seconds"] == 42.0
    assert read_stack_file("prod-dr", project)["social-media-scraper:site"] == json.dumps(
        {"role": "standby", "serving": True, "primaryStack": "prod", "databaseInstanceId": "scraper-prod-dr",
         "dataBucket": "storage-data-replica-0000000"})
    state = json.loads((project / ".scraper-ops" / "prod-dr.json").read_text())
    scaler = next(r for r in state["resources"] if r["name"] == "autoscaling-scaled-object")
    assert "annotations" not in scaler["inputs"]["metadata"]
    assert {p.suffix for p in tmp_path.glob(f"failover-{record['run_id']}.*")} == {".json", ".md"}
    keys = [o["Key"] for o in client("s3", DR_REGION).list_objects_v2(Bucket=site.standby.opsBucket)["Contents"]]
    assert {f"failover/failover-{record['run_id']}.json", "dr-records/prod/failover.json"} <= set(keys)


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


def test_a_standby_on_another_bucket_than_the_primary_replica_is_refused_before_anything_changes(site):
    """After a failover the app must see what prod scraped: a standby whose data bucket is not prod's replica bucket
    (the stack file's placeholder, say) is refused with the setting to make, before the promotion."""
    site.standby = site.standby.model_copy(update={"dataBucket": "storage-data-replica-0000000"})
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    record = site.failover()
    assert record.outcome == "refused" and [s.name for s in record.steps] == ["assess", "check-data"]
    refusal = record.steps[-1].detail
    assert "prod-dr's app uses the bucket storage-data-replica-0000000" in refusal
    assert (f"pulumi config set --stack prod-dr --path 'social-media-scraper:site.dataBucket' "
            f"{site.prod.dataReplicaBucket}") in refusal
    assert "ReadReplicaSourceDBInstanceIdentifier" in site.instance(site.prod.dbReplicaId)
    assert not site.serving() and site.lock_free() and site.pulumi.of("up") == []


ROUTE53_CALL_SECONDS = 2.0


def test_the_rto_ends_when_route_53_holds_the_name_on_the_standby_and_app_ready_is_kept(site):
    """The smoke tests passing is "app ready"; users reach the standby once Route 53 answers with it, at the end of
    the dns step. Each Route 53 API call takes time on the simulated clock (a botocore hook on the client, the
    process edge), so the two figures differ by exactly the switch."""
    calls = []

    def route53_latency(**_):
        calls.append(1)
        site.clock.advance(ROUTE53_CALL_SECONDS)

    site.aws.client("route53").meta.events.register("before-call.route-53", route53_latency)
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    record = site.failover()
    assert record.outcome == "completed", record.steps
    assert calls and record.rto_seconds - record.app_ready_seconds == len(calls) * ROUTE53_CALL_SECONDS
    started = datetime.fromisoformat(record.started)
    assert record.rto_seconds == (datetime.fromisoformat(record.switched_at) - started).total_seconds()
    assert record.app_ready_seconds == (datetime.fromisoformat(record.serving_since) - started).total_seconds()
    summary = record.report(site.clock.now).summary
    assert summary[1].startswith(f"measured RTO: {record.rto_seconds:.0f} s (from {record.started} to the public "
                                 f"name held on the standby at {record.switched_at}")
    assert summary[2].startswith(f"app ready: {record.app_ready_seconds:.0f} s")
    [notice] = site.notices_received()
    assert f"RTO {record.rto_seconds:.0f} s (app ready after {record.app_ready_seconds:.0f} s)" in notice["Message"]


def test_without_a_dns_group_the_rto_ends_when_the_app_is_ready(site):
    site.prod = site.prod.model_copy(update={"dns": None})
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    record = site.failover()
    assert record.outcome == "completed" and record.switched_at is None
    assert record.rto_seconds == record.app_ready_seconds >= UPDATE_SECONDS
    assert "no public name was switched" in record.report(site.clock.now).summary[1]


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


def test_a_standby_is_not_drilled_it_has_no_replica_of_its_own(capsys, standby_plan, tmp_path):
    """`dr test` on a standby: one line naming its primary, exit 2, nothing written; its monthly checklist item
    points at the primary's drill instead of failing for a report that can never exist."""
    outputs = tmp_path / "standby-outputs.json"
    outputs.write_text(json.dumps(standby_plan.outputs))
    out_dir = tmp_path / "reports"
    code, _, err = run_cli(capsys, "dr", "test", "--outputs", str(outputs), "--out", str(out_dir))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "prod-dr is a standby stack" in err and "run `scraper-ops dr test` on prod" in err
    assert not out_dir.exists()
    item = dr_drill(Context(aws=None, outputs=parse_outputs(standby_plan.outputs, "prod-dr"), now=datetime.now(timezone.utc)))
    assert item.state == MANUAL and "the drill runs on its primary (prod)" in item.evidence



def test_a_run_killed_right_after_pinning_the_name_still_ends_its_rto(site):
    """Killed between UpdateHealthCheck and saving the record: the next run finds the name pinned, and the RTO ends
    no later than that run's look at Route 53, after the app was ready."""
    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 5.0)
    client("route53").update_health_check(HealthCheckId=site.prod.dns.healthCheckId, Disabled=True, Inverted=True)
    record = site.failover()
    assert record.outcome == "completed", record.steps
    assert outcomes(record)["dns"] == "already done"
    assert record.switched_at.endswith("(by an interrupted run, at the latest)")
    assert record.rto_seconds >= record.app_ready_seconds >= UPDATE_SECONDS
