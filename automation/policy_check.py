"""The offline policy evaluator: the pack's own policy objects, called the way the engine calls them.

CI has no Pulumi CLI, so `scraper-ops plan` and `scraper-ops policy check` run
every policy of `policies.pack.POLICIES` over a plan: resource policies get each
resource's inputs (camelCase, as `pulumi preview` passes them) with its options
and provider; stack policies get every resource with parents, dependencies and
property dependencies resolved. Config follows `--policy-pack-config`: per-policy
objects (or `"all"`) with `enforcementLevel` and the properties of each policy's
schema, whose defaults apply when nothing is given.

Properties reach the policies as pulumi-policy's analyzer hands them over: behind
`unknown_checking_proxy`, so a value unknown at preview (a plan made with
`run_program(..., preview=True)` carries the engine's unknown sentinel) raises
UnknownValueError when a policy reads it. As in the analyzer, that is not a
verdict: it becomes an advisory "can't run during preview" entry, and the engine
runs the policy again with the real values on `pulumi up`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from automation.engine import Plan, PlannedResource
from automation.errors import BadInput
from automation.jsonfile import read_json
from policies.pack import POLICIES
from policies.thresholds import defaults

PACK_LEVEL = EnforcementLevel.MANDATORY


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "mandatory" or "advisory"
    urn: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message}


def load_plan(path: Path) -> Plan:
    """Read a `scraper-ops plan --json` file; anything unreadable or malformed is BadInput naming what is wrong."""
    document = read_json(path, "plan file")
    try:
        return Plan.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        raise BadInput(f"plan file {path} is malformed: {where}: {first['msg']}{more}") from None


def load_policy_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    config = read_json(path, "policy config")
    if not isinstance(config, dict):
        raise BadInput(f"policy config {path} must be a JSON object keyed by policy name")
    return config


class _ResourceArgs(ResourceValidationArgs):
    """ResourceValidationArgs whose `props` proxy is built when the policy first reads it.

    As in the analyzer, each policy gets its own args and its own proxy of the resource's inputs. Most resource
    policies look at the resource type and return, and proxying a whole input tree for each of them was over half
    of an evaluation's time (benchmarks/policy_time.py)."""

    @property  # type: ignore[override]
    def props(self) -> Mapping[str, Any]:
        if self._proxy is None:
            self._proxy = unknown_checking_proxy(self._inputs)
        return self._proxy

    @props.setter
    def props(self, inputs: Mapping[str, Any]) -> None:
        self._inputs, self._proxy = inputs, None


@dataclass(frozen=True)
class _Settings:
    level: EnforcementLevel
    config: dict[str, Any]


def _settings(policies: list[Policy], user_config: Mapping[str, Any]) -> dict[str, _Settings]:
    """Each policy's enforcement level and config, validated like the engine validates --policy-pack-config."""
    names = {p.name for p in policies}
    unknown = sorted(set(user_config) - names - {"all"})
    if unknown:
        raise BadInput(f"policy config names unknown policies: {', '.join(unknown)}")

    def level_of(entry: Any) -> str | None:
        return entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")

    settings = {}
    for policy in policies:
        level = policy.enforcement_level or PACK_LEVEL
        for key in ("all", policy.name):
            chosen = level_of(user_config.get(key))
            if chosen is not None:
                try:
                    level = EnforcementLevel(chosen)
                except ValueError:
                    raise BadInput(f"policy config {key}: unknown enforcementLevel '{chosen}'") from None
        entry = user_config.get(policy.name)
        given = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}
        if given and policy.config_schema is None:
            raise BadInput(f"policy config {policy.name}: this policy takes no properties ({', '.join(given)})")
        if given:  # the schema's defaults need no check; jsonschema is imported only for a config to check
            import jsonschema

            schema = {"type": "object", "properties": policy.config_schema.properties, "additionalProperties": False}
            try:
                jsonschema.validate(given, schema)
            except jsonschema.ValidationError as error:
                where = ".".join(str(p) for p in error.path)
                raise BadInput(f"policy config {policy.name}{'.' + where if where else ''}: {error.message}") from None
        settings[policy.name] = _Settings(level, {**defaults(policy.config_schema), **given})
    return settings


def _providers(plan: Plan) -> dict[str, PolicyProviderResource]:
    return {
        r.urn: PolicyProviderResource(r.type, unknown_checking_proxy(r.inputs), r.urn, r.name)
        for r in plan.resources
        if r.type.startswith("pulumi:providers:")
    }


def _provider_of(resource: PlannedResource, providers: Mapping[str, PolicyProviderResource]):
    if resource.provider and resource.provider in providers:
        return providers[resource.provider]
    if resource.region is not None:  # default provider: only its region is known
        package = resource.type.split(":", 1)[0]
        return PolicyProviderResource(f"pulumi:providers:{package}", {"region": resource.region}, "", "default")
    return None


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _stored(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as a provider stores them: write-only fields (`...Wo`) are sent, never stored."""
    return {key: value for key, value in inputs.items() if not key.endswith("Wo")}


def _stack_resources(plan: Plan, providers: Mapping[str, PolicyProviderResource]) -> list[PolicyResource]:
    """Resources as AnalyzeStack sees them, with parents and dependencies resolved.

    The engine hands stack policies each resource's outputs. Outputs carry the inputs the provider stores, so
    the planned inputs stand for them here (in a preview they are what the engine has), less the write-only
    inputs, which never appear in outputs (Pulumi docs, "Write-only fields")."""
    resources = {
        r.urn: PolicyResource(
            r.type, unknown_checking_proxy(_stored(r.inputs)), r.urn, r.name, _options(r), _provider_of(r, providers),
            None, [], {},
        )
        for r in plan.resources
        if r.custom
    }
    for r in plan.resources:
        if r.urn not in resources:
            continue
        resource = resources[r.urn]
        resource.parent = resources.get(r.parent or "")
        resource.dependencies = [resources[d] for d in r.dependencies if d in resources]
        resource.property_dependencies = {
            key: [resources[d] for d in urns if d in resources] for key, urns in r.property_dependencies.items()
        }
    return list(resources.values())


def evaluate(plan: Plan, user_config: Mapping[str, Any] | None = None, policies: list[Policy] | None = None) -> list[Violation]:
    """Every violation of the pack over the plan, in policy order."""
    policies = POLICIES if policies is None else policies
    settings = _settings(policies, user_config or {})
    providers = _providers(plan)
    targets = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    violations: list[Violation] = []

    def reporter(policy: str, level: str, resource_urn: str | None = None):
        """Resource policies report against their resource whatever urn they pass, as in the engine."""

        def report(message: str, urn: str | None = None) -> None:
            violations.append(Violation(policy, level, resource_urn or urn, message))

        return report

    def validate(policy: Policy, args: Any, report: Any, urn: str | None = None) -> None:
        try:
            policy.validate(args, report)
        except UnknownValueError as unknown:
            violations.append(Violation(
                policy.name, "advisory", urn,
                f"can't run during preview: {unknown.message}; the update checks the real value",
            ))

    stack_resources = None
    for policy in policies:
        setting = settings[policy.name]
        if setting.level == EnforcementLevel.DISABLED:
            continue
        level = "advisory" if setting.level == EnforcementLevel.ADVISORY else "mandatory"
        if isinstance(policy, ResourceValidationPolicy):
            for resource in targets:
                args = _ResourceArgs(
                    resource.type, resource.inputs, resource.urn, resource.name,
                    _options(resource), _provider_of(resource, providers), setting.config,
                )
                validate(policy, args, reporter(policy.name, level, resource.urn), resource.urn)
        elif isinstance(policy, StackValidationPolicy):
            if stack_resources is None:
                stack_resources = _stack_resources(plan, providers)
            validate(policy, StackValidationArgs(stack_resources, setting.config), reporter(policy.name, level))
    return violations
