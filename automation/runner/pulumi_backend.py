"""The Automation API backend: the stack runner over this repository's project (LocalWorkspace).

The policy pack is attached to every preview and update, every update carries an audit message, engine events
stream to the terminal, and the CLI's errors become clear messages: no CLI (exit 3), a locked stack (named,
retried with backoff, never cancelled), an unknown stack (the existing ones listed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pulumi import automation as auto

from automation.errors import BadInput, MissingEnvironment, OpsError
from automation.runner.base import (
    PROTECTED_REFUSAL,
    SHOWN_OPS,
    Change,
    Preview,
    ProtectedResources,
    Update,
    change_event,
)
from automation.stack_files import project_dir

INSTALL_HINT = "install the Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on PATH"


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type_of(urn: str) -> str:
    return urn.split("::")[2].rsplit("$", 1)[-1]


@dataclass
class LockRetry:
    """A stack locked by another update is retried with backoff, never cancelled."""

    attempts: int = 4
    first_delay_seconds: float = 30.0


class PulumiRunner:
    backend = "pulumi"

    def __init__(
        self,
        stack: str,
        pulumi_command: auto.PulumiCommand | None = None,
        work_dir: Path | None = None,
        on_event: Callable[[str], None] | None = None,
        lock_retry: LockRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        missing_cli_hint: str = "",
    ):
        self.stack_name = stack
        self._missing_cli_hint = missing_cli_hint
        self.work_dir = work_dir or project_dir()
        self.policy_pack = str(self.work_dir / "policies")
        self._command = pulumi_command
        self._stack: auto.Stack | None = None
        self._on_event = on_event or (lambda line: None)
        self._lock_retry = lock_retry or LockRetry()
        self._sleep = sleep
        self._errors: list[str] = []  # the engine's error diagnostics of the running operation

    def _workspace_options(self) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(work_dir=str(self.work_dir), pulumi_command=self._command)

    @property
    def stack(self) -> auto.Stack:
        if self._stack is None:
            try:
                self._stack = auto.select_stack(
                    stack_name=self.stack_name, work_dir=str(self.work_dir), opts=self._workspace_options()
                )
            except FileNotFoundError:
                raise MissingEnvironment(", ".join(filter(None, (f"no Pulumi CLI: {INSTALL_HINT}",
                                                                self._missing_cli_hint)))) from None
            except auto.StackNotFoundError:
                workspace = self._stack_workspace()
                known = sorted(s.name for s in workspace.list_stacks())
                raise BadInput(f"no stack {self.stack_name}; stacks: {', '.join(known) or 'none'}") from None
        return self._stack

    def _stack_workspace(self) -> auto.LocalWorkspace:
        return auto.LocalWorkspace(work_dir=str(self.work_dir), pulumi_command=self._command)

    def _event(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.op.value in SHOWN_OPS:
            self._on_event(change_event(pre.metadata.op.value, _type_of(pre.metadata.urn), _name_of(pre.metadata.urn)))
        if event.diagnostic_event is not None and event.diagnostic_event.severity in ("error", "warning"):
            self._on_event(f"{event.diagnostic_event.severity}: {event.diagnostic_event.message.strip()}")
            if event.diagnostic_event.severity == "error":
                self._errors.append(" ".join(event.diagnostic_event.message.split()))

    def _retrying(self, what: str, action: Callable[[], Any]) -> Any:
        delay = self._lock_retry.first_delay_seconds
        for attempt in range(1, self._lock_retry.attempts + 1):
            self._errors = []
            try:
                return action()
            except auto.ConcurrentUpdateError as error:
                holder = _first_error_line(error)
                if attempt == self._lock_retry.attempts:
                    raise OpsError(
                        f"stack {self.stack_name} is locked by another update ({holder}); gave up after "
                        f"{attempt} attempts. Wait for it to finish; never cancel it from here."
                    ) from None
                self._on_event(f"stack {self.stack_name} is locked ({holder}); {what} retried in {delay:.0f} s")
                self._sleep(delay)
                delay *= 2
            except auto.CommandError as error:
                detail = "; ".join(self._errors) or _first_error_line(error)
                raise OpsError(f"pulumi {what} of stack {self.stack_name} failed: {detail}") from None
        raise AssertionError("unreachable")

    def get_config(self) -> dict[str, str]:
        return {key: value.value for key, value in self.stack.get_all_config().items()}

    def set_config(self, path: str, value: str) -> None:
        self.stack.set_config(path, auto.ConfigValue(value=value), path=True)

    def preview(self, message: str) -> Preview:
        changes: dict[str, Change] = {}
        refused: dict[str, str] = {}

        def collect(event: auto.EngineEvent) -> None:
            self._event(event)
            diagnostic = event.diagnostic_event
            if diagnostic is not None and diagnostic.severity == "error" and PROTECTED_REFUSAL in diagnostic.message:
                refused[diagnostic.urn or ""] = diagnostic.message.strip()
            pre = event.resource_pre_event
            if pre is None:
                return
            meta = pre.metadata
            op = {"create-replacement": "replace", "delete-replaced": "replace"}.get(meta.op.value, meta.op.value)
            if meta.type.startswith("pulumi:providers:") or op not in SHOWN_OPS | {"same"}:
                return
            state = meta.old or meta.new
            changes[meta.urn] = Change(meta.urn, meta.type, _name_of(meta.urn), op,
                                       sorted(meta.diffs or meta.keys or []), bool(state and state.protect))

        try:
            self._retrying("preview", lambda: self.stack.preview(
                diff=True, policy_packs=[self.policy_pack], message=message, on_event=collect, color="never"
            ))
        except OpsError:
            if refused:
                raise ProtectedResources(Preview(list(changes.values()), refused)) from None
            raise
        return Preview(list(changes.values()))

    def up(self, message: str, targets: list[str] | None = None) -> Update:
        result = self._retrying("update", lambda: self.stack.up(
            message=message, policy_packs=[self.policy_pack], target=targets, on_event=self._event, color="never"
        ))
        summary = result.summary
        return Update(summary.version, summary.result, dict(summary.resource_changes or {}),
                      {k: v.value for k, v in result.outputs.items()})

    def refresh_preview(self) -> dict[str, int]:
        """Drift between the state and the cloud, as counts of what a refresh would change."""
        result = self._retrying("refresh preview", lambda: self.stack.preview_refresh(color="never"))
        return {op: n for op, n in (result.change_summary or {}).items() if op in SHOWN_OPS and n}

    def unprotect(self, urns: list[str]) -> None:
        self._state_protection("unprotect", urns)

    def protect(self, urns: list[str]) -> None:
        self._state_protection("protect", urns)

    def _state_protection(self, verb: str, urns: list[str]) -> None:
        """`pulumi state protect|unprotect --yes --stack S -- URN...`: the arguments the SDK's generated
        `workspace.cli_api.state_unprotect(*urns, stack=S)` builds, run through the workspace's PulumiCommand so
        that it also works with SDKs older than that API. `--yes` skips the CLI's confirmation prompt."""
        workspace = self.stack.workspace
        args = ["state", verb, "--yes", "--stack", self.stack_name, "--", *urns]
        self._retrying(f"state {verb}", lambda: workspace.pulumi_command.run(
            args, workspace.work_dir, dict(workspace.env_vars)))

    def outputs(self) -> dict[str, Any]:
        return {key: value.value for key, value in self.stack.outputs().items()}


def _first_error_line(error: auto.CommandError) -> str:
    text = getattr(error, "stderr", "") or str(error)
    lines = [line.strip() for line in text.splitlines() if "error" in line.lower()] or [text.strip()]
    return lines[0][:300]
