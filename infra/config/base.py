"""The config model's base: the frozen camelCase model, the errors it raises, and the checks the groups share."""

from __future__ import annotations

import re
import typing
from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

PROJECT = "social-media-scraper"
REGION_KEY = "aws:region"


class ConfigError(ValueError):
    """Stack config that cannot be used; `problems` holds one line per bad value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# Kubernetes integer fields of the objects these values reach are int32 (HorizontalPodAutoscalerSpec minReplicas,
# maxReplicas; HPAScalingPolicy value; KEDA ScaledObject minReplicaCount, maxReplicaCount): the API server refuses more
# (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/).
INT32_MAX = 2**31 - 1
# Stacks that must page someone: the value of their `Environment` cost tag (the policy pack reads the same tag).
PRODUCTION_ENVIRONMENTS = ("prod", "production")


def group_model(annotation: Any) -> type[BaseModel] | None:
    """The config group a field holds (its model), also through `X | None`; None for a plain value."""
    return next((t for t in (annotation, *typing.get_args(annotation))
                 if isinstance(t, type) and issubclass(t, BaseModel)), None)


class _Model(BaseModel):
    # No inf or NaN: no AWS or Kubernetes field takes them, and every comparison with NaN is false.
    # Each field's docstring is its description: infra/config_docs.py prints the README's config table from them
    # (read from the source there, not at import: pydantic's use_attribute_docstrings costs every command ~30 ms).
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True, populate_by_name=False,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML `true` is not 1: pydantic's lax mode would take a boolean for a number."""
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation in (int, float):
            raise ValueError("must be a number, not a boolean")
        return value


# The commercial partition's regions with EC2 and RDS endpoints, as botocore 1.44's bundled endpoint data lists
# them (`Session.get_available_regions`). A constant: loading that data costs every command 0.15 s at start-up.
# tests/infra/test_regions.py checks it against the installed botocore's endpoint and partition data.
AWS_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
})


def aws_regions() -> frozenset[str]:
    """Region names of the commercial partition (no network)."""
    return AWS_REGIONS


def _check_region(value: str) -> str:
    if value not in aws_regions():
        raise ValueError(f"not an AWS region; expected one of {', '.join(sorted(aws_regions()))}")
    return value


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has none); a registry port is not a tag."""
    name = image.split("@", 1)[0]
    last_segment = name.rsplit("/", 1)[-1]
    return last_segment.split(":", 1)[1] if ":" in last_segment else None


def check_pinned_image(value: str) -> str:
    """An image pinned by content: `registry/repo:1.2.3@sha256:<64 hex>`.

    A tag alone can be moved to other content; only the digest pins what runs (the checkov checks
    CKV_K8S_43 and the policy `k8s-pinned-images` ask for it too). The tag stays for the humans reading it.
    """
    name, _, digest = value.partition("@")
    if not name or any(c.isspace() for c in value):
        raise ValueError("must be an image reference like registry/repo:1.2.3@sha256:<64 hex characters>")
    if not digest:
        raise ValueError("image is not pinned by digest; use registry/repo:1.2.3@sha256:<64 hex characters>")
    if not _DIGEST.match(digest):
        raise ValueError("digest must be sha256:<64 lowercase hex characters>")
    tag = image_tag(value)
    if tag is not None and (tag == "latest" or not _TAG.match(tag)):
        raise ValueError("tag 'latest' or a malformed tag is not allowed; pin a release tag and a sha256 digest")
    return value


def _check_k8s_cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value) or re.search(r"[#LW]", value):
        raise ValueError("must be a standard 5-field cron expression (minute hour day month weekday), UTC")
    return value


# The KEDA Helm chart release installed for each Kubernetes minor version: the newest KEDA release whose tested
# window includes it (KEDA docs, "Operate > Cluster > Kubernetes Compatibility": v2.20 tests 1.33-1.35, v2.19
# 1.32-1.34, v2.18 1.31-1.33, v2.17 1.30-1.32, v2.16 1.29-1.31, v2.15 1.28-1.30, v2.14 1.27-1.29). Chart versions are
# kedacore/charts releases. Kubernetes 1.26 and older would need KEDA 2.12 or older, which lacks the `aws` pod
# identity provider the TriggerAuthentication uses (added in 2.13), so they are refused.
