"""Runs of the real program under the offline engine, memoized per config, and the prod stack's config."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from filelock import FileLock

from automation.engine import Plan, PlannedResource, run_program
from automation.stack_files import read_stack_file, stack_names
from infra.config import ConfigError
from tests.support.resource_types import ROLE_POLICY

REPO_ROOT = Path(__file__).resolve().parents[2]

OLD_IMAGE = "ghcr.io/social-media-scraper/app:2.4.1@sha256:5c3e8f1a9b2d4c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6"
NEW_IMAGE = f"ghcr.io/social-media-scraper/app:2.5.0@sha256:{'5' * 64}"


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


def policy_statements(plan: Plan, name: str) -> list[dict]:
    """The statements of the IAM role policy `name` (an inline policy document, as the plan holds it)."""
    return json.loads(resource(plan, ROLE_POLICY, name).inputs["policy"])["Statement"]


# The program is deterministic (tests/automation/test_plan.py::test_plans_are_deterministic runs it again for real),
# so each config runs once per session: later runs get a copy of the first plan, which a test may edit freely. The
# plan is kept pickled and each copy unpickled (2 ms for the prod plan, against 9 ms for a deep copy). Under
# pytest-xdist the workers of a session share their plans through a directory (see share_plans).
_plans: dict[str, bytes] = {}
_shared_plans: Path | None = None


# The fast tier's rule (README, Tests): its tests plan the stack files as they are, as `pulumi up` or `pulumi preview`
# sees them, each once per session; a test that runs the project's program for a config of its own (changed, with a
# failing lookup, or again) is slow. Set for each test by conftest.py; the check runs after the program, so a config
# refused before it runs costs nothing.
_own_runs_allowed = True


def run_program_uncached(stack: str, raw_config: dict[str, str], *args: Any, **kwargs: Any) -> Plan:
    with _fast_tier_rule(f"runs the {stack} program again, not the session's plan"):
        return _run_program(stack, raw_config, *args, **kwargs)


def _run_program_once(stack: str, raw_config: dict[str, str], program: Callable | None = None, *args: Any,
                      **kwargs: Any) -> Plan:
    if program is not None:  # a test's own program: no key can tell two of them apart
        return _run_program(stack, raw_config, program, *args, **kwargs)
    key = json.dumps([stack, sorted(raw_config.items()), args, sorted(kwargs.items())])
    own = bool(args or set(kwargs) - {"preview"}) or stack not in _stacks() or raw_config != _stack_file(stack)
    with _fast_tier_rule(f"runs the program for a {stack} config of its own") if own else contextlib.nullcontext():
        if key not in _plans:  # a ConfigError is raised, never kept
            _plans[key] = _shared_run(key, lambda: _run_program(stack, raw_config, *args, **kwargs))
    return pickle.loads(_plans[key])


@functools.cache
def _stacks() -> list[str]:
    return stack_names(REPO_ROOT)


@functools.cache
def _stack_file(stack: str) -> dict[str, str]:
    return read_stack_file(stack, REPO_ROOT)


@contextlib.contextmanager
def _fast_tier_rule(what: str) -> Iterator[None]:
    """Fails a fast test whose program run (or failed run) breaks the rule; a config refused before the program
    runs breaks nothing."""
    try:
        yield
    except ConfigError:
        raise
    except Exception:
        _check_fast_tier(what)
        raise
    _check_fast_tier(what)


def _check_fast_tier(what: str) -> None:
    if not _own_runs_allowed:
        pytest.fail(f"this test {what}: mark it slow (@pytest.mark.slow, the fast tier's rule in README, Tests)",
                    pytrace=False)


def _shared_run(key: str, run: Callable[[], Plan]) -> bytes:
    """The pickled plan another worker of this session made for `key`, else run's, left for the others.

    One lock per config: a worker wanting a config another is running waits for its plan instead of running it
    too. The plan is written to a temporary name and renamed, so no reader sees half a file."""
    if _shared_plans is None:
        return _pickled(run())
    path = _shared_plans / f"{hashlib.sha256(key.encode()).hexdigest()}.pickle"
    with FileLock(path.with_suffix(".lock")):
        if path.exists():
            return path.read_bytes()
        pickled = _pickled(run())
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickled)
        partial.replace(path)
        return pickled


def _pickled(plan: Plan) -> bytes:
    return pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)


def share_plans(patch: pytest.MonkeyPatch, directory: Path) -> None:
    """Plans made by any pytest-xdist worker of this session are read from `directory` by the others."""
    directory.mkdir(exist_ok=True)
    patch.setattr(sys.modules[__name__], "_shared_plans", directory)


_run_program = run_program
run_program = _run_program_once


def memoize_everywhere(patch: pytest.MonkeyPatch) -> None:
    """Every `run_program` of the project and the tests (the CLI's `plan`, the offline backend...) that is the
    engine's becomes the memoized one: the engine's package and its submodules, and every importer of either."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("automation", "infra", "tests") and getattr(module, "run_program", None) is _run_program:
            patch.setattr(module, "run_program", _run_program_once)
