"""Helpers to derive broken plans from the prod plan, which passes every policy."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from automation.engine import Plan, PlannedResource
from automation.policy_check import evaluate


class PlanEditor:
    """A deep copy of a plan with small, targeted edits: what a misconfiguration would produce."""

    def __init__(self, plan: Plan):
        self.plan = copy.deepcopy(plan)

    def find(self, name: str) -> PlannedResource:
        matches = [r for r in self.plan.resources if r.name == name]
        assert len(matches) == 1, f"{name}: {len(matches)} matches"
        return matches[0]

    def inputs(self, name: str) -> dict[str, Any]:
        return self.find(name).inputs

    def drop_input(self, name: str, key: str) -> None:
        """Remove an input and, as the engine would, its property dependencies."""
        resource = self.find(name)
        resource.inputs.pop(key)
        resource.property_dependencies.pop(key, None)

    def remove(self, name: str) -> None:
        target = self.find(name)
        self.plan.resources = [r for r in self.plan.resources if r is not target]

    def edit(self, name: str, change: Callable[[PlannedResource], None]) -> "PlanEditor":
        change(self.find(name))
        return self


def violated(plan: Plan, config: dict | None = None) -> dict[str, set[str]]:
    """{policy name: {resource name or "(stack)"}} of every violation."""
    names = {r.urn: r.name for r in plan.resources}
    result: dict[str, set[str]] = {}
    for violation in evaluate(plan, config):
        result.setdefault(violation.policy, set()).add(names.get(violation.urn, "(stack)"))
    return result


@pytest.fixture
def editor(prod_plan) -> PlanEditor:
    return PlanEditor(prod_plan)


def under_provider_without_default_tags(plan: PlanEditor, name: str) -> None:
    """Declare the resource through a copy of its AWS provider that has no default tags (as a provider added for
    another region and never given the cost tags would be)."""
    resource = plan.find(name)
    provider = copy.deepcopy(next(r for r in plan.plan.resources if r.urn == resource.provider))
    provider.inputs.pop("defaultTags")
    provider.urn, provider.name = f"{provider.urn}-untagged", f"{provider.name}-untagged"
    plan.plan.resources.insert(0, provider)
    resource.provider = provider.urn
