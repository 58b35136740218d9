"""What the offline engine records: a resource as the engine receives it, and the plan of a whole program."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infra.config import StackConfig


class PlannedResource(BaseModel):
    """One registration as the engine receives it; also the schema of a resource in `plan --json`."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    urn: str
    type: str
    name: str
    parent: str | None
    region: str | None
    inputs: dict[str, Any]
    custom: bool = True
    provider: str | None = None
    protect: bool = False
    dependencies: list[str] = []
    property_dependencies: dict[str, list[str]] = Field(default_factory=dict, alias="propertyDependencies")
    ignore_changes: list[str] = Field(default_factory=list, alias="ignoreChanges")  # as the SDK sends them
    outputs: dict[str, Any] = {}  # the physical state the engine answered with


class Plan(BaseModel):
    """What a program declared: the document `plan --json` prints and `policy check --plan` reads."""

    model_config = ConfigDict(extra="ignore")

    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    config: StackConfig | None = Field(default=None, exclude=True)  # only when the plan was made here

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)
