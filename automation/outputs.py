"""The stack outputs contract (contract.outputs), read from a saved `pulumi stack output --json` file, the in-cluster
ConfigMap mount, or a stack through the stack runner. Automation never guesses a physical name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from automation.errors import BadInput
from automation.jsonfile import read_json
from contract.outputs import StackOutputs

OUTPUTS_ENV = "SCRAPER_OPS_OUTPUTS"
IN_CLUSTER_OUTPUTS = Path("/etc/scraper-ops/outputs.json")


def parse_outputs(document: Any, source: str) -> StackOutputs:
    try:
        return StackOutputs.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors(include_url=False)
        ]
        raise BadInput(f"outputs from {source} do not follow the contract: " + "; ".join(problems)) from None


def read_outputs_file(path: Path) -> StackOutputs:
    return parse_outputs(read_json(path, "outputs file"), str(path))


def outputs_of(outputs_file: Path | None, runner: Any) -> StackOutputs:
    """--outputs FILE when given, else the stack's outputs through its runner (made only when no file is given)."""
    if outputs_file:
        return read_outputs_file(outputs_file)
    return parse_outputs(runner.outputs(), f"stack {runner.stack_name}")


def resolve_outputs(outputs_file: Path | None, stack: str | None, backend: str = "pulumi") -> StackOutputs:
    """--outputs FILE, else --stack through the stack runner, else $SCRAPER_OPS_OUTPUTS, else the in-cluster mount."""
    if outputs_file is not None:
        return read_outputs_file(outputs_file)
    if stack is not None:
        from automation.runner import stack_runner

        return parse_outputs(stack_runner(stack, backend).outputs(), f"stack {stack} ({backend} backend)")
    if os.environ.get(OUTPUTS_ENV):
        return read_outputs_file(Path(os.environ[OUTPUTS_ENV]))
    if IN_CLUSTER_OUTPUTS.is_file():
        return read_outputs_file(IN_CLUSTER_OUTPUTS)
    raise BadInput(
        f"no stack outputs: pass --outputs FILE (from `pulumi stack output --json`) or --stack NAME, "
        f"or set {OUTPUTS_ENV}"
    )
