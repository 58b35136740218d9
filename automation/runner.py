"""The stack runner: the one place that talks to Pulumi, with one interface and two backends.

- `pulumi`: the Automation API over this repository's project (LocalWorkspace).
  The policy pack is attached to every preview and update, every update carries
  an audit message, engine events stream to the terminal, and the CLI's errors
  become clear messages: no CLI (exit 3), a locked stack (named, retried with
  backoff, never cancelled), an unknown stack (the existing ones listed).
- `offline`: the program run in-process by the offline engine, its state kept
  under `.scraper-ops/`. It deploys nothing; every message it prints says so.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import yaml
from pulumi import automation as auto
from pydantic import ValidationError
from ruamel.yaml import YAML

from automation.engine import Plan, PlannedResource, run_program
from automation.errors import BadInput, CheckFailed, MissingEnvironment, OpsError
from automation.jsonfile import read_json
from automation.stack_files import invalid_config, project_dir, read_stack_file
from infra.config import ConfigError
from policies.common import STATEFUL

BACKENDS = ("pulumi", "offline")
STATE_DIR = ".scraper-ops"
INSTALL_HINT = "install the Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on PATH"
# Every command that builds a runner through `stack_runner` takes `--backend`: it can go on without the CLI.
OFFLINE_HINT = ("or pass --backend offline to run the stack's program in-process from Pulumi.<stack>.yaml and the "
                "offline state under .scraper-ops/ (nothing is deployed)")
SHOWN_OPS = {"create", "update", "delete", "replace"}
# The engine's words when it refuses to replace or delete a protected resource (see ProtectedResources).
PROTECTED_REFUSAL = "as it is currently marked for protection"


@dataclass
class Change:
    urn: str
    type: str
    name: str
    op: str  # create, update, delete, replace (or same)
    keys: list[str] = field(default_factory=list)
    protected: bool = False

    @property
    def stateful(self) -> bool:
        return self.protected or self.type in STATEFUL

    @property
    def destructive(self) -> bool:
        return self.op in ("delete", "replace")


@dataclass
class Preview:
    changes: list[Change]
    refused: dict[str, str] = field(default_factory=dict)  # URN -> the engine's refusal of a protected resource

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.op] = counts.get(change.op, 0) + 1
        return counts

    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.op in SHOWN_OPS]

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "changes": [asdict(c) for c in self.pending()], "refused": self.refused}


class ProtectedResources(CheckFailed):
    """Pulumi refused the preview: it would replace or delete a resource protected in the stack's state.

    The engine refuses a replace while the resource is protected both in the state and in the program, and any
    delete while it is protected in the state (pulumi/pulumi pkg/resource/deploy/step_generator.go,
    generateStepsFromDiff; step.go, DeleteStep.Apply). A preview still reports every step, so `preview` here
    carries the changes; `pulumi state unprotect URN` lifts the refusal
    (https://www.pulumi.com/docs/iac/concepts/resources/options/protect/).
    """

    def __init__(self, preview: Preview):
        self.preview = preview
        super().__init__("pulumi refused: " + "; ".join(" ".join(m.split()) for m in preview.refused.values()))


@dataclass
class Update:
    version: int | None
    result: str
    counts: dict[str, int]
    outputs: dict[str, Any]


class StackRunner(Protocol):
    backend: str
    stack_name: str

    def get_config(self) -> dict[str, str]: ...
    def set_config(self, path: str, value: str) -> None: ...
    def preview(self, message: str) -> Preview: ...
    def up(self, message: str, targets: list[str] | None = None) -> Update: ...
    def refresh_preview(self) -> dict[str, int]: ...
    def unprotect(self, urns: list[str]) -> None: ...
    def protect(self, urns: list[str]) -> None: ...
    def outputs(self) -> dict[str, Any]: ...


def change_event(op: str, type_: str, name: str, note: str = "") -> str:
    """The progress line of one resource step: `  create aws:s3/bucket:Bucket storage-data`."""
    return f"{op:>8} {type_} {name}" + (f" ({note})" if note else "")


def is_change_event(line: str) -> bool:
    """Whether a progress line is a resource step (a command that tabulates the steps afterwards drops these)."""
    return line[:8].strip() in SHOWN_OPS and line[8:9] == " "


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type_of(urn: str) -> str:
    return urn.split("::")[2].rsplit("$", 1)[-1]


# ---------------------------------------------------------------------------------------------------------------
# The Automation API backend


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


# ---------------------------------------------------------------------------------------------------------------
# The offline backend

# Inputs whose change makes the provider replace the resource, by type (kubernetes: for every kind).
REPLACE_KEYS: dict[str, set[str]] = {
    "aws:rds/instance:Instance": {"identifier", "engine", "dbName", "username", "kmsKeyId", "storageEncrypted",
                                  "availabilityZone", "replicateSourceDb"},
    "aws:s3/bucket:Bucket": {"bucket", "bucketPrefix"},
    "aws:kms/key:Key": {"customerMasterKeySpec", "keyUsage", "multiRegion"},
    "aws:dynamodb/table:Table": {"name", "hashKey", "rangeKey"},
    "aws:backup/vault:Vault": {"name", "kmsKeyArn"},
    "aws:sqs/queue:Queue": {"name", "fifoQueue"},
    "aws:sns/topic:Topic": {"name", "fifoTopic"},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"name"},
    "aws:iam/role:Role": {"name"},
    "kubernetes:": {"metadata.name", "metadata.namespace"},
    "kubernetes:batch/v1:Job": {"spec"},
    "kubernetes:apps/v1:Deployment": {"spec.selector"},
}


def _changed_keys(old: dict[str, Any], new: dict[str, Any], kubernetes: bool) -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        nested_old, nested_new = old.get(key), new.get(key)
        if kubernetes and isinstance(nested_old, dict) and isinstance(nested_new, dict):
            keys += [f"{key}.{sub}" for sub in sorted(set(nested_old) | set(nested_new))
                     if nested_old.get(sub) != nested_new.get(sub)]
        else:
            keys.append(key)
    return keys


def _replaces(resource_type: str, keys: list[str]) -> bool:
    triggers = set(REPLACE_KEYS.get(resource_type, set()))
    if resource_type.startswith("kubernetes:"):
        triggers |= REPLACE_KEYS["kubernetes:"]
    return any(key in triggers or key.split(".", 1)[0] in triggers for key in keys)


def _refusal(op: str, urn: str) -> str:
    """The engine's error for a protected resource, word for word (pulumi/pulumi pkg/resource/deploy)."""
    if op == "replace":
        return (f'unable to replace resource "{urn}"\n{PROTECTED_REFUSAL}. To unprotect the resource, '
                "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")
    return (f'unable to delete resource "{urn}"\n{PROTECTED_REFUSAL}. To unprotect the resource, either remove '
            "the `protect` flag from the resource in your Pulumi program and run `pulumi up` or use the command:\n"
            f"`pulumi state unprotect '{urn}'`")


def diff(old: list[PlannedResource], new: list[PlannedResource]) -> Preview:
    """What an update from `old` to `new` would do, resource by resource, refused as the engine refuses:
    a replace of a resource protected in the state and in the program, a delete of one protected in the state."""
    before = {r.urn: r for r in old if r.custom and not r.type.startswith("pulumi:providers:")}
    after = {r.urn: r for r in new if r.custom and not r.type.startswith("pulumi:providers:")}
    changes, refused = [], {}
    for urn in sorted(set(before) | set(after)):
        previous, planned = before.get(urn), after.get(urn)
        if previous is None:
            changes.append(Change(urn, planned.type, planned.name, "create", [], planned.protect))
            continue
        if planned is None:
            changes.append(Change(urn, previous.type, previous.name, "delete", [], previous.protect))
            if previous.protect:
                refused[urn] = _refusal("delete", urn)
            continue
        keys = _changed_keys(previous.inputs, planned.inputs, planned.type.startswith("kubernetes:"))
        op = "same" if not keys else ("replace" if _replaces(planned.type, keys) else "update")
        changes.append(Change(urn, planned.type, planned.name, op, keys, previous.protect))
        if op == "replace" and previous.protect and planned.protect:
            refused[urn] = _refusal("replace", urn)
    return Preview(changes, refused)


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
        """`pulumi config set --path` on the stack file: `ns:key.sub` sets a field inside an object value.

        A round-trip edit: comments, order and quoting of everything else stay as they were.
        """
        key, _, inner = path.partition(".")
        editor = YAML()
        editor.preserve_quotes = True
        editor.width = 4096  # never fold a long value (an image pinned by digest) onto a second line
        editor.indent(mapping=2, sequence=4, offset=2)
        document = editor.load(self.stack_file.read_text()) or {}
        config = document.setdefault("config", {})
        parsed = yaml.safe_load(value)
        if inner:
            target = config.setdefault(key, {})
            parts = inner.split(".")
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = parsed
        else:
            config[key] = parsed
        buffer = io.StringIO()
        editor.dump(document, buffer)
        self.stack_file.write_text(buffer.getvalue())

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


def stack_runner(stack: str, backend: str, on_event: Callable[[str], None] | None = None) -> StackRunner:
    if backend == "pulumi":
        return PulumiRunner(stack, on_event=on_event, missing_cli_hint=OFFLINE_HINT)
    if backend == "offline":
        return OfflineRunner(stack, on_event=on_event)
    raise BadInput(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
