"""The stack runner: the one place that talks to Pulumi, with one interface and two backends.

- `pulumi` (pulumi_backend): the Automation API over this repository's project (LocalWorkspace).
- `offline` (offline): the program run in-process by the offline engine, its state kept under `.scraper-ops/`;
  `diff` computes its previews and `config_file` edits its stack files.

`base` holds what both share (Change, Preview, Update, the StackRunner protocol, ProtectedResources); this module
names the package's public face and picks a backend.
"""

from __future__ import annotations

from typing import Callable

from automation.errors import BadInput
from automation.runner.base import (
    PROTECTED_REFUSAL,
    SHOWN_OPS,
    Change,
    Preview,
    ProtectedResources,
    StackRunner,
    Update,
    change_event,
    is_change_event,
)
from automation.runner.diff import diff
from automation.runner.offline import STATE_DIR, OfflineRunner
from automation.runner.pulumi_backend import INSTALL_HINT, LockRetry, PulumiRunner

__all__ = ["BACKENDS", "INSTALL_HINT", "OFFLINE_HINT", "PROTECTED_REFUSAL", "SHOWN_OPS", "STATE_DIR", "Change",
           "LockRetry", "OfflineRunner", "Preview", "ProtectedResources", "PulumiRunner", "StackRunner", "Update",
           "change_event", "diff", "is_change_event", "stack_runner"]

BACKENDS = ("pulumi", "offline")
# Every command that builds a runner through `stack_runner` takes `--backend`: it can go on without the CLI.
OFFLINE_HINT = ("or pass --backend offline to run the stack's program in-process from Pulumi.<stack>.yaml and the "
                "offline state under .scraper-ops/ (nothing is deployed)")


def stack_runner(stack: str, backend: str, on_event: Callable[[str], None] | None = None) -> StackRunner:
    if backend == "pulumi":
        return PulumiRunner(stack, on_event=on_event, missing_cli_hint=OFFLINE_HINT)
    if backend == "offline":
        return OfflineRunner(stack, on_event=on_event)
    raise BadInput(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
