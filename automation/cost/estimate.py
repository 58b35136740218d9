"""`scraper-ops cost estimate`: the planned resources priced.

The estimate prices what a plan declares with the dated price table (automation/prices.py: a refresh
from the AWS Price List Query API cached in the project, else the snapshot shipped in
`automation/data/prices.json`): fixed monthly costs (database instances and storage; the pods of the app at
the HPA minimum, of KEDA and of the metrics-server add-on, each as its requested share of the managed node
group's EC2 nodes, the stack's one compute model; keys, alarms, dashboards, secrets and their replicas).
Every other resource is listed with why it is not priced: free, usage-based (requests, transfer, S3
objects, backups), or a fixed cost the table cannot price, which makes the estimate incomplete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from automation import prices as price_list
from automation.cost.figures import pod_hourly
from automation.engine import Plan
from automation.plan import scaling_of
from infra.components.workloads import INSTANCE_TYPE_LABEL
from infra.quantities import parse_cpu, parse_memory

GIB = 1024**3


def _component_of(resource: Any, by_urn: dict[str, Any]) -> str:
    parent = by_urn.get(resource.parent or "")
    while parent is not None and parent.custom:
        parent = by_urn.get(parent.parent or "")
    return parent.name if parent is not None else "(stack)"


def _hpa_minimum(plan: Plan, deployment_name: str) -> int:
    scaling = scaling_of(plan, deployment_name)
    return scaling.min_replicas if scaling else 1


class Unpriced(Exception):
    """A resource with a fixed monthly cost that the price table cannot price; the message says why."""


@dataclass(frozen=True)
class Pricing:
    monthly_usd: float | None
    basis: str  # how the price was reached, or why there is none
    kind: str  # "fixed" (priced), "free", "usage-based" or "unpriced" (a fixed cost without a price)


# Types with no charge of their own: what they configure is billed on another resource, if at all.
NO_CHARGE = frozenset({
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias", "aws:backup/plan:Plan", "aws:backup/selection:Selection",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sns/topicSubscription:TopicSubscription", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ServiceAccount",
    "kubernetes:keda.sh/v1alpha1:ScaledObject", "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:policy/v1:PodDisruptionBudget",
})
USAGE_BASED = {
    "aws:s3/bucket:Bucket": "storage and requests, billed by use",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "replicated storage and cross-region transfer, billed by use",
    "aws:sqs/queue:Queue": "requests, billed by use",
    "aws:sns/topic:Topic": "publishes and deliveries, billed by use",
    "aws:backup/vault:Vault": "recovery points, billed by GB-month stored",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
        "replicated backups, billed by GB-month stored and cross-region transfer",
    "kubernetes:batch/v1:CronJob": "its pods run on a schedule, billed per run",
    "kubernetes:batch/v1:Job": "its pod runs once, billed for the run",
    # Route 53 prices are global, outside the regional price table.
    "aws:route53/record:Record": "DNS queries, billed by use (queries to an alias of an ELB load balancer are free)",
}

# The KEDA chart's pods and their default requests (kedacore/charts keda/values.yaml: `resources.operator`,
# `resources.metricServer`, `resources.webhooks`, one replica each; KEDA docs "Cluster",
# https://keda.sh/docs/latest/operate/cluster/). Values set on the release override them.
KEDA_PODS = {  # resources key: (replicas key, cpu, memory)
    "operator": ("operator", "100m", "100Mi"),
    "metricServer": ("metricsServer", "100m", "100Mi"),
    "webhooks": ("webhooks", "10m", "10Mi"),
}


# The metrics-server EKS add-on: EKS publishes no default replicas or requests for it, so it is priced at the
# upstream chart's (kubernetes-sigs/metrics-server charts/metrics-server/values.yaml: `replicas: 1`,
# `resources.requests` 100m and 200Mi) unless its `configurationValues` set others.
METRICS_SERVER_POD = (1, "100m", "200Mi")


def _rate(regional: dict[str, Any], key: str, where: str) -> float:
    if key not in regional:
        raise Unpriced(f"no {key} price {where}")
    return regional[key]


def _node_type(plan: Plan) -> str:
    """The node group's instance type, as the app's pods are pinned to it (their nodeSelector)."""
    for resource in plan.resources:
        if resource.type == "kubernetes:apps/v1:Deployment":
            selector = ((resource.inputs.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
            if selector.get(INSTANCE_TYPE_LABEL):
                return selector[INSTANCE_TYPE_LABEL]
    raise Unpriced(f"no Deployment is pinned to a node type ({INSTANCE_TYPE_LABEL}): the pods' nodes are unknown")


def _pods_monthly(pods: list[tuple[int, float, float]], node: str, prices: dict[str, Any], region: str, hours: float,
                  where: str) -> float:
    """Monthly price of (replicas, requested vCPU, requested GiB) pods as their share of `node` EC2 nodes."""
    total = 0.0
    for replicas, cpu, memory in pods:
        hourly = pod_hourly(cpu, memory, node, prices, region)
        if hourly is None:
            raise Unpriced(f"no price or shape for the node type {node} {where}")
        total += hours * replicas * hourly
    return total


def _keda_pods(values: dict[str, Any]) -> list[tuple[int, float, float]]:
    requests_by_pod = values.get("resources") or {}
    pods = []
    for key, (replicas_key, cpu, memory) in KEDA_PODS.items():
        settings = values.get(replicas_key) or {}
        if settings.get("enabled") is False:
            continue
        requests = (requests_by_pod.get(key) or {}).get("requests") or {}
        pods.append((int(settings.get("replicaCount", 1)), parse_cpu(str(requests.get("cpu", cpu))),
                     parse_memory(str(requests.get("memory", memory))) / GIB))
    return pods


def _metrics_server_pods(configuration: Any) -> list[tuple[int, float, float]]:
    try:
        values = json.loads(configuration) if isinstance(configuration, str) and configuration else {}
    except json.JSONDecodeError:
        raise Unpriced("its configurationValues are not JSON") from None
    replicas, cpu, memory = METRICS_SERVER_POD
    requests = (values.get("resources") or {}).get("requests") or {}
    return [(int(values.get("replicas", replicas)), parse_cpu(str(requests.get("cpu", cpu))),
             parse_memory(str(requests.get("memory", memory))) / GIB)]


def price_resource(resource: Any, plan: Plan, prices: dict[str, Any], default_region: str) -> Pricing:
    """The monthly price of one resource, how it was reached, or why it has none."""
    type_token = resource.type
    inputs = resource.inputs
    if type_token in NO_CHARGE:
        return Pricing(None, "no charge of its own", "free")
    if type_token in USAGE_BASED:
        return Pricing(None, USAGE_BASED[type_token], "usage-based")
    if type_token == "aws:eks/addon:Addon" and inputs.get("addonName") == "amazon-cloudwatch-observability":
        return Pricing(None, "Container Insights is billed by the metrics and logs it sends, by use; its agent runs "
                             "as DaemonSets on the nodes (not estimated)", "usage-based")
    if type_token == "aws:dynamodb/table:Table" and inputs.get("billingMode") == "PAY_PER_REQUEST":
        return Pricing(None, "on-demand reads, writes and storage, billed by use", "usage-based")
    if type_token == "kubernetes:core/v1:Service" and (inputs.get("spec") or {}).get("type", "ClusterIP") != "LoadBalancer":
        return Pricing(None, "no charge of its own (no load balancer)", "free")
    region = resource.region or default_region
    where = f"for {region} in the {prices['origin']}; run `scraper-ops cost prices refresh`"
    try:
        regional = prices["regions"].get(region)
        if regional is None:
            raise Unpriced(f"no prices {where}")
        return Pricing(*_fixed_price(resource, plan, prices, region, where), "fixed")
    except Unpriced as missing:
        return Pricing(None, str(missing), "unpriced")


def _fixed_price(resource: Any, plan: Plan, prices: dict[str, Any], region: str, where: str) -> tuple[float, str]:
    type_token, inputs = resource.type, resource.inputs
    regional, hours = prices["regions"][region], prices["hoursPerMonth"]
    if type_token == "aws:rds/instance:Instance":
        instance_class = inputs.get("instanceClass")
        hourly = _rate(regional, "rdsInstanceHour", where).get(instance_class)
        if hourly is None:
            raise Unpriced(f"no price for {instance_class} {where}")
        copies = 2 if inputs.get("multiAz") else 1
        storage = inputs.get("allocatedStorage") or _source_storage(resource, plan)
        total = copies * (hourly * hours + storage * _rate(regional, "rdsGp3GbMonth", where))
        return total, f"{instance_class} x{copies} + {storage} GB gp3"
    if type_token == "aws:secretsmanager/secret:Secret":
        copies = 1 + len(inputs.get("replicas") or [])  # each replica is billed as a secret of its own
        return copies * _rate(regional, "secretMonth", where), f"1 secret + {copies - 1} replica(s)"
    if type_token == "aws:kms/key:Key":
        return _rate(regional, "kmsKeyMonth", where), "1 key"
    if type_token == "aws:cloudwatch/metricAlarm:MetricAlarm":
        metrics = [q for q in inputs.get("metricQueries") or [] if q.get("metric")] or [inputs]
        high_resolution = (inputs.get("period") or 60) < 60
        per_metric = _rate(regional, "alarmHighResolutionMetricMonth" if high_resolution else "alarmMetricMonth", where)
        return per_metric * len(metrics), f"{len(metrics)} metric(s)"
    if type_token == "aws:cloudwatch/dashboard:Dashboard":
        return _rate(regional, "dashboardMonth", where), "1 dashboard"
    if type_token == "kubernetes:apps/v1:Deployment":
        containers = inputs["spec"]["template"]["spec"]["containers"]
        cpu = sum(parse_cpu(c["resources"]["requests"]["cpu"]) for c in containers)
        memory = sum(parse_memory(c["resources"]["requests"]["memory"]) for c in containers) / GIB
        replicas = _hpa_minimum(plan, inputs["metadata"]["name"])
        node = _node_type(plan)
        return (_pods_monthly([(replicas, cpu, memory)], node, prices, region, hours, where),
                f"{replicas} pods x ({cpu:g} vCPU + {memory:g} GiB) requested, at the HPA minimum, as their share of "
                f"{node} nodes (managed node group)")
    if type_token == "kubernetes:helm.sh/v3:Release" and inputs.get("chart") == "keda":
        pods = _keda_pods(inputs.get("values") or {})
        return (_pods_monthly(pods, _node_type(plan), prices, region, hours, where),
                f"KEDA's pods are priced: {sum(p[0] for p in pods)} (operator, metrics API server, admission webhooks)"
                f" at the chart's requests, as their share of the node group's nodes")
    if type_token == "aws:eks/addon:Addon" and inputs.get("addonName") == "metrics-server":
        pods = _metrics_server_pods(inputs.get("configurationValues"))
        return (_pods_monthly(pods, _node_type(plan), prices, region, hours, where),
                f"the add-on's pods are priced: {pods[0][0]} metrics-server pod(s) at the upstream chart's requests "
                f"unless configured, as their share of the node group's nodes (EKS add-ons have no charge of their own)")
    if type_token == "kubernetes:helm.sh/v3:Release" and inputs.get("chart") == "aws-load-balancer-controller":
        return 0.0, ("the controller's pods set no requests in the chart's defaults, so they take no share of the "
                     "nodes; the load balancers it makes are priced with their Ingress")
    if type_token == "kubernetes:networking.k8s.io/v1:Ingress" and (inputs.get("spec") or {}).get("ingressClassName") == "alb":
        return (hours * _rate(regional, "albHour", where),
                "1 Application Load Balancer, by the hour (its load balancer capacity units are billed by use)")
    if type_token == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
        return _rate(regional, "compositeAlarmMonth", where), "1 composite alarm"
    if type_token == "aws:route53/healthCheck:HealthCheck" and inputs.get("type") == "CLOUDWATCH_METRIC":
        return (_rate(regional, "route53HealthCheckMonth", where),
                "1 health check of an AWS resource (a CloudWatch alarm: no optional features), Route 53's global "
                "price; the account's first 50 such checks are free, which the estimate does not count")
    if type_token == "kubernetes:helm.sh/v3:Release":
        raise Unpriced(f"the pods of Helm chart {inputs.get('chart')} are not known to the estimate")
    if type_token == "kubernetes:core/v1:Service":
        raise Unpriced("a LoadBalancer Service creates an AWS load balancer, billed by the hour: not in the price table")
    if type_token == "aws:dynamodb/table:Table":
        raise Unpriced("provisioned read and write capacity, billed by the hour: not in the price table")
    raise Unpriced(f"no pricing rule for {type_token}: its cost is unknown")


def _source_storage(replica: Any, plan: Plan) -> int:
    """A read replica has the storage of the instance it replicates."""
    sources = set(replica.property_dependencies.get("replicateSourceDb", []))
    return next((r.inputs.get("allocatedStorage") or 0 for r in plan.resources if r.urn in sources), 0)


def estimate(plan: Plan) -> dict[str, Any]:
    """Every custom resource of the plan priced, or listed as free, usage-based or unpriced with why.
    `complete` is false when a resource with a fixed cost could not be priced."""
    prices = price_list.load()
    region = plan.outputs.get("region")  # the cluster's: Kubernetes resources carry no region of their own
    default_region = region if isinstance(region, str) else next((r.region for r in plan.resources if r.region), "us-east-1")
    by_urn = {r.urn: r for r in plan.resources}
    lines, unpriced, free = [], [], []
    for resource in plan.resources:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            continue
        pricing = price_resource(resource, plan, prices, default_region)
        entry = {"urn": resource.urn, "name": resource.name, "type": resource.type, "region": resource.region,
                 "component": _component_of(resource, by_urn)}
        if pricing.monthly_usd is not None:
            lines.append({**entry, "monthlyUsd": round(pricing.monthly_usd, 2), "basis": pricing.basis})
        elif pricing.kind == "free":
            free.append({**entry, "why": pricing.basis})
        else:
            unpriced.append({**entry, "fixedCost": pricing.kind == "unpriced", "why": pricing.basis})
    components: dict[str, float] = {}
    for line in lines:
        components[line["component"]] = round(components.get(line["component"], 0.0) + line["monthlyUsd"], 2)
    return {"stack": plan.stack,
            "prices": {"date": prices["date"], "source": prices["source"], "origin": prices["origin"]},
            "totalMonthlyUsd": round(sum(line["monthlyUsd"] for line in lines), 2), "byComponent": components,
            "resources": lines, "unpriced": unpriced, "free": free,
            "complete": not any(line["fixedCost"] for line in unpriced)}


def estimate_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The cost difference between two plans, resource by resource."""
    old = {line["urn"]: line for line in before["resources"]}
    new = {line["urn"]: line for line in after["resources"]}
    changes = []
    for urn in sorted(set(old) | set(new)):
        was, now = old.get(urn, {}).get("monthlyUsd", 0.0), new.get(urn, {}).get("monthlyUsd", 0.0)
        if round(now - was, 2):
            line = new.get(urn) or old[urn]
            changes.append({"name": line["name"], "type": line["type"], "fromUsd": was, "toUsd": now,
                            "changeUsd": round(now - was, 2),
                            "basis": f"{old.get(urn, {}).get('basis', '(none)')} -> {new.get(urn, {}).get('basis', '(removed)')}"})
    return {"fromUsd": before["totalMonthlyUsd"], "toUsd": after["totalMonthlyUsd"],
            "changeUsd": round(after["totalMonthlyUsd"] - before["totalMonthlyUsd"], 2), "changes": changes}
