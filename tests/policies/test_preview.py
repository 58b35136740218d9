"""The pack during `pulumi preview`: unknown values where the engine has them, and rules that are total.

pulumi-policy hands a policy the resource properties behind `unknown_checking_proxy`, with unknowns as the
engine's sentinel; reading one raises UnknownValueError, which the analyzer reports as "can't run policy during
preview" (advisory) and the engine runs the policy again with real values on `pulumi up`. The offline
evaluator does the same; these tests hold the rules to it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from automation.engine import Plan, PlannedResource, run_program
from automation.policy_check import evaluate
from policies import common
from policies.pack import POLICIES
from policies.thresholds import defaults
from tests.support.programs import prod_config
from tests.support.properties import HealthCheck, given, settings, st
from tests.policies.conftest import PlanEditor, violated

CANT_RUN = "can't run during preview"
IAM_DOCUMENT_POLICIES = {"iam-no-wildcard-actions", "iam-no-wildcard-resource-writes"}


@pytest.fixture(scope="module")
def preview_plan() -> Plan:
    return run_program("prod", prod_config(), preview=True)


def unknown_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in unknown_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in unknown_paths(item, f"{path}[{index}]")]
    return [path] if value == UNKNOWN_STRING_VALUE else []


def by_name(plan: Plan) -> dict[str, Any]:
    return {r.name: r for r in plan.resources}


def test_the_sdk_and_the_policy_sdk_agree_on_the_unknown_sentinel():
    assert rpc.UNKNOWN == UNKNOWN_STRING_VALUE


def test_a_preview_leaves_unknown_what_the_engine_does_not_know_yet(preview_plan, prod_plan):
    resources = by_name(preview_plan)
    # Provider-computed outputs (ARNs, key ids) and the inputs made from them are unknown...
    assert unknown_paths(resources["database-replica"].inputs) == [
        ".kmsKeyId", ".performanceInsightsKmsKeyId", ".replicateSourceDb",
    ]
    assert ".alarmActions[0]" in unknown_paths(resources["monitoring-app-cpu-high"].inputs)
    assert unknown_paths(resources["messaging-alerts"].inputs) == [".kmsMasterKeyId"]
    # ...what config and auto-naming decide is known, and an update knows everything.
    threshold = resources["monitoring-app-cpu-high"].inputs["threshold"]
    assert threshold == by_name(prod_plan)["monitoring-app-cpu-high"].inputs["threshold"]
    assert all(unknown_paths(r.inputs) == [] for r in prod_plan.resources)
    assert len(preview_plan.resources) == len(prod_plan.resources)


def test_the_whole_pack_runs_over_the_prod_preview_without_a_violation(preview_plan):
    """Only the IAM document rules wait for the update: those documents are JSON built from ARNs."""
    results = evaluate(preview_plan)
    assert all(v.level == "advisory" and CANT_RUN in v.message for v in results), results
    documents_unknown = {
        r.urn for r in preview_plan.resources if r.type.startswith("aws:iam/") and r.inputs.get("policy") == rpc.UNKNOWN
    }
    assert documents_unknown
    expected = {(policy, urn) for policy in IAM_DOCUMENT_POLICIES for urn in documents_unknown}
    assert {(v.policy, v.urn) for v in results} == expected


def test_a_preview_still_catches_what_is_known_to_be_wrong(preview_plan):
    editor = PlanEditor(preview_plan)
    editor.inputs("database-primary")["publiclyAccessible"] = True
    editor.inputs("monitoring-app-cpu-high")["threshold"] = 90
    editor.drop_input("messaging-alerts", "kmsMasterKeyId")
    assert violated(editor.plan) == {
        "rds-not-public": {"database-primary"},
        "alarms-cover-guide": {"(stack)"},
        "sns-topics-encrypted": {"messaging-alerts"},
        "iam-no-wildcard-actions": violated(preview_plan)["iam-no-wildcard-actions"],
        "iam-no-wildcard-resource-writes": violated(preview_plan)["iam-no-wildcard-resource-writes"],
    }


def test_an_unknown_value_a_rule_must_compare_is_reported_as_undecided_not_passed(preview_plan):
    editor = PlanEditor(preview_plan)
    editor.inputs("monitoring-app-cpu-high")["threshold"] = rpc.UNKNOWN
    results = [v for v in evaluate(editor.plan) if v.policy == "alarms-cover-guide"]
    assert [(v.level, v.urn) for v in results] == [("advisory", None)]
    assert "threshold can't be known during preview" in results[0].message


def test_an_unknown_key_counts_as_set_for_a_rule_that_only_needs_it_present(preview_plan):
    assert by_name(preview_plan)["messaging-alerts"].inputs["kmsMasterKeyId"] == rpc.UNKNOWN
    assert "sns-topics-encrypted" not in violated(preview_plan)


def cronjob(plan: PlanEditor) -> str:
    return next(r.name for r in plan.plan.resources if r.type == "kubernetes:batch/v1:CronJob")


def test_an_unset_history_limit_is_judged_at_its_kubernetes_default_not_a_key_error(editor):
    """The reproduced KeyError: successfulJobsHistoryLimit unset (Kubernetes default 3) over a limit of 2."""
    name = cronjob(editor)
    editor.inputs(name)["spec"].pop("successfulJobsHistoryLimit")
    config = {"cronjob-bounded-retries-and-history": {"maxJobHistory": 2}}
    messages = [v.message for v in evaluate(editor.plan, config) if v.urn == editor.find(name).urn]
    assert f"CronJob {name} keeps 3 jobs; set successfulJobsHistoryLimit <= 2." in messages


# ---------------------------------------------------------------------------------------------
# Every rule, over resources with fields removed, set to None, unknown or of the wrong type. evaluate() lets
# every exception through but UnknownValueError (the analyzer's own "can't run during preview").

REMOVE = object()
REPLACEMENTS = [REMOVE, None, rpc.UNKNOWN, 7, 2.5, True, "text", [], [None], {}]
RESOURCE_POLICIES = [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)]
STACK_POLICIES = [p for p in POLICIES if isinstance(p, StackValidationPolicy)]
# The resource types the stack policies read.
STACK_READ_TYPES = {
    common.RDS_INSTANCE, common.RDS_BACKUP_REPLICATION, common.S3_BUCKET, common.S3_VERSIONING, common.S3_ENCRYPTION,
    common.S3_PUBLIC_ACCESS_BLOCK, common.S3_REPLICATION, common.SQS_QUEUE, common.METRIC_ALARM, common.BACKUP_PLAN,
    common.K8S_DEPLOYMENT, common.K8S_HPA, common.K8S_PDB, common.K8S_CRONJOB,
}


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        found.append((*prefix, key))
        found.extend(paths(item, (*prefix, key)))
    return found


def mutated(resource: PlannedResource, path: tuple, replacement: Any) -> PlannedResource:
    changed = resource.model_copy(update={"inputs": copy.deepcopy(resource.inputs)})  # only the inputs change
    parent = changed.inputs
    for key in path[:-1]:
        parent = parent[key]
    if replacement is REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(replacement)
    return changed


def one_of_each_type(plan: Plan, types=None) -> list[PlannedResource]:
    chosen = {}
    for r in plan.resources:
        if r.custom and not r.type.startswith("pulumi:providers:") and (types is None or r.type in types):
            chosen.setdefault(r.type, r)
    return list(chosen.values())


def validate_resource(resource: PlannedResource) -> None:
    """Each resource policy over the resource, as the analyzer calls it (evaluate() would re-validate the
    config schemas on every call, too slow for thousands of cases). The analyzer wraps the properties in a new
    unknown-checking proxy for each policy; here the policies share one, since the pack's rules only read through
    the readers of policies/common.py: building the proxy was four fifths of this test's time."""
    options = PolicyResourceOptions(resource.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    provider = PolicyProviderResource("pulumi:providers:aws", {"region": resource.region}, "", "default")
    properties = unknown_checking_proxy(resource.inputs)
    for policy in RESOURCE_POLICIES:
        args = ResourceValidationArgs(
            resource.type, properties, resource.urn, resource.name, options, provider,
            defaults(policy.config_schema),
        )
        try:
            policy.validate(args, lambda message, urn=None: None)
        except UnknownValueError:
            pass


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["update", "preview"])
def test_no_exception_escapes_a_resource_rule_for_any_field_of_any_resource_type(prod_plan, preview_plan, mode):
    """Exhaustive: every field path of one resource of each type, each replaced by each bad value."""
    plan = prod_plan if mode == "update" else preview_plan
    checked = 0
    for resource in one_of_each_type(plan):
        for path in paths(resource.inputs):
            for replacement in REPLACEMENTS:
                validate_resource(mutated(resource, path, replacement))
                checked += 1
    assert checked > 1000


@st.composite
def stack_mutations(draw, plan: Plan) -> Plan:
    resources = {r.urn: r for r in plan.resources}
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(one_of_each_type(plan, STACK_READ_TYPES)))
        target = resources[target.urn]
        candidates = paths(target.inputs)
        if candidates:
            path, replacement = draw(st.sampled_from(candidates)), draw(st.sampled_from(REPLACEMENTS))
            resources[target.urn] = mutated(target, path, replacement)
    return plan.model_copy(update={"resources": list(resources.values())})


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_exception_escapes_a_stack_rule_whatever_fields_hold(prod_plan, preview_plan, data):
    evaluate(data.draw(stack_mutations(prod_plan)), policies=STACK_POLICIES)
    evaluate(data.draw(stack_mutations(preview_plan)), policies=STACK_POLICIES)
