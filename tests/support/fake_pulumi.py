"""The Pulumi CLI: a recording PulumiCommand that answers like the CLI for one stack."""

from __future__ import annotations

import json
from typing import Any, Callable

import grpc
import yaml
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error
from pulumi.runtime.proto import events_pb2, events_pb2_grpc
from semver import VersionInfo

from tests.support.programs import run_program

CONFLICT = "error: [409] Conflict: Another update is currently in progress."
ENGINE_PROTECTED = "as it is currently marked for protection"


class RecordingPulumi(auto.PulumiCommand):
    """Stands in for the `pulumi` binary: records every call and answers as the CLI would.

    `preview_changes` are the steps the engine would report (op, type, name, protect): `protect` is what the
    program declares, which is also the state's flag until `pulumi state unprotect`; a successful `up` writes the
    program's flag back into the state. Like the engine, preview and up refuse to replace a resource protected in
    the state and the program, or to delete one protected in the state (pulumi/pulumi step_generator.go, step.go);
    the preview still reports every step, then fails.
    `up_outcomes` are consumed one per `up` ("ok" or stderr text of a failure);
    `conflicts` is how many calls answer that another update holds the stack.
    Skips `super().__init__`, which would exec `pulumi version`.
    """

    def __init__(self, stack: str, config: dict[str, str], outputs: dict[str, Any]):
        self.command = "pulumi"
        # A CLI newer than 3.205 streams its engine events to the Automation API over gRPC instead of the event log
        # file (pulumi/pulumi#20822; the SDK's choice: pulumi/automation/_stack.py, `_setup_event_log`): the path
        # the workflows' CLI, the latest, takes.
        self.version = VersionInfo(3, 206, 0)
        self.stack = stack
        self.config = dict(config)
        self.deployed_config = dict(config)  # what the state holds: the program's resources under this config
        self.outputs = outputs
        self.calls: list[list[str]] = []
        self.history: list[dict[str, Any]] = []
        self.preview_changes: list[tuple[str, str, str, bool]] = [
            ("update", "kubernetes:apps/v1:Deployment", "app-deployment", False),
            ("replace", "kubernetes:batch/v1:Job", "app-migration", False),
        ]
        self.up_outcomes: list[str] = []
        self.conflicts = 0
        self.drift: dict[str, int] | None = None  # refresh's counts; None: every resource of the state unchanged
        self.on_up: Callable[[int], None] = lambda count: None
        self.unprotected: set[str] = set()  # URNs whose protect flag `pulumi state unprotect` cleared

    def urn(self, resource_type: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::social-media-scraper::{resource_type}::{name}"

    def state_protected(self, resource_type: str, name: str, declared: bool) -> bool:
        return declared and self.urn(resource_type, name) not in self.unprotected

    def refusals(self) -> list[dict[str, Any]]:
        """The engine's diagnostics for the protected resources this update would replace or delete."""
        refused = []
        for op, resource_type, name, protect in self.preview_changes:
            urn = self.urn(resource_type, name)
            if op == "replace" and protect and self.state_protected(resource_type, name, protect):
                message = (f'unable to replace resource "{urn}"\n{ENGINE_PROTECTED}. To unprotect the resource, '
                           "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")
            elif op == "delete" and self.state_protected(resource_type, name, protect):
                message = (f'unable to delete resource "{urn}"\n{ENGINE_PROTECTED}. To unprotect the resource, '
                           "either remove the `protect` flag from the resource in your Pulumi program and run "
                           f"`pulumi up` or use the command:\n`pulumi state unprotect '{urn}'`")
            else:
                continue
            refused.append({"diagnosticEvent": {"urn": urn, "prefix": "error: ", "message": message + "\n",
                                                "color": "never", "severity": "error", "ephemeral": False}})
        return refused

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        self.calls.append(list(args))
        code, stdout, stderr = self._answer(list(args))
        result = CommandResult(stdout=stdout, stderr=stderr, code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def _answer(self, args: list[str]) -> tuple[int, str, str]:
        if args[:2] == ["stack", "select"]:
            name = args[args.index("--stack") + 1]
            return (0, "", "") if name == self.stack else (255, "", f"error: no stack named '{name}' found")
        if args[:2] == ["stack", "ls"]:
            return 0, json.dumps([{"name": self.stack, "current": True}]), ""
        if args[:2] == ["stack", "output"]:
            return 0, json.dumps(self.outputs), ""
        if args[:1] == ["config"] and "--json" in args:
            return 0, json.dumps({k: {"value": v, "secret": False} for k, v in self.config.items()}), ""
        if args[:2] == ["config", "set"]:
            key, value = args[args.index("--path") + 1 if "--path" in args else 2], args[-1]
            namespace_key, _, inner = key.partition(".")
            if inner:
                document = json.loads(self.config.get(namespace_key, "{}"))
                document[inner] = yaml.safe_load(value)
                self.config[namespace_key] = json.dumps(document)
            else:
                self.config[key] = value
            return 0, "", ""
        if args[:2] in (["state", "unprotect"], ["state", "protect"]):
            assert args[2:5] == ["--yes", "--stack", self.stack] and args[5] == "--", f"unexpected call: {args}"
            known = {self.urn(t, n) for _, t, n, _ in self.preview_changes}
            missing = [urn for urn in args[6:] if urn not in known]
            if missing:
                return 255, "", f"error: No such resource {missing[0]!r} exists in the current state"
            update = self.unprotected.update if args[1] == "unprotect" else self.unprotected.difference_update
            update(args[6:])
            return 0, "", ""
        if args[:2] == ["stack", "history"]:
            return 0, json.dumps(list(reversed(self.history))[:1]), ""
        if args[0] in ("preview", "up") and self.conflicts:
            self.conflicts -= 1
            self._write_events(args, [])
            return 255, "", CONFLICT
        if args[0] == "preview":
            refusals = self.refusals()
            self._write_events(args, [
                {"resourcePreEvent": {"metadata": {"op": op, "urn": self.urn(t, n), "type": t, "provider": "",
                                                   "diffs": ["spec"], "old": {"type": t, "urn": self.urn(t, n),
                                                   "protect": self.state_protected(t, n, protect), "custom": True,
                                                   "id": n, "parent": "", "provider": "", "inputs": {},
                                                   "outputs": {}}}}}
                for op, t, n, protect in self.preview_changes
            ] + refusals + [{"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "PolicyPacks": {},
                                              "resourceChanges": {op: 1 for op, *_ in self.preview_changes}}}])
            if refusals:
                return 255, "".join(r["diagnosticEvent"]["message"] for r in refusals), "error: preview failed"
            return 0, "", ""
        if args[:2] == ["refresh", "--preview-only"]:
            drift = self.drift
            if drift is None:
                drift = {"same": len(run_program(self.stack, self.deployed_config).resources)}
            self._write_events(args, [{"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "PolicyPacks": {},
                                                        "resourceChanges": drift}}])
            return 0, "", ""
        if args[0] == "up":
            count = sum(1 for call in self.calls if call[0] == "up")
            refusals = self.refusals()
            if refusals:
                self._write_events(args, refusals)
                return 255, "", "".join(r["diagnosticEvent"]["message"] for r in refusals) + "error: update failed"
            self.on_up(count)
            self._write_events(args, [])
            outcome = self.up_outcomes.pop(0) if self.up_outcomes else "ok"
            if outcome != "ok":
                return 255, "", outcome
            message = args[args.index("--message") + 1] if "--message" in args else ""
            self.history.append({"version": len(self.history) + 1, "kind": "update", "result": "succeeded",
                                 "message": message, "startTime": "2026-11-28T02:00:00.000Z",
                                 "endTime": "2026-11-28T02:05:00.000Z", "environment": {}, "config": {},
                                 "resourceChanges": {"update": 1}})
            self.unprotected.clear()  # the engine writes the program's protect flag into the new state
            return 0, "", ""
        raise AssertionError(f"unexpected pulumi call: {args}")

    @staticmethod
    def _write_events(args: list[str], events: list[dict[str, Any]]) -> None:
        """The engine's events, streamed to the Automation API's events server (`--event-log tcp://host:port`),
        which the CLI always ends with a cancel event."""
        if "--event-log" not in args:
            return
        target = args[args.index("--event-log") + 1]
        assert target.startswith("tcp://"), f"a CLI after 3.205 is given an events server, not {target}"
        requests = [events_pb2.EventRequest(event=json.dumps({"sequence": sequence, "timestamp": sequence, **event}))
                    for sequence, event in enumerate([*events, {"cancelEvent": {}}], 1)]
        with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
            events_pb2_grpc.EventsStub(channel).StreamEvents(iter(requests))

    def of(self, subcommand: str) -> list[list[str]]:
        return [call for call in self.calls if call[0] == subcommand or call[:2] == subcommand.split()]
