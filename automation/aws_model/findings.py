"""What the AWS-model stage works on and what it reports: API requests and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["violation", "unmapped"]

SHAPE_DOC = "botocore service model {service} {api_version}, operation {operation} (the AWS API Reference of the service)"


@dataclass(frozen=True)
class Finding:
    """One problem of one planned resource: a request AWS would refuse, or an input the stage cannot translate."""

    kind: Kind
    rule: str
    urn: str
    resource: str
    operation: str
    member: str
    message: str
    doc: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "urn": self.urn,
            "resource": self.resource,
            "operation": self.operation,
            "member": self.member,
            "message": self.message,
            "doc": self.doc,
        }


@dataclass
class ApiRequest:
    """One API call the provider would make for a planned resource.

    `unknown` holds the member paths whose value the engine did not know yet
    (preview): they count as present for required-member checks and are never
    validated.
    """

    urn: str
    resource: str
    type: str
    region: str | None
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def finding(self, rule: str, member: str, message: str, doc: str, kind: Kind = "violation") -> Finding:
        return Finding(kind, rule, self.urn, self.resource, self.operation, member, message, doc)
