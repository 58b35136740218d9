"""What the cross-field rules know about the whole plan besides the request in hand."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from automation.aws_model.findings import ApiRequest

_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12}|aws|):(?P<resource>.+)$")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: Any) -> Arn | None:
    """The parts of an ARN (IAM User Guide, "IAM identifiers": arn:partition:service:region:account-id:resource)."""
    match = _ARN.match(text) if isinstance(text, str) else None
    return Arn(**match.groupdict()) if match else None


def member(params: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted member path, or None when any part is absent."""
    value: Any = params
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


@dataclass
class PlanFacts:
    """Regions, keys, buckets and replica links of the plan, read once from all its requests."""

    regions: list[str]
    home_region: str | None
    key_regions: dict[str, str] = field(default_factory=dict)  # key id -> region of the planned key
    bucket_regions: dict[str, str] = field(default_factory=dict)  # bucket name -> region
    replica_sources: set[str] = field(default_factory=set)  # identifiers and ARNs that a planned replica reads from
    arns: dict[str, str] = field(default_factory=dict)  # urn -> the ARN the engine answered with
    requests: list[ApiRequest] = field(default_factory=list)

    @classmethod
    def of(cls, requests: Iterable[ApiRequest], outputs_by_urn: dict[str, dict[str, Any]]) -> "PlanFacts":
        requests = list(requests)
        counts = Counter(r.region for r in requests if r.region)
        facts = cls(regions=sorted(counts), home_region=counts.most_common(1)[0][0] if counts else None, requests=requests)
        for request in requests:
            outputs = outputs_by_urn.get(request.urn, {})
            if isinstance(outputs.get("arn"), str):
                facts.arns[request.urn] = outputs["arn"]
            if request.operation == "CreateKey" and outputs.get("keyId") and request.region:
                facts.key_regions[outputs["keyId"]] = request.region
            if request.operation == "CreateBucket" and isinstance(request.params.get("Bucket"), str) and request.region:
                facts.bucket_regions[request.params["Bucket"]] = request.region
            if request.operation == "CreateDBInstanceReadReplica":
                source = request.params.get("SourceDBInstanceIdentifier")
                if isinstance(source, str):
                    facts.replica_sources.add(source)
                    arn = parse_arn(source)
                    if arn and arn.resource.startswith("db:"):
                        facts.replica_sources.add(arn.resource[len("db:") :])
        return facts

    def other_regions(self, region: str | None) -> list[str]:
        return [r for r in self.regions if r != region]

    def key_region(self, key: Any) -> str | None:
        """The region of a KMS key given by ARN, or by the id of a key planned here; None when not knowable."""
        arn = parse_arn(key)
        if arn:
            return arn.region
        return self.key_regions.get(key) if isinstance(key, str) else None
