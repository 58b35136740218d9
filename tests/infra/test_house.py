"""The house rules of infra/ (issue 13): components take typed args of the values they use, never the whole
config; no module over ~400 lines and no function over ~80 without a reason in its docstring."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil

import pulumi
import pytest

import infra.components
from infra.components.base import Platform
from tests.support.programs import REPO_ROOT

MODULE_LINES = 400
FUNCTION_LINES = 80
COMPONENT_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(infra.components.__path__, "infra.components.") if not m.ispkg
)


def components() -> list[type[pulumi.ComponentResource]]:
    found = {}
    for name in COMPONENT_MODULES:
        for _, value in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if issubclass(value, pulumi.ComponentResource) and value.__module__.startswith("infra."):
                found[value.__qualname__] = value
    return list(found.values())


def test_platform_carries_providers_and_facts_not_the_config():
    fields = {f.name: f.type for f in dataclasses.fields(Platform)}
    assert {"aws", "aws_dr", "k8s", "stack", "region", "dr_region"} <= set(fields)
    assert "config" not in fields and "StackConfig" not in " ".join(map(str, fields.values()))


@pytest.mark.parametrize("component", components(), ids=lambda c: c.__name__)
def test_each_component_takes_a_typed_args_dataclass_without_the_stack_config(component):
    annotation = inspect.signature(component.__init__).parameters["args"].annotation  # a name: lazy annotations
    args_type = vars(inspect.getmodule(component))[annotation]
    assert dataclasses.is_dataclass(args_type), f"{component.__name__}: its args are not a dataclass"
    fields = {f.name: str(f.type) for f in dataclasses.fields(args_type)}
    assert fields, f"{args_type.__name__} names nothing"
    assert not [name for name, kind in fields.items() if "StackConfig" in kind or name == "config"], (
        f"{args_type.__name__} carries the whole stack config")


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_no_component_module_reads_the_stack_config(module):
    source = inspect.getsource(importlib.import_module(module))
    assert "StackConfig" not in source and ".config." not in source.replace("infra.config.", "")


def python_files():
    return sorted(p for p in (REPO_ROOT / "infra").rglob("*.py"))


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MODULE_LINES, f"{path.name}: split it by role"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            reason = "on purpose" in (ast.get_docstring(node) or "")
            assert length <= FUNCTION_LINES or reason, f"{path.name}:{node.lineno} {node.name} has {length} lines"
