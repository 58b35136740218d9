"""kubernetes-validate's strict schemas, each file read and each validator built once per process.

`kubernetes_validate.validate` reads the 1.3 MB `_definitions.json` and builds a new reference registry for every
manifest it checks (kubernetes_validate/utils.py, `validate`): a quarter of a second for the prod manifests. Here
the version's definitions are read once, and one validator per kind keeps the references it has resolved. The
schema chosen, strict mode and the errors raised are `kubernetes_validate.validate(manifest, version, strict=True)`'s.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jsonschema
from kubernetes_validate import utils
from referencing import Registry, Resource

# kubernetes-validate checks types but no `format`: these two are the integer formats the API server enforces.
INTEGER_FORMATS = jsonschema.FormatChecker(formats=())


@INTEGER_FORMATS.checks("int32")
def _int32(value: Any) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@INTEGER_FORMATS.checks("int64")
def _int64(value: Any) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@lru_cache(maxsize=None)
def schema_version(kubernetes_version: str) -> str:
    """The newest release with schemas not newer than the cluster, chosen as kubernetes-validate chooses it."""
    desired = kubernetes_version.removeprefix("v")
    if utils.major_minor(desired) > utils.latest_version():
        raise utils.VersionNotSupportedError(version=utils.major_minor(desired))
    return [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(desired)][-1]


def schema_directory(kubernetes_version: str) -> str:
    return f"kubernetes-json-schema/v{schema_version(kubernetes_version)}-local-strict"


@lru_cache(maxsize=None)
def _definitions(kubernetes_version: str) -> Resource:
    directory = schema_directory(kubernetes_version)
    return Resource.from_contents(utils.schema_contents(f"{directory}/_definitions.json", kubernetes_version))


@lru_cache(maxsize=None)
def validator(api_version: str, kind: str, kubernetes_version: str) -> jsonschema.Validator:
    """The strict validator of one kind, which checks the integer formats too."""
    directory = schema_directory(kubernetes_version)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{directory}/{kind.lower()}-{api}.json", kubernetes_version)
    except FileNotFoundError:
        raise utils.SchemaNotFoundError(version=utils.major_minor(kubernetes_version), kind=kind,
                                        api_version=api_version) from None
    registry = _definitions(kubernetes_version) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=INTEGER_FORMATS)


def validate(manifest: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Raise kubernetes_validate's ValidationError (the first error) or SchemaNotFoundError, as it would; else
    return the integer-format errors: 2**31 in an int32 field (replicas, ports, HPA policy values) passes
    kubernetes-validate while the API server refuses it.

    One pass of the strict schema with the integer formats checked: its errors are kubernetes-validate's in the
    same order (a format checker only adds `format` errors), so the first other error is the one it raises."""
    checker = validator(manifest["apiVersion"], manifest["kind"], kubernetes_version)
    errors = list(checker.iter_errors(manifest))
    for error in errors:
        if error.validator != "format":
            raise utils.ValidationError(error, version=utils.major_minor(schema_version(kubernetes_version)))
    return [f"{'.'.join(str(p) for p in error.path)}: {error.instance} is out of range for {error.validator_value}"
            for error in errors]
