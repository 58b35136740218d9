"""The SDK's mock monitor, recording every registration as the engine would receive it."""

from __future__ import annotations

import threading
from typing import Any, Mapping

from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from automation.engine.mocks import AWS_PROVIDER_TYPE, OfflineMocks
from automation.engine.model import PlannedResource


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what a policy needs and Mocks never sees: parent, protect, dependencies,
    ignored changes."""

    def __init__(self, mocks: OfflineMocks):
        super().__init__(mocks)
        self.recorded: dict[str, PlannedResource] = {}
        self._record_lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        mocks: OfflineMocks = self.mocks  # type: ignore[assignment]
        if request.type == AWS_PROVIDER_TYPE:
            with mocks._lock:
                mocks.provider_regions[response.urn] = inputs.get("region", mocks.default_region)
        is_aws = request.type.startswith("aws:") or request.type == AWS_PROVIDER_TYPE
        region = (
            inputs.get("region", mocks.default_region)
            if request.type == AWS_PROVIDER_TYPE
            else (mocks.region_of(request.provider) if is_aws else None)
        )
        resource = PlannedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            region=region,
            inputs=plain(inputs),
            custom=bool(request.custom),
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            protect=bool(request.protect),
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
            ignore_changes=list(request.ignoreChanges),
            outputs=plain(self.resources[response.urn].state),
        )
        with self._record_lock:
            self.recorded[response.urn] = resource
        return response


SECRET_PLACEHOLDER = "[secret]"


def plain(value: Any) -> Any:
    """JSON-ready copy of deserialized properties: secrets masked; unknowns (a preview's) as the engine's wire
    sentinel, which is what a policy pack receives (pulumi_policy.proxy.UNKNOWN_STRING_VALUE).

    A plan is printed and saved, so a secret's value never enters it, not even the offline engine's fake one.
    """
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, Mapping):
        if rpc._special_sig_key in value and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles; integral values read better and validate as integers
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
