"""`scraper-ops scale`: the guide's scale.sh as IaC."""

from __future__ import annotations

from typing import Optional

import typer

from automation.cli.common import BackendOption, JsonOption, emit, progress


def scale_command(
    stack: str = typer.Option(..., "--stack", help="The stack whose HPA bounds change."),
    minimum: int = typer.Option(..., "--min", help="New HPA minReplicas."),
    maximum: Optional[int] = typer.Option(None, "--max", help="New HPA maxReplicas."),
    backend: str = BackendOption,
    as_json: bool = JsonOption,
) -> None:
    """The guide's scale.sh as IaC: change the HPA bounds in stack config and update only the HPA."""
    from automation import maintenance as maintenance_job
    from automation import scale as scale_job
    from automation.runner import stack_runner
    runner = stack_runner(stack, backend, on_event=progress)
    result = scale_job.scale(runner, minimum, maximum,
                             f"scraper-ops scale by {maintenance_job.lock_owner()}: min {minimum}"
                             + (f", max {maximum}" if maximum is not None else ""))
    emit(as_json, result, None, [
        f"HPA bounds of {stack}: {result['previous']['minReplicas']}-{result['previous']['maxReplicas']} -> "
        f"{result['minReplicas']}-{result['maxReplicas']} (update {result['update']}, {backend} backend)"
    ])
