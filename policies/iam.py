"""IAM rules: no wildcard actions, and no wildcard resource on an action that changes anything."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import (
    IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY, field, mapping, mappings, only, policy_statements, text, texts,
)

MANDATORY = EnforcementLevel.MANDATORY
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
READ_VERBS = ("Describe", "List", "Get", "Head", "BatchGet", "Query", "Search", "Lookup")
# Actions that support no resource-level permissions: "*" is the only resource they take,
# so they are allowed on "*" when a condition narrows them.
UNSCOPED_ACTIONS = {"cloudwatch:PutMetricData"}


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    if args.resource_type == IAM_ROLE:
        for inline in mappings(field(args.props, "inlinePolicies")):
            yield f"inline policy {field(inline, 'name')}", field(inline, "policy")
    else:
        yield "policy", field(args.props, "policy")


def _allow_statements(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Allow statements of every document; a document unknown at preview is checked at update."""
    for where, document in _documents(args):
        if document:
            for statement in policy_statements(document):
                if text(field(statement, "Effect")) == "Allow":
                    yield where, statement


def _is_read(action: str) -> bool:
    verb = action.split(":", 1)[-1]
    return verb.startswith(READ_VERBS)


def no_wildcard_actions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, statement in _allow_statements(args):
        if field(statement, "NotAction") is not None:
            report_violation(f"{args.name} {where} allows NotAction, i.e. everything else; list the actions instead.")
        wild = [a for a in texts(field(statement, "Action")) if "*" in a]
        if wild:
            report_violation(f"{args.name} {where} allows wildcard actions {wild}; name each action it needs.")


def no_wildcard_resource_on_writes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, statement in _allow_statements(args):
        resources = texts(field(statement, "Resource"))
        if "*" not in resources and field(statement, "NotResource") is None:
            continue
        writes = [
            a for a in texts(field(statement, "Action"))
            if not _is_read(a) and not (a in UNSCOPED_ACTIONS and field(statement, "Condition"))
        ]
        if writes:
            report_violation(
                f"{args.name} {where} allows {writes} on every resource; scope Resource to the ARNs it changes."
            )


def web_identity_trusts_one_service_account(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A role assumed through the cluster's OIDC provider (IRSA) is one workload's: its trust names exactly one
    service account in `sub` and the STS audience in `aud`, with StringEquals (EKS User Guide, "Assign IAM roles
    to Kubernetes service accounts"). Without `sub`, or with a wildcard, every pod of the cluster could assume it,
    and one job's least privilege would be every job's."""
    for statement in policy_statements(field(args.props, "assumeRolePolicy")):
        actions = texts(field(statement, "Action"))
        if text(field(statement, "Effect")) != "Allow" or "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        condition = mapping(field(statement, "Condition", "StringEquals"))
        equals = {key.rsplit(":", 1)[-1]: value for key, value in condition.items()}
        subjects = texts(equals.get("sub"))
        audiences = texts(equals.get("aud"))
        if len(subjects) != 1 or not subjects[0].startswith("system:serviceaccount:") or "*" in subjects[0]:
            report_violation(f"{args.name} can be assumed by {subjects or 'any service account'} of the cluster; "
                             "trust exactly one: StringEquals <issuer>:sub = system:serviceaccount:NAMESPACE:NAME.")
        if audiences != ["sts.amazonaws.com"]:
            report_violation(f"{args.name} trusts web identity tokens for {audiences or 'any audience'}; "
                             "require StringEquals <issuer>:aud = sts.amazonaws.com.")


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
    ResourceValidationPolicy(
        name="iam-web-identity-one-service-account",
        description="Roles assumed through the cluster's OIDC provider trust exactly one service account.",
        validate=only([IAM_ROLE], web_identity_trusts_one_service_account), enforcement_level=MANDATORY,
    ),
]
