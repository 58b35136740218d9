"""`pulumi config set --path` on a stack file, for the offline backend: a round-trip YAML edit."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from ruamel.yaml import YAML


def set_config_path(stack_file: Path, path: str, value: str) -> None:
    """`ns:key.sub` sets a field inside an object value; `value` is parsed as the CLI parses it (YAML).

    Comments, order and quoting of everything else stay as they were.
    """
    key, _, inner = path.partition(".")
    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 4096  # never fold a long value (an image pinned by digest) onto a second line
    editor.indent(mapping=2, sequence=4, offset=2)
    document = editor.load(stack_file.read_text()) or {}
    config = document.setdefault("config", {})
    parsed = yaml.safe_load(value)
    if inner:
        target = config.setdefault(key, {})
        parts = inner.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parsed
    else:
        config[key] = parsed
    buffer = io.StringIO()
    editor.dump(document, buffer)
    stack_file.write_text(buffer.getvalue())
