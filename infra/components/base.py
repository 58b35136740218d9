"""What every component receives: the providers and the account facts (infra/providers.py builds them).

Components get the config values they use through their own `*Args`, never the whole stack config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Platform:
    """The providers every component declares through, and the facts of the account and cluster they run in."""

    stack: str
    region: str  # the primary provider's region
    dr_region: str  # the DR provider's region
    aws: aws.Provider  # in `region`; tags every resource with the cost tags (default_tags)
    aws_dr: aws.Provider  # in `dr_region`; the same default tags
    k8s: k8s.Provider  # the existing cluster
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]  # the cluster's OIDC issuer, without https://
    oidc_provider_arn: pulumi.Output[str]  # the account's IAM OIDC provider for that issuer (looked up, not owned)
    vpc_id: pulumi.Output[str]  # the cluster's VPC

    @property
    def prefix(self) -> str:
        """Prefix of the physical names this stack chooses itself (alarms, identifiers)."""
        return f"scraper-{self.stack}"


def service_trust(service: str) -> str:
    """An assume-role policy that lets one AWS service assume the role."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })

