"""The offline backend: the program run in-process by the offline engine, its state kept under `.scraper-ops/`.

It deploys nothing; every message it prints says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from automation.engine import Plan, PlannedResource, run_program
from automation.errors import BadInput, CheckFailed
from automation.jsonfile import read_json
from automation.runner.base import Preview, ProtectedResources, Update, change_event
from automation.runner.config_file import set_config_path
from automation.runner.diff import diff
from automation.stack_files import invalid_config, project_dir, read_stack_file
from infra.config import ConfigError

STATE_DIR = ".scraper-ops"


class OfflineState(Plan):
    """What `.scraper-ops/<stack>.json` holds: the last offline update's plan and the history of updates."""

    history: list[dict[str, Any]]


class OfflineRunner:
    """The offline engine as a stack backend. State: `.scraper-ops/<stack>.json` (resources, outputs, history)."""

    backend = "offline"

    def __init__(self, stack: str, work_dir: Path | None = None, on_event: Callable[[str], None] | None = None):
        self.stack_name = stack
        self.work_dir = work_dir or project_dir()
        self._on_event = on_event or (lambda line: None)

    @property
    def state_file(self) -> Path:
        return self.work_dir / STATE_DIR / f"{self.stack_name}.json"

    @property
    def stack_file(self) -> Path:
        return self.work_dir / f"Pulumi.{self.stack_name}.yaml"

    def state(self) -> dict[str, Any] | None:
        """The recorded offline state; a file this backend did not write whole is refused, named."""
        if not self.state_file.is_file():
            return None
        document = read_json(self.state_file, "offline state")
        try:
            OfflineState.model_validate(document)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise BadInput(f"offline state {self.state_file} is corrupt ({where}: {first['msg']}); it only records "
                           "offline updates: move it away to start from an empty offline state") from None
        return document

    @staticmethod
    def _resources_of(state: dict[str, Any] | None) -> list[PlannedResource]:
        return Plan.model_validate(state).resources if state else []

    def get_config(self) -> dict[str, str]:
        return read_stack_file(self.stack_name, self.work_dir)

    def set_config(self, path: str, value: str) -> None:
        """`pulumi config set --path` on the stack file (a round-trip edit)."""
        set_config_path(self.stack_file, path, value)

    def _plan(self) -> Plan:
        try:
            return run_program(self.stack_name, self.get_config())
        except ConfigError as error:
            raise invalid_config(self.stack_name, error) from None

    def _check_policies(self, plan: Plan) -> None:
        from automation.policy_check import evaluate

        mandatory = [v for v in evaluate(plan) if v.level == "mandatory"]
        if mandatory:
            raise CheckFailed("policy pack refused the stack (offline): " + "; ".join(
                f"{v.policy}: {v.message}" for v in mandatory))

    def preview(self, message: str) -> Preview:
        plan = self._plan()
        self._check_policies(plan)
        result = diff(self._resources_of(self.state()), plan.resources)
        for change in result.pending():
            self._on_event(change_event(change.op, change.type, change.name, "offline: nothing deployed"))
        if result.refused:
            raise ProtectedResources(result)
        return result

    def up(self, message: str, targets: list[str] | None = None) -> Update:
        plan = self._plan()
        self._check_policies(plan)
        state = self.state()
        old = {r.urn: r for r in self._resources_of(state)}
        if targets:
            unknown = [t for t in targets if t not in {r.urn for r in plan.resources}]
            if unknown:
                raise BadInput(f"no resource to target: {', '.join(unknown)}")
            chosen = {r.urn: r for r in plan.resources if r.urn in targets}
            resources = [chosen.get(urn, resource) for urn, resource in old.items()]
            resources += [r for urn, r in chosen.items() if urn not in old]
        else:
            resources = plan.resources
        changes = diff(list(old.values()), resources)
        if changes.refused:
            raise ProtectedResources(changes)
        history = (state or {}).get("history", [])
        version = len(history) + 1
        outputs = plan.outputs if not targets else (state or {}).get("outputs", plan.outputs)
        saved = Plan(project=plan.project, stack=plan.stack, resources=sorted(resources, key=lambda r: r.urn),
                     outputs=outputs)
        self._write_state({**saved.to_json(),
                           "history": [*history, {"version": version, "kind": "update", "result": "succeeded",
                                                  "message": message, "changes": changes.counts,
                                                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]})
        for change in changes.pending():
            self._on_event(change_event(change.op, change.type, change.name, "offline: recorded, nothing deployed"))
        return Update(version, "succeeded", changes.counts, outputs)

    def _write_state(self, document: dict[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=1))
        temporary.replace(self.state_file)

    def refresh_preview(self) -> dict[str, int]:
        return {}  # nothing is deployed, so nothing can drift

    def unprotect(self, urns: list[str]) -> None:
        self._state_protection(urns, False)

    def protect(self, urns: list[str]) -> None:
        self._state_protection(urns, True)

    def _state_protection(self, urns: list[str], protect: bool) -> None:
        """`pulumi state [un]protect` on the offline state: the flag only; the next update sets it back to what
        the program declares, as the engine does."""
        state = self.state()
        resources = {r["urn"]: r for r in (state or {}).get("resources", [])}
        missing = [urn for urn in urns if urn not in resources]
        if missing:
            raise BadInput(f"no resource {', '.join(missing)} in the offline state of stack {self.stack_name}")
        for urn in urns:
            resources[urn]["protect"] = protect
        self._write_state(state)
        verb = "protected" if protect else "unprotected"
        for urn in urns:
            self._on_event(f"{verb} {urn} (offline: state flag only, nothing deployed)")

    def outputs(self) -> dict[str, Any]:
        state = self.state()
        if state is None:
            raise BadInput(
                f"the offline backend has no state for stack {self.stack_name} ({self.state_file}), so no outputs; "
                "pass --outputs FILE (saved from `pulumi stack output --json`)"
            )
        return state["outputs"]
