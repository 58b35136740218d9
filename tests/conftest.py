"""Shared fixtures: the prod stack's config and offline plans of it (the real program under the recording engine)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from automation.engine import Plan, PlannedResource, read_stack_file, run_program

REPO_ROOT = Path(__file__).resolve().parent.parent


def prod_config() -> dict[str, str]:
    return read_stack_file("prod", REPO_ROOT)


def with_changes(raw: dict[str, str], **changes: Any) -> dict[str, str]:
    """A copy of raw stack config with keys of the project namespace replaced or merged.

    `app={"image": "x:1"}` merges into the existing object; `None` removes the key.
    """
    result = dict(raw)
    for name, change in changes.items():
        key = name if ":" in name else f"social-media-scraper:{name}"
        if change is None:
            result.pop(key, None)
        elif isinstance(change, dict) and key in result:
            merged = json.loads(result[key])
            merged.update(change)
            result[key] = json.dumps(merged)
        else:
            result[key] = change if isinstance(change, str) else json.dumps(change)
    return result


def resources_of(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def resource(plan: Plan, type_: str, name: str) -> PlannedResource:
    matches = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"expected one {type_} named {name}, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return run_program("prod", prod_config())


@pytest.fixture
def plan_with() -> Callable[..., Plan]:
    def run(**changes: Any) -> Plan:
        return run_program("prod", with_changes(prod_config(), **changes))

    return run


@pytest.fixture
def prod_plan_json(prod_plan: Plan) -> dict[str, Any]:
    return copy.deepcopy(prod_plan.to_json())
