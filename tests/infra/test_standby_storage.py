"""A standby's data is its primary's: the app of `prod-dr` reads and writes prod's replica bucket (`site.dataBucket`),
which S3 keeps filled with what prod scraped, so after a failover nothing prod wrote before the failure is missing.
The standby owns only its ops bucket, and the ignore of the health check's runbook-owned flags is checked here too."""

from __future__ import annotations

import json

import pytest

from automation.engine import run_program
from automation.stack_files import read_stack_file
from infra.components.dns import RUNBOOK_OWNED_FLAGS
from infra.config import ConfigError, parse_stack_config
from tests.support.programs import REPO_ROOT, policy_statements, prod_config, resource, resources_of, with_changes
from tests.support.resource_types import CRONJOB

BUCKET = "aws:s3/bucket:Bucket"


@pytest.fixture(scope="module")
def standby_on_prods_replica_bucket(prod_plan):
    """prod, then its standby configured with prod's replica bucket as the operator sets it after prod's deploy."""
    config = read_stack_file("prod-dr", REPO_ROOT)
    site = {**json.loads(config["social-media-scraper:site"]), "dataBucket": prod_plan.outputs["dataReplicaBucket"]}
    return prod_plan, run_program("prod-dr", {**config, "social-media-scraper:site": json.dumps(site)})


def allowed(plan, policy: str, action: str) -> set[str]:
    return {arn for s in policy_statements(plan, policy) if action in s["Action"] for arn in s["Resource"]}


def test_the_standby_runs_on_the_primary_replica_bucket_and_owns_only_its_ops_bucket(standby_on_prods_replica_bucket):
    prod, standby = standby_on_prods_replica_bucket
    assert standby.outputs["dataBucket"] == prod.outputs["dataReplicaBucket"]
    assert standby.outputs["dataReplicaBucket"] is None
    owned = {r.name for r in resources_of(standby, BUCKET)}
    assert owned == {"storage-ops"} and "storage-ops" in {r.name for r in resources_of(prod, BUCKET)}
    assert resources_of(standby, "aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    ops = resource(standby, BUCKET, "storage-ops")
    assert ops.protect and ops.parent == resource(prod, BUCKET, "storage-ops").parent.replace("prod", "prod-dr", 1)
    env = {e["name"]: e.get("value") for e in resource(standby, "kubernetes:apps/v1:Deployment", "app-deployment")
           .inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATA_BUCKET"] == prod.outputs["dataReplicaBucket"]


def test_the_standby_app_may_read_and_write_the_replica_bucket_under_the_primary_dr_key(standby_on_prods_replica_bucket):
    prod, standby = standby_on_prods_replica_bucket
    bucket_arn = f"arn:aws:s3:::{prod.outputs['dataReplicaBucket']}"
    assert allowed(standby, "app-irsa-policy", "s3:PutObject") == {f"{bucket_arn}/*"}
    assert allowed(standby, "app-irsa-policy", "s3:GetObject") == {f"{bucket_arn}/*"}
    assert allowed(standby, "app-irsa-policy", "s3:ListBucket") == {bucket_arn}
    # The replica bucket's default key (and the key of what S3 replicates into it) is prod's DR key, the one its
    # alias alias/scraper-prod-dr names in this region: writing needs GenerateDataKey on it, reading Decrypt.
    own_key = resource(standby, "aws:kms/key:Key", "keys-primary").outputs["arn"]
    [data_key] = allowed(standby, "app-irsa-policy", "kms:GenerateDataKey") - {own_key}
    assert data_key in allowed(standby, "app-irsa-policy", "kms:Decrypt")
    assert data_key.startswith("arn:aws:kms:us-west-2:") and data_key not in allowed(prod, "app-irsa-policy",
                                                                                   "kms:GenerateDataKey")


def test_the_standby_does_not_drill_a_replica_it_does_not_have(standby_on_prods_replica_bucket):
    """`dr test` refuses a standby: its CronJob is suspended and its role may not touch the data buckets."""
    prod, standby = standby_on_prods_replica_bucket
    for plan, suspended in ((prod, False), (standby, True)):
        job = resource(plan, CRONJOB, "ops-jobs-scraper-ops-dr-test").inputs["spec"]
        assert job.get("suspend", False) is suspended
    drill = "ops-jobs-scraper-ops-dr-test-policy"
    assert allowed(prod, drill, "s3:GetReplicationConfiguration") == {f"arn:aws:s3:::{prod.outputs['dataBucket']}"}
    assert any(prod.outputs["dataReplicaBucket"] in str(s["Resource"]) for s in policy_statements(prod, drill))
    assert not any(standby.outputs["dataBucket"] in str(s["Resource"]) for s in policy_statements(standby, drill))


def problems(site: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(with_changes(read_stack_file("prod-dr", REPO_ROOT), site=site))
    return caught.value.problems


def test_a_standby_without_the_primary_bucket_and_a_primary_with_one_are_refused():
    assert problems({"dataBucket": None}) == [
        "social-media-scraper:site.dataBucket = null: required with role standby: the primary's dataReplicaBucket, "
        "which holds what the primary scraped (pulumi stack output dataReplicaBucket --stack <primaryStack>)"]
    [refusal] = problems({"dataBucket": "Storage_Data"})
    assert refusal.startswith('social-media-scraper:site.dataBucket = "Storage_Data": must be an S3 bucket name')
    primary = with_changes(prod_config(), site={"dataBucket": "storage-data-replica-e0b6633"})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(primary)
    assert caught.value.problems == [
        'social-media-scraper:site.dataBucket = "storage-data-replica-e0b6633": only for role standby; a primary '
        "owns its data bucket"]


def test_the_stack_keeps_its_hands_off_the_flags_the_runbook_flips(prod_plan):
    """`dr failover` pins the PRIMARY record's health check by disabling and inverting it through the Route 53 API;
    a `pulumi up` of prod meanwhile must not undo that (infra/components/dns.py ignores both). Recorded as the SDK
    sends the option to the engine, so dropping the ignore, or misnaming a property, fails here."""
    check = resource(prod_plan, "aws:route53/healthCheck:HealthCheck", "dns-health-check")
    assert set(check.ignore_changes) == set(RUNBOOK_OWNED_FLAGS) == {"invertHealthcheck", "disabled"}
    assert {check.inputs[flag] for flag in check.ignore_changes} == {False}, "each names an input the stack sets"


def test_the_standby_bills_the_database_it_runs_on_not_its_unused_database_group(standby_on_prods_replica_bucket):
    """A standby's `sizing` (what its cost review prices) is the looked-up instance, prod's single-AZ replica, not
    the standby's own database group, which defaults to multi-AZ. The offline lookup answers a single-AZ stand-in."""
    prod, standby = standby_on_prods_replica_bucket
    assert prod.outputs["sizing"]["dbInstances"] == (2 if json.loads(prod_config()["social-media-scraper:database"])
                                                     .get("multiAz", True) else 1)
    assert standby.outputs["sizing"]["dbInstances"] == 1
    assert standby.outputs["sizing"]["dbInstanceClass"] == "db.r6g.large"
    mounted = json.loads(resource(standby, "kubernetes:core/v1:ConfigMap", "ops-jobs-outputs").inputs["data"]["outputs.json"])
    assert mounted["sizing"]["dbInstances"] == 1
