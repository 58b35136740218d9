"""The stack's providers, in one place: AWS in the primary and the DR region, Kubernetes on the existing cluster.

Default providers are disabled in every stack file (`pulumi:disable-default-providers: ["*"]`), so a resource
or invoke that forgets its provider fails instead of landing in the ambient region.

The cost-allocation tags are the AWS providers' `default_tags`, not an argument of each resource: pulumi-aws
(since v6) merges the provider's default tags into each taggable resource's `tags` in Check, so state, diffs and
policies see the same tags a per-resource argument gave (pulumi/pulumi-aws#2655 "Compute `tags` in Check", which
fixed #1655 "defaultTags don't trigger updates"). Pitfalls relied on being absent here:
- default tags must be known values when the provider is configured (hashicorp/terraform-provider-aws#18311);
  the cost tags are plain config strings;
- removing *all* default tags from a provider can leave a perpetual diff on some resources
  (pulumi/pulumi-aws#2633, #2666): the config model requires the cost tags, so the set is never empty;
- default tags reach a resource's own `tags` (every type but Auto Scaling Groups; resource tags win on the same
  key: HashiCorp blog, "Default Tags in the Terraform AWS Provider"), nothing it creates underneath (pulumi-aws
  docs, aws.getDefaultTags): the backup plan's `recovery_point_tags` are still set explicitly
  (infra/components/data/backups.py), and the ALB the Load Balancer Controller creates is tagged by neither.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.base import Platform

# How the provider reports a lookup that found nothing (terraform-provider-aws: tfresource.NotFound).
NOT_FOUND_SIGNS = ("couldn't find resource", "not found", "NoSuchEntity")


class OidcProviderMissing(pulumi.RunError):
    """The cluster's OIDC issuer is not an IAM OIDC provider of the account, so no IRSA role can be assumed."""


def aws_provider(name: str, region: str, cost_tags: Mapping[str, str]) -> aws.Provider:
    """An AWS provider for one region that tags every taggable resource it manages with the cost tags."""
    return aws.Provider(name, region=region, default_tags={"tags": dict(cost_tags)})


def kubeconfig(cluster: Any, region: str) -> str:
    """A kubeconfig for the existing cluster that authenticates through `aws eks get-token`."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster.name,
                    "cluster": {
                        "server": cluster.endpoint,
                        "certificate-authority-data": cluster.certificate_authorities[0].data,
                    },
                }
            ],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": cluster.name}}],
            "current-context": cluster.name,
            "users": [
                {
                    "name": cluster.name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster.name, "--region", region],
                        }
                    },
                }
            ],
        }
    )


def registered_oidc_provider(issuer_url: str, cluster_name: str, provider: aws.Provider) -> str:
    """The ARN of the account's IAM OIDC provider for the cluster's issuer; a clear error naming the fix if absent.

    IRSA roles trust that provider (EKS User Guide, "Create an IAM OIDC provider for your cluster"); the stack
    does not own it because it belongs to the cluster, which the stack does not build.
    """
    try:
        found = aws.iam.get_open_id_connect_provider(url=issuer_url, opts=pulumi.InvokeOptions(provider=provider))
    except Exception as error:
        if not any(sign in str(error) for sign in NOT_FOUND_SIGNS):
            raise  # access denied, throttling...: not a missing provider, and not to be reported as one
        raise OidcProviderMissing(
            f"cluster {cluster_name}: its OIDC issuer {issuer_url} is not registered as an IAM OIDC provider in this "
            f"account, so no pod can assume an IRSA role. Register it once (`eksctl utils associate-iam-oidc-provider "
            f"--cluster {cluster_name} --approve`, or an aws.iam.OpenIdConnectProvider in the cluster's stack) and "
            f"run again. ({error})"
        ) from None
    return found.arn


def create_platform(
    stack: str, region: str, dr_region: str, cluster_name: str, cost_tags: Mapping[str, str]
) -> Platform:
    """The providers and the account facts every component builds on."""
    primary = aws_provider("aws-primary", region, cost_tags)
    dr = aws_provider("aws-dr", dr_region, cost_tags)
    on_primary = pulumi.InvokeOutputOptions(provider=primary)
    cluster = aws.eks.get_cluster_output(name=cluster_name, opts=on_primary)
    issuer = cluster.identities[0].oidcs[0].issuer
    kubernetes = k8s.Provider(
        "k8s-cluster",
        kubeconfig=cluster.apply(lambda c: kubeconfig(c, region)),
        enable_server_side_apply=True,
    )
    return Platform(
        stack=stack,
        region=region,
        dr_region=dr_region,
        aws=primary,
        aws_dr=dr,
        k8s=kubernetes,
        account_id=aws.get_caller_identity_output(opts=on_primary).account_id,
        partition=aws.get_partition_output(opts=on_primary).partition,
        oidc_issuer=issuer.apply(lambda url: url.removeprefix("https://")),
        oidc_provider_arn=issuer.apply(lambda url: registered_oidc_provider(url, cluster_name, primary)),
        vpc_id=cluster.vpc_config.vpc_id,
    )
