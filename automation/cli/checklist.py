"""`scraper-ops checklist`: the guide's daily, weekly and monthly checklists with evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import aws_errors
from automation.cli.common import BackendOption, JsonOption, OpsStackOption, OutputsOption, emit, ops_context
from automation.console import Table
from automation.errors import BadInput, CheckFailed
from automation.reports import utcnow


def checklist(
    name: str = typer.Argument(..., help="daily, weekly or monthly"),
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """The guide's operational checklists, each item checked with its evidence."""
    from automation import checklist as checklists
    if name not in checklists.CHECKLISTS:
        raise BadInput(f"unknown checklist {name!r}; use one of: {', '.join(checklists.CHECKLISTS)}")
    outputs, aws = ops_context(stack, outputs_file, backend)
    with aws_errors():
        items = checklists.run_checklist(name, checklists.Context(aws, outputs, utcnow()))
    table = Table(title=f"{name.capitalize()} checklist ({outputs.stack})")
    for column in ("", "item", "evidence"):
        table.add_column(column)
    symbols = {checklists.PASS: "✓", checklists.FAIL: "✗", checklists.MANUAL: "manual"}
    for item in items:
        table.add_row(symbols[item.state], item.text, item.evidence)
    emit(as_json, {"checklist": name, "items": [i.to_json() for i in items]}, table)
    failed = [i.text for i in items if i.state == checklists.FAIL]
    if failed:
        raise CheckFailed(f"{name} checklist: failed: {', '.join(failed)}")
