"""Run the AWS-model stage over a plan: translate, validate shapes, apply the cross-field rules."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from automation.aws_model.facts import PlanFacts
from automation.aws_model.findings import ApiRequest, Finding
from automation.aws_model.mappings import MAPPINGS
from automation.aws_model.rules import RULES
from automation.aws_model.shapes import validate_request
from automation.aws_model.translation import UNMAPPED_DOC, translate
from automation.engine import Plan, PlannedResource


@dataclass
class AwsModelReport:
    resources_checked: int
    requests: list[ApiRequest]
    findings: list[Finding]
    seconds: float

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "violation"]

    @property
    def unmapped(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "unmapped"]

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "resourcesChecked": self.resources_checked,
            "requestsValidated": len(self.requests),
            "violations": [f.to_json() for f in self.violations],
            "unmapped": [f.to_json() for f in self.unmapped],
            "seconds": round(self.seconds, 3),
        }


def is_aws_resource(resource: PlannedResource) -> bool:
    return resource.custom and resource.type.startswith("aws:")


def check_plan(plan: Plan) -> AwsModelReport:
    """Every finding of the stage over the plan's AWS resources, in plan order."""
    started = time.perf_counter()
    resources = [r for r in plan.resources if is_aws_resource(r)]
    requests: list[ApiRequest] = []
    findings: list[Finding] = []
    for resource in resources:
        mapping = MAPPINGS.get(resource.type)
        if mapping is None:
            findings.append(
                Finding("unmapped", "aws-unmapped-type", resource.urn, resource.name, "", "",
                        f"resource type {resource.type} has no API mapping; its requests are not checked", UNMAPPED_DOC)
            )
            continue
        translation = translate(resource, mapping)
        requests.extend(translation.requests)
        findings.extend(translation.unmapped)
    facts = PlanFacts.of(requests, {r.urn: r.outputs for r in resources})
    for request in requests:
        findings.extend(validate_request(request))
        for rule in RULES.get(request.operation, ()):
            findings.extend(rule(request, facts))
    return AwsModelReport(len(resources), requests, findings, time.perf_counter() - started)
