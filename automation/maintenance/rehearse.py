"""`maintenance rehearse`: everything a run does up to its preview, nothing changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from automation.maintenance.lock import lock_owner
from automation.maintenance.run import IMAGE_CONFIG_PATH
from automation.runner import ProtectedResources, StackRunner
from automation.windows import current_window, next_windows
from contract.outputs import Maintenance


class Rehearsal(TypedDict):
    drift: dict[str, int]  # what a refresh would change, by operation
    backend: str
    inWindow: bool
    nextWindow: str  # ISO 8601, UTC
    image: dict[str, str | None]  # current and new
    steps: list[str]  # what a run would do, in order
    preview: dict[str, Any]  # Preview.to_json()
    wouldStop: list[str]  # the stateful replacements and deletions a run would stop at


RUN_STEPS = (
    "take the operations lock (DynamoDB conditional write, released on every exit)",
    "announce the start on the maintenance topic",
    "silence the app alarms' actions (restored on every exit)",
    "back up: snapshot the database and copy it to the DR region",
    "preview with diff; stop if a stateful resource would be replaced or deleted, unless --allow-replace NAME "
    "--reason TEXT allows its replacement: then unprotect it (after the backup, the reason recorded)",
    "update (the migration Job runs inside it)",
    "smoke-test the deployed app",
    "on a failure after the update: roll back to the previous image and smoke-test again",
    "announce the outcome, write the record locally and to the ops bucket",
)


def rehearse(runner: StackRunner, maintenance: Maintenance, current_image: str, new_image: str | None,
             now: datetime) -> Rehearsal:
    """Everything up to and including the preview; the config is put back, nothing else is touched."""
    window = current_window(maintenance, now)
    if new_image:
        runner.set_config(IMAGE_CONFIG_PATH, new_image)
    try:
        preview = runner.preview(f"scraper-ops maintenance rehearsal by {lock_owner()}")
    except ProtectedResources as refused:
        preview = refused.preview
    finally:
        if new_image:
            runner.set_config(IMAGE_CONFIG_PATH, current_image)
    blocked = [f"{c.op} {c.type} {c.name}" for c in preview.changes if c.destructive and c.stateful]
    return Rehearsal(
        drift=runner.refresh_preview(),
        backend=runner.backend,
        inWindow=window is not None,
        nextWindow=next_windows(maintenance, now, 1)[0].start.isoformat(),
        image={"current": current_image, "new": new_image},
        steps=list(RUN_STEPS),
        preview=preview.to_json(),
        wouldStop=blocked,
    )
