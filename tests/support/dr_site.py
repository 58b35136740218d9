"""The DR site the failover and failback tests run on: the primary stack in moto, its standby stack (moto resources
behind a recording Pulumi CLI), the fake app and a simulated clock.

Where moto falls short (see `promote_as_rds` and the Stubber tests in tests/automation/test_failover.py): its
promote_read_replica flips a flag but leaves the replica's link to its source in place, accepts a second promotion
of an instance that is no longer a replica, and makes an instance available at once, where RDS takes minutes and
passes through `modifying`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from automation import dr_record
from automation.aws import Aws
from automation.failback import Failback
from automation.failover import Failover
from automation.outputs import parse_outputs
from automation.runner import PulumiRunner
from automation.stack_files import read_stack_file
from tests.support.fake_pulumi import RecordingPulumi
from tests.support.moto_stack import DR_REGION, REGION, client, create_subnet_groups
from tests.support.programs import REPO_ROOT

# An alias names the hosted zone of its target: each region's Application Load Balancers have their own (AWS
# General Reference, "Elastic Load Balancing endpoints and quotas"). moto accepts any zone; Route 53 does not.
ALB_HOSTED_ZONES = {REGION: "Z35SXDOTRQ7X7K", DR_REGION: "Z1H1FL5HABSF5"}
UPDATE_SECONDS = 240.0  # how long the standby's update takes on the simulated clock


def promote_as_rds(self, db_kwargs):
    """RDS unlinks a promoted replica from its source and refuses to promote an instance that is not a read
    replica (PromoteReadReplica: "Must match the identifier of an existing read replica DB instance",
    InvalidDBInstanceState). moto 5 only clears a flag: this stands in for moto's RDSBackend.promote_read_replica."""
    from moto.rds.exceptions import RDSClientError  # with the fake it patches: moto stays out of the fast tier

    database = self.databases[db_kwargs["db_instance_identifier"]]
    if not database.source_db_instance_identifier:
        raise RDSClientError("InvalidDBInstanceState",
                             f"DB Instance {database.db_instance_identifier} is not a read replica.")
    database.is_replica = False
    database.source_db_instance_identifier = None
    if db_kwargs.get("backup_retention_period") is not None:
        database.backup_retention_period = db_kwargs["backup_retention_period"]
    return database


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def given_to_the_standby(standby: dict) -> None:
    """What the standby stack (Pulumi.prod-dr.yaml) takes as given and its plan therefore never creates: the DB subnet
    group the failback's replica goes into, in prod's region. moto gap: a cross-region replica is a copy of its source
    that keeps the source's region, so moto looks its subnet group up in the source's region (RDS uses the replica's
    own region); the same name there satisfies moto."""
    create_subnet_groups({(region, standby["drSubnetGroupName"]) for region in (REGION, DR_REGION)})


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
                "AliasTarget": {"HostedZoneId": ALB_HOSTED_ZONES[outputs["region"]],
                                "DNSName": dns["loadBalancerDnsName"], "EvaluateTargetHealth": True}, **health}}]})


class Site:
    """The primary stack in moto, its standby stack (recorded Pulumi CLI + moto resources) and the app."""

    def __init__(self, outputs: list[dict], fake_app):
        """`outputs`: those of the prod and the standby stack deployed into moto from their plans (conftest `deploy`)."""
        prod, standby = outputs
        given_to_the_standby(standby)
        # The standby's site.dataBucket names prod's replica bucket once prod is deployed (Pulumi.prod-dr.yaml).
        standby["dataBucket"] = prod["dataReplicaBucket"]
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


def outcomes(record) -> dict[str, str]:
    return {s.name: s.outcome for s in record.steps}


def cli_files(site, tmp_path) -> list[str]:
    standby = tmp_path / "standby-outputs.json"
    standby.write_text(json.dumps(site.standby.model_dump()))
    prod = tmp_path / "prod-outputs.json"
    prod.write_text(json.dumps(site.prod.model_dump()))
    return ["--stack", "prod", "--outputs", str(prod), "--standby-outputs", str(standby), "--out", str(tmp_path)]
