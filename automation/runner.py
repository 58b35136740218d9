"""The stack runner: the one place that talks to Pulumi, with one interface and two backends.

- `pulumi`: the Automation API over this repository's project (LocalWorkspace, the
  policy pack attached to every preview and update).
- `offline`: the program run in-process by the offline engine, state kept under
  `.scraper-ops/`; it deploys nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from automation.engine import project_dir
from automation.errors import BadInput, MissingEnvironment

BACKENDS = ("pulumi", "offline")
STATE_DIR = ".scraper-ops"
INSTALL_HINT = "install the Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on PATH"


class PulumiRunner:
    backend = "pulumi"

    def __init__(self, stack: str, pulumi_command: auto.PulumiCommand | None = None, work_dir: Path | None = None):
        self.stack_name = stack
        self.work_dir = work_dir or project_dir()
        self._command = pulumi_command
        self._stack: auto.Stack | None = None

    @property
    def stack(self) -> auto.Stack:
        if self._stack is None:
            options = auto.LocalWorkspaceOptions(work_dir=str(self.work_dir), pulumi_command=self._command)
            try:
                self._stack = auto.select_stack(stack_name=self.stack_name, work_dir=str(self.work_dir), opts=options)
            except FileNotFoundError:
                raise MissingEnvironment(f"no Pulumi CLI: {INSTALL_HINT}") from None
            except auto.StackNotFoundError:
                raise BadInput(f"no stack {self.stack_name}; stacks: {', '.join(self._stack_names()) or 'none'}") from None
        return self._stack

    def _stack_names(self) -> list[str]:
        workspace = auto.LocalWorkspace(
            work_dir=str(self.work_dir),
            pulumi_command=self._command,
        )
        return sorted(s.name for s in workspace.list_stacks())

    def outputs(self) -> dict[str, Any]:
        return {key: value.value for key, value in self.stack.outputs().items()}


class OfflineRunner:
    backend = "offline"

    def __init__(self, stack: str, work_dir: Path | None = None):
        self.stack_name = stack
        self.work_dir = work_dir or project_dir()

    @property
    def state_file(self) -> Path:
        return self.work_dir / STATE_DIR / f"{self.stack_name}.json"

    def state(self) -> dict[str, Any] | None:
        if not self.state_file.is_file():
            return None
        return json.loads(self.state_file.read_text())

    def outputs(self) -> dict[str, Any]:
        state = self.state()
        if state is None:
            raise BadInput(
                f"the offline backend has no state for stack {self.stack_name} ({self.state_file}); "
                "run an offline update first (scraper-ops maintenance run --backend offline)"
            )
        return state["outputs"]


def stack_runner(stack: str, backend: str) -> PulumiRunner | OfflineRunner:
    if backend == "pulumi":
        return PulumiRunner(stack)
    if backend == "offline":
        return OfflineRunner(stack)
    raise BadInput(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
