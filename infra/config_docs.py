"""The README's stack config table, printed from the docstrings under the config model's fields (`python -m
infra.config_docs`); tests/infra/test_config.py checks that the README holds exactly this table and that no key
lacks one."""

from __future__ import annotations

import ast
import inspect
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

from infra.config import PROJECT, REGION_KEY, StackConfig, base, data, operations, site, stack, workload


@cache
def _docstrings() -> dict[tuple[str, str], str]:
    """(model, field) -> the docstring under the field, from the source of every module of infra/config/."""
    found = {}
    sources = [inspect.getsource(module) for module in (base, data, operations, site, stack, workload)]
    for node in (node for source in sources for node in ast.parse(source).body):
        if isinstance(node, ast.ClassDef):
            for field, doc in zip(node.body, node.body[1:]):
                if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and \
                        isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and \
                        isinstance(doc.value.value, str):
                    found[(node.name, field.target.id)] = inspect.cleandoc(doc.value.value)
    return found


def _default(field: Any) -> str:
    if field.is_required():
        return "(required)"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined or value is None or value in ((), ""):
        return "none"
    if isinstance(value, BaseModel):
        return ", ".join(f"{to_camel(k)} `{v}`" for k, v in value.model_dump().items())
    if isinstance(value, dict):
        return ", ".join(f"`{k}={v}`" for k, v in value.items())
    if isinstance(value, tuple):
        return " ".join(f"`{v}`" for v in value)
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def rows() -> list[tuple[str, str, str]]:
    """(key, what, default) for every key a stack file may set, groups expanded to their keys."""
    found = []
    for name, field in StackConfig.model_fields.items():
        key = REGION_KEY if name == "region" else f"{PROJECT}:{to_camel(name)}"
        group = base.group_model(field.annotation)  # also `DnsConfig | None`
        if group is None:
            found.append((key, _docstrings().get((StackConfig.__name__, name), ""), _default(field)))
            continue
        optional_group = not field.is_required() and field.default is None
        for sub_name, sub_field in group.model_fields.items():
            default = f"(required in `{to_camel(name)}`)" if optional_group and sub_field.is_required() \
                else _default(sub_field)
            found.append((f"{key}.{to_camel(sub_name)}", _docstrings().get((group.__name__, sub_name), ""), default))
    return found


def markdown_table() -> str:
    lines = ["| key | what | default |", "|---|---|---|"]
    lines += [f"| `{key}` | {what} | {default} |" for key, what, default in rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
