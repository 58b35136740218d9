"""What every stack runner shares: the changes a preview reports, an update's result, the runner interface."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from automation.errors import CheckFailed
from policies.common import STATEFUL

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
