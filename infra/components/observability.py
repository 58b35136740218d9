"""The sources of the signals the alarms watch, so that none depends on the app publishing anything.

- Container Insights: the `amazon-cloudwatch-observability` EKS add-on (CloudWatch agent and Fluent Bit) with
  an IRSA role for its `amazon-cloudwatch/cloudwatch-agent` service account that carries the AWS managed policy
  CloudWatchAgentServerPolicy (CloudWatch User Guide, "Install the CloudWatch agent with the Amazon CloudWatch
  Observability EKS add-on or the Helm chart"). It publishes the `ContainerInsights` pod, node and service
  metrics. Compute model: EC2 nodes of a managed node group (config `cluster.nodeInstanceType`); the agent runs
  as a DaemonSet there. Fargate pods would get no node metrics and no agent DaemonSet.
- Request rate, 5xx and latency: an Ingress served by the AWS Load Balancer Controller (Helm chart
  `eks/aws-load-balancer-controller`, IRSA role for its service account), which creates an
  Application Load Balancer that publishes `AWS/ApplicationELB` metrics. The ALB gets a fixed name (annotation
  `alb.ingress.kubernetes.io/load-balancer-name`, at most 32 characters) and is looked up by it once the Ingress
  is ready, for the `LoadBalancer` dimension (`app/<name>/<id>`) the alarms need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.base import Platform
from infra.components.security import irsa_role, irsa_trust

CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CLOUDWATCH_AGENT_NAMESPACE = "amazon-cloudwatch"
CLOUDWATCH_AGENT_ACCOUNT = "cloudwatch-agent"
LB_CONTROLLER_NAMESPACE = "aws-load-balancer-controller"  # its own, not kube-system (policy k8s-not-default-namespace)
LB_CONTROLLER_ACCOUNT = "aws-load-balancer-controller"
LB_CONTROLLER_CHART_REPOSITORY = "https://aws.github.io/eks-charts"
LB_CONTROLLER_CHART_VERSION = "1.13.0"  # controller v2.13.0; chart v1.5.0+ supports Kubernetes 1.22+ (chart README)
ALB_NAME_LIMIT = 32  # Load Balancer Controller docs, ingress annotation load-balancer-name


@dataclass(frozen=True)
class ObservabilityArgs:
    platform: Platform
    cluster_name: str  # config cluster.name: where the Container Insights add-on goes
    readiness_path: str  # config app.readinessPath: the ALB's target health check
    namespace: k8s.core.v1.Namespace  # the app's: the Ingress lives there
    namespace_name: str  # its name (config namespace)
    service: k8s.core.v1.Service  # the Ingress's backend
    service_name: str
    service_port: int
    labels: dict[str, str]


def load_balancer_name(prefix: str) -> str:
    return prefix[:ALB_NAME_LIMIT].rstrip("-")


def lb_controller_statements(platform: Platform) -> list[dict[str, Any]]:
    """The controller's permissions (its docs' install/iam_policy.json), with every write scoped to the ALB,
    listener, rule, target group and security-group ARNs of this account and region; WAF and Shield are off.

    Long on purpose: it follows the published policy statement by statement, so the two can be compared."""

    def arns(service: str, *resources: str) -> list[pulumi.Output[str]]:
        region = "" if service == "iam" else platform.region
        return [
            pulumi.Output.all(platform.partition, platform.account_id).apply(
                lambda facts, resource=resource: f"arn:{facts[0]}:{service}:{region}:{facts[1]}:{resource}"
            )
            for resource in resources
        ]

    load_balancers = arns("elasticloadbalancing", "loadbalancer/app/*", "targetgroup/*/*")
    listeners = arns("elasticloadbalancing", "listener/app/*", "listener-rule/app/*")
    owned = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    return [
        {
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools", "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
                "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates",
                "iam:GetServerCertificate", "cognito-idp:DescribeUserPoolClient",
                "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource", "shield:GetSubscriptionState", "shield:DescribeProtection",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": arns("iam", "role/aws-service-role/elasticloadbalancing.amazonaws.com/*"),
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateSecurityGroup"],
            "Resource": arns("ec2", "security-group/*", "vpc/*"),
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": arns("ec2", "security-group/*"),
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
                "ec2:CreateTags", "ec2:DeleteTags",
            ],
            "Resource": arns("ec2", "security-group/*"),
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            "Resource": load_balancers,
            "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyListenerAttributes",
            ],
            "Resource": [*load_balancers, *listeners],
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [*load_balancers, *listeners],
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
            ],
            "Resource": load_balancers,
            "Condition": owned,
        },
    ]


class Observability(pulumi.ComponentResource):
    """Container Insights (EKS add-on), the AWS Load Balancer Controller and the app's Ingress."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:observability:Observability", name, None, opts)
        platform = args.platform
        self.container_insights = self._container_insights(name, args)
        self.controller = self._lb_controller(name, args)
        self.load_balancer_name = load_balancer_name(platform.prefix)
        self.ingress = self._ingress(name, args)
        # The Ingress is ready once the controller has given it the ALB's address, so the ALB exists by then.
        found = find_load_balancer(
            self.load_balancer_name, pulumi.InvokeOutputOptions(provider=platform.aws, depends_on=[self.ingress])
        )
        self.load_balancer = found.apply(lambda outputs: outputs["arnSuffix"])
        self.load_balancer_dns_name = found.apply(lambda outputs: outputs["dnsName"])  # a Route 53 alias points here
        self.load_balancer_zone_id = found.apply(lambda outputs: outputs["zoneId"])  # the alias's HostedZoneId
        self.register_outputs(
            {"loadBalancer": self.load_balancer, "containerInsightsAddon": self.container_insights.addon_name}
        )

    def _container_insights(self, name: str, args: ObservabilityArgs) -> aws.eks.Addon:
        """The CloudWatch agent's IRSA role with the managed policy, and the add-on that runs the agent."""
        platform = args.platform
        on_aws = pulumi.ResourceOptions(parent=self, provider=platform.aws)
        self.agent_role = aws.iam.Role(
            f"{name}-cloudwatch-agent-role",
            description=f"IRSA role of {CLOUDWATCH_AGENT_NAMESPACE}/{CLOUDWATCH_AGENT_ACCOUNT} (Container Insights)",
            assume_role_policy=irsa_trust(
                platform, f"system:serviceaccount:{CLOUDWATCH_AGENT_NAMESPACE}:{CLOUDWATCH_AGENT_ACCOUNT}"
            ),
            max_session_duration=3600,
            opts=on_aws,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-agent-policy",
            role=self.agent_role.name,
            policy_arn=platform.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/CloudWatchAgentServerPolicy"),
            opts=on_aws,
        )
        return aws.eks.Addon(
            f"{name}-container-insights",
            cluster_name=args.cluster_name,
            addon_name=CONTAINER_INSIGHTS_ADDON,
            service_account_role_arn=self.agent_role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            opts=on_aws,
        )

    def _lb_controller(self, name: str, args: ObservabilityArgs) -> k8s.helm.v3.Release:
        """The AWS Load Balancer Controller's IRSA role and its Helm release, in the cluster's VPC."""
        platform = args.platform
        self.controller_role = irsa_role(
            self, f"{name}-lb-controller", platform, LB_CONTROLLER_ACCOUNT, lb_controller_statements(platform),
            namespace=LB_CONTROLLER_NAMESPACE,
        )
        return k8s.helm.v3.Release(
            f"{name}-lb-controller",
            name="aws-load-balancer-controller",
            chart="aws-load-balancer-controller",
            version=LB_CONTROLLER_CHART_VERSION,
            repository_opts={"repo": LB_CONTROLLER_CHART_REPOSITORY},
            namespace=LB_CONTROLLER_NAMESPACE,
            create_namespace=True,
            atomic=True,
            cleanup_on_fail=True,
            values={
                "clusterName": args.cluster_name,
                "region": platform.region,
                "vpcId": platform.vpc_id,
                "serviceAccount": {
                    "create": True,
                    "name": LB_CONTROLLER_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": self.controller_role.arn},
                },
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
            },
            opts=pulumi.ResourceOptions(parent=self, provider=platform.k8s),
        )

    def _ingress(self, name: str, args: ObservabilityArgs) -> k8s.networking.v1.Ingress:
        """The app's Ingress: the controller serves it with an internal ALB of a fixed name."""
        return k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={
                "name": args.service_name,
                "namespace": args.namespace_name,
                "labels": args.labels,
                "annotations": {
                    "alb.ingress.kubernetes.io/load-balancer-name": self.load_balancer_name,
                    "alb.ingress.kubernetes.io/scheme": "internal",
                    "alb.ingress.kubernetes.io/target-type": "ip",
                    "alb.ingress.kubernetes.io/healthcheck-path": args.readiness_path,
                    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}]',
                },
            },
            spec={
                "ingressClassName": "alb",
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {
                                            "name": args.service_name,
                                            "port": {"number": args.service_port},
                                        }
                                    },
                                }
                            ]
                        }
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.platform.k8s, depends_on=[args.namespace, args.service, self.controller]
            ),
        )


def find_load_balancer(name: str, opts: pulumi.InvokeOutputOptions) -> pulumi.Output[dict[str, Any]]:
    """A load balancer's attributes (`arnSuffix`, `dnsName`, `zoneId`...), by the invoke
    `aws.lb.get_load_balancer_output` makes.

    Made here with the same token, arguments and default options because `aws.lb` imports the whole ELB package of
    pulumi-aws (0.25 s, a sixth of `scraper-ops plan`) for this one lookup; the result is the invoke's raw outputs.
    """
    from pulumi_aws import _utilities

    found = pulumi.runtime.invoke_output(
        "aws:lb/getLoadBalancer:getLoadBalancer",
        {"arn": None, "name": name, "region": None, "tags": None},
        opts=pulumi.InvokeOutputOptions.merge(_utilities.get_invoke_opts_defaults(), opts),
    )
    return found
