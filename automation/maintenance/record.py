"""A maintenance run's record: its steps, what it changed, its outcome, and the report written from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from automation.reports import Report, Table, Verdict, between_in_words
from automation.windows import Window


@dataclass
class StepRecord:
    name: str
    started: str
    ended: str
    outcome: str  # ok, failed, skipped
    detail: str
    ids: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record:
    run_id: str
    stack: str
    backend: str
    reason: str
    owner: str
    window: dict[str, str] | None = None
    steps: list[StepRecord] = field(default_factory=list)
    snapshot_id: str | None = None
    previous_image: str | None = None
    new_image: str | None = None
    diff: dict[str, Any] | None = None
    unprotected: list[dict[str, str]] = field(default_factory=list)  # each: urn, type, name, reason, snapshot
    update_version: int | None = None
    rollback: dict[str, Any] | None = None
    outcome: str = "failed"
    problems: list[str] = field(default_factory=list)
    kind: str = "scheduled"  # scheduled, emergency (forced: outside the window or past the release gate), promotion
    release_gate: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        return {"emergency": "EMERGENCY maintenance", "promotion": "Promotion maintenance"}.get(self.kind, "Maintenance")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def report(self, created: datetime) -> Report:
        return Report(
            kind="maintenance",
            title=f"{self.title} {self.run_id}",
            stack=self.stack,
            ok=self.outcome == "succeeded",
            data=self.to_json(),
            created=created,
            summary=[f"{self.kind} maintenance; backend {self.backend}; reason: {self.reason}; by {self.owner}",
                     *gate_lines(self.release_gate),
                     f"pre-maintenance snapshot: {self.snapshot_id or 'none'}",
                     *([f"run took {between_in_words(self.steps[0].started, self.steps[-1].ended)}"]
                       if self.steps else []),
                     f"image: {self.previous_image} -> {self.new_image or 'unchanged'}",
                     *[f"unprotected for replacement: {u['name']} ({u['type']}), reason: {u['reason']}"
                       for u in self.unprotected]],
            verdicts=[Verdict("ok" if self.outcome == "succeeded" else "critical",
                              f"{self.title} {self.run_id} {self.outcome}"),
                      *[Verdict("critical", f"problem: {p}") for p in self.problems]],
            tables=[Table("Steps", ("step", "outcome", "started", "took", "detail"),
                          [(s.name, s.outcome, s.started, between_in_words(s.started, s.ended), s.detail)
                           for s in self.steps])]
            + ([Table("Changes", ("op", "type", "name", "keys"),
                      [(c["op"], c["type"], c["name"], ", ".join(c["keys"])) for c in self.diff["changes"]])]
               if self.diff else []),
        )


class Aborted(Exception):
    """A step failed before the update: stop, change nothing more."""


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    if not gate:
        return []
    if gate["overridden"]:
        return [f"release gate OVERRIDDEN by --force: {gate['refusal']}; reason: {gate['reason']}"]
    return [f"release gate: {gate['image']} passed on {gate['required_from']} ({gate['record']})"]


def start_notice(record: Record, forced_because: list[str], window: Window) -> str:
    """The start announcement; an emergency run's says why it was forced, as the guide's emergency maintenance asks."""
    reason = record.reason or "scheduled window"
    image = f" Deploys {record.new_image}." if record.new_image else ""
    gate = " ".join(gate_lines(record.release_gate))
    if record.kind == "emergency":
        # The guide's emergency maintenance: assess urgency, notify stakeholders, execute, verify, document.
        return (f"EMERGENCY maintenance {record.run_id} of {record.stack}, {' and '.join(forced_because)}. "
                f"Urgency assessed by {record.owner}: {reason}. This notice is the stakeholder "
                f"notification; the run backs up, executes the change, verifies it with the smoke tests (rolling "
                f"back on failure) and documents every step in its record. Ends by {window.end:%H:%M} "
                f"UTC.{image} {gate}").strip()
    return (f"{record.title} {record.run_id} of {record.stack} starts now and ends by "
            f"{window.end:%H:%M} UTC. Reason: {reason}.{image} {gate}").strip()


def end_notice(record: Record) -> str:
    return (f"{record.title} {record.run_id} of {record.stack}: {record.outcome}. "
            f"Snapshot {record.snapshot_id or 'none'}. Problems: {'; '.join(record.problems) or 'none'}.")
