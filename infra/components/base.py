"""What every component receives: the validated config, the providers and the account facts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.config import StackConfig


@dataclass(frozen=True)
class Platform:
    config: StackConfig
    stack: str
    aws: aws.Provider
    aws_dr: aws.Provider
    k8s: k8s.Provider
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]  # the cluster's OIDC issuer, without https://
    oidc_provider_arn: pulumi.Output[str]  # the account's IAM OIDC provider for that issuer (looked up, not owned)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.config.cost.tags)

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

