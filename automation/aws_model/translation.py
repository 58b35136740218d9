"""The translation machinery: a planned resource's camelCase inputs -> the API request(s) the provider sends.

A mapping says, for every input key, either which API member it becomes
(`To`) or why the provider sends it nowhere (`ProviderOnly`). Nested objects
and lists of objects are mapped key by key the same way, so an input key
anywhere in the tree that has no mapping is reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

from automation.aws_model.findings import ApiRequest, Finding
from automation.engine import PlannedResource

UNMAPPED_DOC = ("automation/aws_model/mappings/ (a module per service): every input key is mapped to an API member or "
                "declared provider-only")


@dataclass(frozen=True)
class To:
    """The input becomes the member at `member` (dotted path; `[]` appends to a list) of operation `op`.

    `inner` maps the keys of a nested object (or of each object of a list);
    `single` wraps one object into the one-element list the API wants;
    `convert` turns a plain value into the API's form.
    """

    member: str
    op: str | None = None
    inner: "Fields | None" = None
    single: bool = False
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class ProviderOnly:
    reason: str


Fields = Mapping[str, Union[To, ProviderOnly]]
Source = Callable[[PlannedResource], Any]


def output(key: str) -> Source:
    """A value the engine answers with (physical names the provider generates), unknown in a preview."""
    return lambda resource: resource.inputs.get(key) if resource.inputs.get(key) is not None else resource.outputs.get(key)


@dataclass(frozen=True)
class ResourceMapping:
    """How the provider turns one resource type into requests.

    `identity` gives, per operation, members the provider fills from elsewhere
    (generated names, the id of the created object); `finish` adjusts the
    requests where the provider's behaviour is more than a key-to-member copy.
    """

    service: str
    operation: str
    fields: Fields
    identity: Mapping[str, Mapping[str, Source]] = field(default_factory=dict)
    finish: Callable[[PlannedResource, dict[str, ApiRequest]], None] | None = None


@dataclass
class Translation:
    requests: list[ApiRequest]
    unmapped: list[Finding]


def translate(resource: PlannedResource, mapping: ResourceMapping) -> Translation:
    requests: dict[str, ApiRequest] = {}
    unmapped: list[Finding] = []

    def request(op: str) -> ApiRequest:
        if op not in requests:
            requests[op] = ApiRequest(
                resource.urn, resource.name, resource.type, resource.region, mapping.service, op
            )
        return requests[op]

    def place(fields: Fields, values: Mapping[str, Any], op: str, target: dict[str, Any], base: str, where: str) -> None:
        for key, value in values.items():
            spec = fields.get(key)
            if spec is None:
                unmapped.append(
                    Finding(
                        "unmapped", "aws-unmapped-input", resource.urn, resource.name, op, f"{where}{key}",
                        f"input {where}{key} of {resource.type} has no API mapping", UNMAPPED_DOC,
                    )
                )
                continue
            if isinstance(spec, ProviderOnly):
                continue
            member_op = spec.op or op
            if spec.op and spec.op != op:
                container, member_base = request(member_op).params, ""
            else:
                container, member_base = target, base
            path = f"{member_base}{spec.member}"
            if value is None:
                request(member_op).unknown.add(path.replace("[]", ""))
                continue
            converted = _convert(spec, value, member_op, path, f"{where}{key}", place)
            _set(container, spec.member, converted)

    place(mapping.fields, resource.inputs, mapping.operation, request(mapping.operation).params, "", "")
    for op, members in mapping.identity.items():
        if op in requests:
            for member, source in members.items():
                value = source(resource)
                if value is None:
                    requests[op].unknown.add(member)
                else:
                    _set(requests[op].params, member, value, replace=False)
    if mapping.finish:
        mapping.finish(resource, requests)
    return Translation(list(requests.values()), unmapped)


def _convert(spec: To, value: Any, op: str, path: str, input_path: str, place) -> Any:
    """The API form of one input value; nested objects go through `place` with their own fields."""
    if spec.inner is None:
        return spec.convert(value) if spec.convert else value

    def nested(item: Any, item_path: str, item_input: str) -> Any:
        if not isinstance(item, Mapping):
            return item  # the shape check reports the wrong type
        built: dict[str, Any] = {}
        place(spec.inner, item, op, built, f"{item_path}.", f"{item_input}.")
        return built

    if isinstance(value, list):
        return [nested(item, f"{path}[{i}]", f"{input_path}[{i}]") for i, item in enumerate(value)]
    if spec.single:
        return [nested(value, f"{path}[0]", input_path)]
    return nested(value, path, input_path)


def _set(container: dict[str, Any], dotted: str, value: Any, replace: bool = True) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        container = container.setdefault(part, {})
    if last.endswith("[]"):
        container.setdefault(last[:-2], []).append(value)
    elif replace or last not in container:
        container[last] = value
