"""Cross-field rules: what AWS documents and refuses but its service models do not carry.

Each rule is a plain function `(request, facts) -> findings`, registered per API
operation; each cites the AWS document it comes from.
"""

from __future__ import annotations

from typing import Callable, Iterable

from automation.aws_model.facts import PlanFacts
from automation.aws_model.findings import ApiRequest, Finding
from automation.aws_model.rules import backup, cloudwatch, iam, messaging, rds, s3, secrets

Rule = Callable[[ApiRequest, PlanFacts], Iterable[Finding]]


def _merge(*tables: dict[str, tuple[Rule, ...]]) -> dict[str, tuple[Rule, ...]]:
    merged: dict[str, tuple[Rule, ...]] = {}
    for table in tables:
        for operation, rules in table.items():
            merged[operation] = merged.get(operation, ()) + rules
    return merged


RULES = _merge(cloudwatch.RULES, rds.RULES, backup.RULES, iam.RULES, s3.RULES, messaging.RULES, secrets.RULES)
