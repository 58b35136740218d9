"""Files the user hands in (stack files, plans, outputs, policy config): unreadable, not UTF-8 or malformed is
BadInput, one line naming the file and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automation.errors import BadInput


def read_utf8(path: Path, what: str) -> str:
    """The file's text. Always UTF-8 (YAML 1.2 and JSON, RFC 8259 section 8.1, are UTF-8), whatever the locale."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read {what} {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"{what} {path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                       "save it as UTF-8") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity); use a finite number")


def read_json(path: Path, what: str) -> Any:
    text = read_utf8(path, what)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BadInput(f"{what} {path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:
        raise BadInput(f"{what} {path}: {error}") from None
