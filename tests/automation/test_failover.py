"""`dr failover` against moto, the standby stack behind a recording Pulumi CLI, and the fake app (the site:
tests/support/dr_site.py); where moto falls short, the promotion as RDS performs it, through botocore's Stubber."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from automation import dr_record
from automation.checklist import MANUAL, Context, dr_drill
from automation.failover import Failover
from automation.outputs import parse_outputs
from automation.stack_files import read_stack_file
from tests.support.cli import run_cli
from tests.support.dr_site import UPDATE_SECONDS, cli_files, outcomes, put_lag
from tests.support.moto_stack import DR_REGION, REGION, client
from tests.support.programs import REPO_ROOT

RPO_SECONDS = 900


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


def test_a_second_failover_started_while_one_runs_is_refused_by_the_lock(site):
    """The runbook renews no lease: it holds the lock for twice the RTO, so a second run started past the default
    5-minute lease is still refused (a lock taken with a shifted clock used to lapse for any later run)."""
    from automation.maintenance import Aborted

    site.stop_primary()
    put_lag(site.prod.dbReplicaId, 42.0)
    attempts = []

    def second_run_during_the_update(count):
        if attempts:  # the second run's own update, had it got that far
            return
        attempts.append("second run")
        site.clock.advance(600)
        with pytest.raises(Aborted, match="operations lock dr/prod is held by"):
            site.failover(reason="a second operator")

    site.pulumi.on_up = second_run_during_the_update
    record = site.failover()
    assert attempts == ["second run"] and record.outcome == "completed", record.steps
    assert site.lock_free()


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


def test_promoting_an_instance_that_is_no_longer_a_replica_is_refused_by_rds(site):
    """The double (tests/support/dr_site.py, promote_as_rds) refuses what RDS refuses: the resume logic must never
    depend on a second promotion."""
    rds = client("rds", DR_REGION)
    rds.promote_read_replica(DBInstanceIdentifier=site.prod.dbReplicaId)
    with pytest.raises(rds.exceptions.InvalidDBInstanceStateFault):
        rds.promote_read_replica(DBInstanceIdentifier=site.prod.dbReplicaId)


def test_the_cli_wants_a_reason(capsys, deployed, tmp_path):
    code, _, err = run_cli(capsys, "dr", "failover", "--stack", "prod", "--outputs", str(deployed["file"]))
    assert code == 2 and "--reason TEXT is required: a failover must say why" in err
    assert not list(tmp_path.glob("failover-*"))


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
