"""KMS rules."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import KMS_KEY, field, is_true, only


def key_rotation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_true(field(args.props, "enableKeyRotation")):
        report_violation(f"KMS key {args.name} does not rotate; set enable_key_rotation=True.")


POLICIES = [
    ResourceValidationPolicy(
        name="kms-key-rotation", description="Customer KMS keys rotate yearly.",
        validate=only([KMS_KEY], key_rotation), enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
