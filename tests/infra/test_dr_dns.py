"""The DR pieces the stacks declare: the public name's Route 53 failover pair, the identifiers a failback is
adopted under, and the config values that could not deploy."""

from __future__ import annotations

import shlex

import pytest

from automation import aws_model
from automation.engine import run_program
from automation.failback import FAILBACK_SUFFIX, adoption_commands
from automation.outputs import parse_outputs
from automation.stack_files import read_stack_file
from infra.config import ConfigError, parse_stack_config
from tests.support.programs import REPO_ROOT, prod_config, resource, resources_of, with_changes
from tests.policies.conftest import violated

RECORD, HEALTH_CHECK = "aws:route53/record:Record", "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_prod_and_its_standby_declare_the_failover_pair_of_one_name(prod_plan, standby_plan):
    primary = resource(prod_plan, RECORD, "dns-record").inputs
    secondary = resource(standby_plan, RECORD, "dns-record").inputs
    assert (primary["zoneId"], primary["name"]) == (secondary["zoneId"], secondary["name"])
    assert [primary["failoverRoutingPolicies"], secondary["failoverRoutingPolicies"]] == [
        [{"type": "PRIMARY"}], [{"type": "SECONDARY"}]]
    assert primary["setIdentifier"] != secondary["setIdentifier"]
    # Each aliases its own stack's ALB and inherits its target health: a standby at zero replicas is never answered.
    for plan, record in ((prod_plan, primary), (standby_plan, secondary)):
        [alias] = record["aliases"]
        assert alias["evaluateTargetHealth"] is True
        assert alias["name"] == plan.outputs["dns"]["loadBalancerDnsName"]
        assert plan.config.region in alias["name"]
    assert "healthCheckId" not in secondary and resources_of(standby_plan, HEALTH_CHECK) == []


def test_the_primary_record_is_unhealthy_when_its_region_stops_reporting(prod_plan):
    """The ALB is internal, out of reach of Route 53's checkers: the health check follows the smoke-test alarm in
    prod's region, and no data from that region (the region is down) counts as unhealthy."""
    check = resource(prod_plan, HEALTH_CHECK, "dns-health-check")
    smoke = resource(prod_plan, ALARM, "monitoring-smoke-tests-failing").inputs
    assert check.inputs["type"] == "CLOUDWATCH_METRIC"
    assert (check.inputs["cloudwatchAlarmName"], check.inputs["cloudwatchAlarmRegion"]) == (smoke["name"], "us-east-1")
    assert smoke["treatMissingData"] == "breaching"
    assert check.inputs["insufficientDataHealthStatus"] == "Unhealthy"
    record = resource(prod_plan, RECORD, "dns-record")
    assert record.property_dependencies["healthCheckId"] == [check.urn]
    assert record.inputs["healthCheckId"] == prod_plan.outputs["dns"]["healthCheckId"]


def test_the_dns_output_is_what_the_runbook_reads_and_the_aws_model_accepts_the_records(prod_plan, standby_plan):
    for plan in (prod_plan, standby_plan):
        outputs = parse_outputs(plan.outputs, plan.stack)
        assert outputs.dns.recordName == plan.config.dns.record_name
        report = aws_model.check_plan(plan)
        assert report.violations == [] and report.unmapped == []


@pytest.mark.slow  # plans staging without its dns group (a run of its own)
def test_a_stack_without_a_dns_group_declares_no_record():
    plan = run_program("staging", with_changes(read_stack_file("staging", REPO_ROOT), dns=None))
    assert resources_of(plan, RECORD) == resources_of(plan, HEALTH_CHECK) == [] and plan.outputs["dns"] is None


def test_staging_has_a_standby_for_the_monthly_drill_held_to_the_same_rules():
    staging = run_program("staging", read_stack_file("staging", REPO_ROOT))
    drill = run_program("staging-dr", read_stack_file("staging-dr", REPO_ROOT))
    assert drill.outputs["site"] == {"role": "standby", "serving": False, "primaryStack": "staging"}
    assert drill.outputs["dbInstanceId"] == staging.outputs["dbReplicaId"]
    assert (drill.outputs["region"], drill.outputs["drRegion"]) == (staging.outputs["drRegion"], staging.outputs["region"])
    assert drill.outputs["drSubnetGroupName"] == staging.config.database.subnet_group_name
    assert drill.outputs["drSecurityGroupIds"] == list(staging.config.database.security_group_ids)
    assert [staging.outputs["dns"]["failover"], drill.outputs["dns"]["failover"]] == ["PRIMARY", "SECONDARY"]
    assert staging.outputs["dns"]["recordName"] == drill.outputs["dns"]["recordName"]
    assert violated(drill) == {}
    report = aws_model.check_plan(drill)
    assert report.violations == [] and report.unmapped == []


def problems(**changes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(with_changes(prod_config(), **changes))
    return caught.value.problems


@pytest.mark.parametrize("change, expected", [
    ({"dns": {"hostedZoneId": "/hostedzone/Z0123456789"}},
     'social-media-scraper:dns.hostedZoneId = "/hostedzone/Z0123456789": must be a Route 53 hosted zone id'),
    ({"dns": {"recordName": "Scraper.example.com."}},
     'social-media-scraper:dns.recordName = "Scraper.example.com.": must be a lower-case DNS name'),
    ({"dns": {"recordName": "localhost"}}, 'social-media-scraper:dns.recordName = "localhost": must be'),
    ({"database": {"engineVersion": "13"}},
     'social-media-scraper:database.engineVersion = "13": must be PostgreSQL 14 or later: the DR read replica'),
    ({"database": {"instanceSuffix": "failback"}},
     'social-media-scraper:database.instanceSuffix = "failback": String should match pattern'),
    ({"dr": {"replicaSuffix": "-dr--2"}}, 'social-media-scraper:dr.replicaSuffix = "-dr--2": String should match'),
])
def test_dr_values_that_cannot_deploy_are_refused_naming_the_key(change, expected):
    [problem] = problems(**change)
    assert problem.startswith(expected)


@pytest.mark.slow  # plans prod adopting the failback instance (a run of its own)
def test_the_printed_adoption_makes_prod_declare_the_instance_the_failback_waits_for(prod_plan, standby_plan):
    """The procedure `dr failback --switch` prints sets identifier suffixes; with them, the prod stack declares the
    promoted failback instance as its database and a new replica of it, which the standby then names."""
    before = parse_outputs(prod_plan.outputs, "prod")
    failback_id = f"{before.dbInstanceId}{FAILBACK_SUFFIX}"
    standby = parse_outputs(standby_plan.outputs, "prod-dr")
    commands = [shlex.split(c) for c in adoption_commands(before, standby, failback_id)]
    settings = {c[c.index("--path") + 1]: c[-1] for c in commands if c[:3] == ["pulumi", "config", "set"]}
    prod_settings = {k.split(":", 1)[1]: v for k, v in settings.items() if "site." not in k}
    groups: dict[str, dict[str, str]] = {}
    for path, value in prod_settings.items():
        group, key = path.split(".")
        groups.setdefault(group, {})[key] = value
    after = run_program("prod", with_changes(prod_config(), **groups)).outputs
    assert after["dbInstanceId"] == failback_id
    assert settings["social-media-scraper:site.databaseInstanceId"] == after["dbReplicaId"] != before.dbReplicaId
    imported = next(c for c in commands if c[:2] == ["pulumi", "import"])
    type_at = imported.index("aws:rds/instance:Instance")
    assert imported[type_at + 1:type_at + 3] == ["database-primary", failback_id]
    # Every URN the procedure names is one prod's plan has: the instances it forgets, their parent and provider.
    forgotten = {c[-1] for c in commands if c[:3] == ["pulumi", "state", "delete"]}
    assert forgotten == {r.urn for r in resources_of(prod_plan, "aws:rds/instance:Instance")}
    named = {imported[imported.index(flag) + 1].split("=", 1)[1] for flag in ("--parent", "--provider")}
    assert named <= {engine_urn(ref) for r in prod_plan.resources for ref in (r.parent, r.provider) if ref}


def engine_urn(reference: str) -> str:
    """A parent or provider reference of the mock engine as the Pulumi engine spells the URN: no provider id after
    it, and no root stack type before a top-level resource's type (Pulumi docs, "Resource names", URNs)."""
    stack, project, qualified_type, name = reference.split("::")[:4]
    return "::".join((stack, project, qualified_type.removeprefix("pulumi:pulumi:Stack$"), name))
