"""IAM rules: no wildcard actions, and no wildcard resource on an action that changes anything."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, as_list, only, policy_statements

MANDATORY = EnforcementLevel.MANDATORY
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
READ_VERBS = ("Describe", "List", "Get", "Head", "BatchGet", "Query", "Search", "Lookup")
# Actions that support no resource-level permissions: "*" is the only resource they take,
# so they are allowed on "*" when a condition narrows them.
UNSCOPED_ACTIONS = {"cloudwatch:PutMetricData"}


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    if args.resource_type == IAM_ROLE:
        for inline in args.props.get("inlinePolicies") or []:
            yield f"inline policy {inline.get('name')}", inline.get("policy")
    else:
        yield "policy", args.props.get("policy")


def _allow_statements(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for where, document in _documents(args):
        if document:
            for statement in policy_statements(document):
                if statement.get("Effect") == "Allow":
                    yield where, statement


def _is_read(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return verb.startswith(READ_VERBS)


def no_wildcard_actions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, statement in _allow_statements(args):
        if "NotAction" in statement:
            report_violation(f"{args.name} {where} allows NotAction, i.e. everything else; list the actions instead.")
        wild = [a for a in as_list(statement.get("Action")) if "*" in a]
        if wild:
            report_violation(f"{args.name} {where} allows wildcard actions {wild}; name each action it needs.")


def no_wildcard_resource_on_writes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, statement in _allow_statements(args):
        resources = as_list(statement.get("Resource"))
        if "*" not in resources and "NotResource" not in statement:
            continue
        writes = [
            a for a in as_list(statement.get("Action"))
            if not _is_read(a) and not (a in UNSCOPED_ACTIONS and statement.get("Condition"))
        ]
        if writes:
            report_violation(
                f"{args.name} {where} allows {writes} on every resource; scope Resource to the ARNs it changes."
            )


TYPES = [IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY]

POLICIES = [
    ResourceValidationPolicy(
        name="iam-no-wildcard-actions", description="IAM policies name their actions.",
        validate=only(TYPES, no_wildcard_actions), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="iam-no-wildcard-resource-writes",
        description="IAM policies allow changes only on named resources.",
        validate=only(TYPES, no_wildcard_resource_on_writes), enforcement_level=MANDATORY,
    ),
]
