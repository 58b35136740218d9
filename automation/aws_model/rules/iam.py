"""IAM policy documents: identity, trust and resource policies, wherever a request carries one."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, Iterator

from automation.aws_model.facts import PlanFacts, member, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

GRAMMAR_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"
ELEMENTS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html"
PRINCIPAL_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"
QUOTAS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length"
KMS_POLICY_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html"
S3_POLICY_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html"

VERSION = "2012-10-17"
# IAM quotas (characters, whitespace not counted): all inline policies of a role together 10,240; a role trust
# policy 2,048 (default quota, adjustable). KMS key policy 32 KB; S3 bucket policy 20 KB.
ROLE_INLINE_POLICIES_MAX = 10_240
TRUST_POLICY_MAX = 2_048
KEY_POLICY_MAX_BYTES = 32_768
BUCKET_POLICY_MAX_BYTES = 20_480
PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
TRUST_ACTIONS = {
    "sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML", "sts:TagSession",
    "sts:SetSourceIdentity", "sts:SetContext",
}
_ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$")
_ACCOUNT_PRINCIPAL = re.compile(r"^(\*|\d{12}|arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+|federated-user/.+))$")
_FEDERATED_PRINCIPAL = re.compile(
    r"^(arn:aws[a-z-]*:iam::\d{12}:(oidc-provider|saml-provider)/.+|cognito-identity\.amazonaws\.com|www\.amazon\.com"
    r"|graph\.facebook\.com|accounts\.google\.com)$"
)

IDENTITY, TRUST, RESOURCE = "identity", "trust", "resource"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _non_space_length(text: str) -> int:
    return len(re.sub(r"\s", "", text))


def policy_problems(text: Any, kind: str) -> Iterator[tuple[str, str, str]]:
    """(rule, message, doc) for each way a policy document breaks the IAM JSON policy grammar."""
    try:
        document = json.loads(text)
    except ValueError as error:
        yield "iam-policy-json", f"is not valid JSON: {error}", GRAMMAR_DOC
        return
    if not isinstance(document, dict):
        yield "iam-policy-json", "must be a JSON object", GRAMMAR_DOC
        return
    if document.get("Version") != VERSION:
        yield "iam-policy-version", f"Version is {document.get('Version')!r}; use {VERSION}", ELEMENTS_DOC
    statements = document.get("Statement")
    if not statements:
        yield "iam-policy-statement", "has no Statement", GRAMMAR_DOC
        return
    for index, statement in enumerate(_as_list(statements)):
        for message, doc in _statement_problems(statement, kind):
            yield "iam-policy-statement", f"Statement[{index}]: {message}", doc


def _statement_problems(statement: Any, kind: str) -> Iterator[tuple[str, str]]:
    if not isinstance(statement, dict):
        yield "must be an object", GRAMMAR_DOC
        return
    if statement.get("Effect") not in ("Allow", "Deny"):
        yield f"Effect {statement.get('Effect')!r} is not Allow or Deny", GRAMMAR_DOC
    if ("Action" in statement) == ("NotAction" in statement):
        yield "needs exactly one of Action and NotAction", GRAMMAR_DOC
    for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
        if not isinstance(action, str) or not _ACTION.match(action):
            yield f"action {action!r} is not 'service:Action' or '*'", GRAMMAR_DOC
        elif kind == TRUST and action != "*" and action not in TRUST_ACTIONS:
            yield f"action {action} does not belong in a trust policy", PRINCIPAL_DOC
    has_resource = ("Resource" in statement) or ("NotResource" in statement)
    if "Resource" in statement and "NotResource" in statement:
        yield "cannot have both Resource and NotResource", GRAMMAR_DOC
    if kind == IDENTITY and not has_resource:
        yield "an identity policy statement needs Resource or NotResource", GRAMMAR_DOC
    for resource in _as_list(statement.get("Resource", statement.get("NotResource", []))):
        if not isinstance(resource, str) or (resource != "*" and parse_arn(resource) is None):
            yield f"resource {resource!r} is not '*' or a well-formed ARN", ELEMENTS_DOC
    has_principal = "Principal" in statement or "NotPrincipal" in statement
    if kind == IDENTITY and has_principal:
        yield "an identity policy cannot name a Principal", PRINCIPAL_DOC
    if kind in (TRUST, RESOURCE) and not has_principal:
        yield f"a {kind} policy statement needs a Principal", PRINCIPAL_DOC
    for principal in (statement.get("Principal"), statement.get("NotPrincipal")):
        if principal is not None:
            yield from ((message, PRINCIPAL_DOC) for message in _principal_problems(principal))


def _principal_problems(principal: Any) -> Iterator[str]:
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal:
        yield f"Principal {principal!r} is not '*' or an object of AWS/Service/Federated/CanonicalUser"
        return
    checks = {"AWS": _ACCOUNT_PRINCIPAL, "Service": _SERVICE_PRINCIPAL, "Federated": _FEDERATED_PRINCIPAL}
    for kind, values in principal.items():
        if kind not in PRINCIPAL_KINDS:
            yield f"Principal kind {kind!r} is not one of {', '.join(PRINCIPAL_KINDS)}"
            continue
        for value in _as_list(values):
            if not isinstance(value, str) or (kind in checks and not checks[kind].match(value)):
                yield f"Principal {kind} {value!r} is not a valid {kind} principal"


def _document_findings(request: ApiRequest, path: str, kind: str) -> Iterator[Finding]:
    text = member(request.params, path)
    if text is None:
        return
    for rule, message, doc in policy_problems(text, kind):
        yield request.finding(rule, path, message, doc)


def role_trust_policy(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """CreateRole: the trust policy's grammar, principals, and the 2,048-character default quota."""
    yield from _document_findings(request, "AssumeRolePolicyDocument", TRUST)
    text = request.params.get("AssumeRolePolicyDocument")
    if isinstance(text, str) and _non_space_length(text) > TRUST_POLICY_MAX:
        yield request.finding(
            "iam-policy-size", "AssumeRolePolicyDocument",
            f"{_non_space_length(text)} characters without whitespace; the trust policy quota is {TRUST_POLICY_MAX}", QUOTAS_DOC,
        )


def role_inline_policy(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """PutRolePolicy: identity-policy grammar; all inline policies of one role together within 10,240 characters."""
    yield from _document_findings(request, "PolicyDocument", IDENTITY)
    role = request.params.get("RoleName")
    if not isinstance(role, str):
        return
    totals: dict[str, int] = defaultdict(int)
    for other in facts.requests:
        text = other.params.get("PolicyDocument")
        if other.operation == "PutRolePolicy" and other.params.get("RoleName") == role and isinstance(text, str):
            totals[role] += _non_space_length(text)
    if totals[role] > ROLE_INLINE_POLICIES_MAX:
        yield request.finding(
            "iam-policy-size", "PolicyDocument",
            f"the inline policies of role {role} total {totals[role]} characters; the quota is {ROLE_INLINE_POLICIES_MAX}",
            QUOTAS_DOC,
        )


def resource_policy(path: str, max_bytes: int | None = None, size_doc: str = QUOTAS_DOC):
    """A rule checking the resource policy at `path` (key, bucket, queue, topic, secret policies)."""

    def check(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
        yield from _document_findings(request, path, RESOURCE)
        text = member(request.params, path)
        if max_bytes is not None and isinstance(text, str) and len(text.encode()) > max_bytes:
            yield request.finding("iam-policy-size", path, f"{len(text.encode())} bytes; the limit is {max_bytes}", size_doc)

    check.__doc__ = f"The resource policy at {path}: IAM policy grammar and principals."
    return check


RULES = {
    "CreateRole": (role_trust_policy,),
    "PutRolePolicy": (role_inline_policy,),
    "CreateKey": (resource_policy("Policy", KEY_POLICY_MAX_BYTES, KMS_POLICY_DOC),),
    "PutBucketPolicy": (resource_policy("Policy", BUCKET_POLICY_MAX_BYTES, S3_POLICY_DOC),),
    "CreateQueue": (resource_policy("Attributes.Policy"),),
    "CreateTopic": (resource_policy("Attributes.Policy"),),
    "PutResourcePolicy": (resource_policy("ResourcePolicy"),),
}
