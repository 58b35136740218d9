"""Stack files and the project directory: what commands that only read a stack's config need.

Kept apart from the offline engine (automation/engine/), which imports the Pulumi SDK: `maintenance next`
and the like read `Pulumi.<stack>.yaml` without paying for it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from automation.errors import BadInput
from automation.jsonfile import read_utf8
from infra.config import PROJECT, ConfigError

PROJECT_DIR_ENV = "SCRAPER_OPS_PROJECT_DIR"


def project_dir() -> Path:
    """Where Pulumi.yaml and the stack files are: $SCRAPER_OPS_PROJECT_DIR, else the current
    directory when it holds the project, else the checkout this package was installed from."""
    if os.environ.get(PROJECT_DIR_ENV):
        chosen = Path(os.environ[PROJECT_DIR_ENV])
        if not (chosen / "Pulumi.yaml").is_file():
            raise BadInput(f"{PROJECT_DIR_ENV}={chosen}: no Pulumi.yaml there; set it to the directory of the "
                           "project (the one with Pulumi.yaml and the stack files) or unset it")
        return chosen
    if (Path.cwd() / "Pulumi.yaml").is_file():
        return Path.cwd()
    return Path(__file__).resolve().parent.parent


class StackNotFound(BadInput, LookupError):
    def __init__(self, stack: str, known: list[str], root: Path):
        self.stack, self.known = stack, known
        listing = ", ".join(known) if known else "none"
        super().__init__(f"no stack config Pulumi.{stack}.yaml in {root}; stacks in this project: {listing}")


def invalid_config(stack: str, error: ConfigError) -> BadInput:
    """One line for one problem; a header and a line per problem when there are several."""
    if len(error.problems) == 1:
        return BadInput(f"invalid config of stack {stack}: {error.problems[0]}")
    return BadInput(f"invalid config of stack {stack} ({len(error.problems)} problems):\n" + "\n".join(error.problems))


def stack_names(root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML with each key once per mapping: the YAML spec requires unique keys ("The content of a mapping node
    is an unordered set of key/value node pairs, with the restriction that each of the keys is unique", YAML 1.2.2
    section 3.2.1.1), which PyYAML does not enforce: it keeps the last value silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = first_line.get(key)
            except TypeError:
                continue  # an unhashable key: the base constructor names it
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen}); give each key once",
                    key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: where, what, and what it was parsing (where that started)."""
    mark, context_mark = getattr(error, "problem_mark", None), getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    line = (f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else "") + problem
    if context and context_mark is not None:
        line += f" ({context} started at line {context_mark.line + 1} column {context_mark.column + 1})"
    return " ".join(line.split())


def read_stack_file(stack: str, root: Path) -> dict[str, str]:
    """The stack's config as the CLI hands it to a program: every value a string, objects as JSON."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackNotFound(stack, stack_names(root), root)
    text = read_utf8(path, "stack file")
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise BadInput(f"stack file {path} is not valid YAML: {_yaml_problem(error)}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise BadInput(f"stack file {path}: the top level must be a mapping with a `config:` mapping, "
                       f"not a {_kind(document)}")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise BadInput(f"stack file {path}: `config` must be a mapping of namespaced keys, not a {_kind(raw)}")
    values: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise BadInput(f"stack file {path}: config key {key!r} is not a namespaced key like {PROJECT}:app")
        if isinstance(value, dict) and "secure" in value:
            raise BadInput(f"stack file {path}: {key} is a secret; the offline engine cannot decrypt it")
        values[key] = _as_config_text(value)
    return values


def _as_config_text(value: Any) -> str:
    """As the CLI hands values to a program: text stays text, objects and lists are JSON, other scalars their
    YAML text (a YAML date such as 2024-01-01 is the text "2024-01-01", never a crash)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    return str(value)


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), type(value).__name__)
