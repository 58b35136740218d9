"""JSON files the user hands in (plans, outputs, policy config): unreadable or malformed is BadInput, named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automation.errors import BadInput


def read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except OSError as error:
        raise BadInput(f"cannot read {what} {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"{what} {path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
