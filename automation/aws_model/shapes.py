"""Validation of an API request against botocore's service model of the operation.

botocore's own `ParamValidator` (botocore/validate.py) checks required members,
unknown members, Python types and the `min` trait only; it ignores `max`,
`enum` and `pattern`. AWS checks all of them server-side, so this walker
checks every trait of the Smithy model the JSON files carry.

`pattern` must match the whole value. The Smithy pattern trait says patterns
are not implicitly anchored (https://smithy.io/2.0/spec/constraint-traits.html#pattern-trait),
but the services enforce the older unanchored patterns of these models on the
whole value: IAM refuses the role name "bad name!" although `[\\w+=,.@-]+`
finds a match inside it. The `regex` module reads the `\\p{...}` classes the
models use.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Any, Iterator

import regex
from botocore.model import Shape

from automation.aws_model.findings import SHAPE_DOC, ApiRequest, Finding
from automation.aws_model.models import request_model


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "structure": (dict,),
    "list": (list, tuple),
    "map": (dict,),
    "blob": (str, bytes, bytearray),
    "timestamp": (str, datetime.datetime),
}


def validate_request(request: ApiRequest) -> list[Finding]:
    """Every way `request.params` breaks the operation's input shape."""
    model = request_model(request.service, request.operation)
    doc = SHAPE_DOC.format(
        service=request.service, api_version=model.service_model.api_version, operation=request.operation
    )
    return [
        request.finding(rule, path, message, doc)
        for rule, path, message in _check(request.params, model.input_shape, "", request.unknown)
    ]


def _check(value: Any, shape: Shape, path: str, unknown: set[str]) -> Iterator[tuple[str, str, str]]:
    where = path or "(request)"
    allowed = _TYPES[shape.type_name]
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        yield "aws-shape-type", where, f"is {type(value).__name__} {value!r}; the model wants {shape.type_name}"
        return
    traits = shape.metadata
    if shape.type_name == "structure":
        yield from _check_structure(value, shape, path, unknown)
    elif shape.type_name == "list":
        yield from _check_size(len(value), traits, where, "items", "aws-shape-length")
        for index, item in enumerate(value):
            yield from _check(item, shape.member, f"{path}[{index}]", unknown)
    elif shape.type_name == "map":
        yield from _check_size(len(value), traits, where, "entries", "aws-shape-length")
        for key, item in value.items():
            yield from _check(key, shape.key, f"{path}(key {key})", unknown)
            yield from _check(item, shape.value, f"{path}.{key}", unknown)
    elif shape.type_name == "string":
        yield from _check_size(len(value), traits, where, "characters", "aws-shape-length")
        if shape.enum and value not in shape.enum:
            yield "aws-shape-enum", where, f"'{value}' is not one of {', '.join(shape.enum)}"
        pattern = traits.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            yield "aws-shape-pattern", where, f"'{_clip(value)}' does not match the pattern {pattern}"
    elif shape.type_name in ("integer", "long", "float", "double"):
        yield from _check_size(value, traits, where, "", "aws-shape-range")


def _check_structure(value: dict, shape: Shape, path: str, unknown: set[str]) -> Iterator[tuple[str, str, str]]:
    prefix = f"{path}." if path else ""
    for required in shape.required_members:
        if required not in value and f"{prefix}{required}" not in unknown:
            yield "aws-shape-required", f"{prefix}{required}", "is required by the model and missing"
    if shape.is_tagged_union and len(value) != 1:
        yield "aws-shape-union", path or "(request)", f"must set exactly one of {', '.join(shape.members)}"
    for name, item in value.items():
        if name not in shape.members:
            yield "aws-shape-unknown-member", f"{prefix}{name}", "is not a member of " + shape.name
        else:
            yield from _check(item, shape.members[name], f"{prefix}{name}", unknown)


def _check_size(size: float, traits: dict, where: str, unit: str, rule: str) -> Iterator[tuple[str, str, str]]:
    low, high = traits.get("min"), traits.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        measured = f"has {size} {unit}" if unit else f"is {size}"
        yield rule, where, f"{measured}; the model allows {bounds}"


def _clip(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."
