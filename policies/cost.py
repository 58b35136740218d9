"""Cost rules (advisory): the cost-allocation tags on every AWS resource that takes tags.

A resource carries the tags it is given plus its provider's `default_tags` (resource tags win on the same key):
pulumi-aws merges the provider's default tags into the resource's `tags` in Check (pulumi/pulumi-aws#2655), so
the tags AWS gets are the union, whichever of the two the program sets them through.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import TAGGABLE, UNTAGGED, field, mapping, provider_default_tags
from .thresholds import schema


def takes_tags(type_token: str) -> bool:
    """Whether the pulumi-aws resource of this type has a `tags` argument: the tables in common.py, else the SDK."""
    if type_token in TAGGABLE:
        return True
    if type_token in UNTAGGED:
        return False
    return sdk_takes_tags(type_token)


@lru_cache(maxsize=None)
def sdk_takes_tags(type_token: str) -> bool:
    """Read from the pulumi-aws resource class itself; imports the type's whole SDK module (pulumi_aws.ec2...)."""
    if not type_token.startswith("aws:") or "/" not in type_token:
        return False
    import pulumi_aws

    module_name, class_name = type_token.split(":")[1].split("/")[0], type_token.rsplit(":", 1)[1]
    try:
        module = importlib.import_module(f"{pulumi_aws.__name__}.{module_name}")
        return "tags" in inspect.signature(getattr(module, class_name)._internal_init).parameters
    except (ImportError, AttributeError):
        return False


def cost_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not takes_tags(args.resource_type):
        return
    # unknown tags: checked at update
    tags = {**provider_default_tags(args.provider), **mapping(field(args.props, "tags"))}
    missing = [t for t in args.get_config()["requiredTags"] if not field(tags, t)]
    if missing:
        report_violation(
            f"{args.resource_type.rsplit(':', 1)[-1]} {args.name} lacks the cost-allocation tags {missing}; "
            "pass the stack's cost tags, or declare it with a provider whose default_tags carry them."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="cost-allocation-tags", description="AWS resources carry the cost-allocation tags.",
        validate=cost_tags, enforcement_level=EnforcementLevel.ADVISORY, config_schema=schema("requiredTags"),
    ),
]
