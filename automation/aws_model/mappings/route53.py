"""The requests pulumi-aws 7 sends for Route 53 records and health checks."""

from __future__ import annotations


from automation.aws_model.findings import ApiRequest
from automation.aws_model.mappings.common import REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import ProviderOnly, ResourceMapping, To
from automation.engine import PlannedResource


# Route 53 ---------------------------------------------------------------------------------------


def _record_change(resource: PlannedResource, requests: dict[str, ApiRequest]) -> None:
    """The provider sends a record as one CREATE change of ChangeResourceRecordSets (UPSERT with allowOverwrite);
    its one-element `aliases` and `failoverRoutingPolicies` blocks become the AliasTarget structure and the Failover
    value (Terraform aws_route53_record, `alias`, `failover_routing_policy`)."""
    change = requests["ChangeResourceRecordSets"]
    record = change.params.pop("ResourceRecordSet", {})
    if isinstance(record.get("AliasTarget"), list) and len(record["AliasTarget"]) == 1:
        record["AliasTarget"] = record["AliasTarget"][0]
    if isinstance(record.get("Failover"), list) and len(record["Failover"]) == 1:
        record["Failover"] = record["Failover"][0].get("Type")
    action = "UPSERT" if resource.inputs.get("allowOverwrite") else "CREATE"
    change.params["ChangeBatch"] = {"Changes": [{"Action": action, "ResourceRecordSet": record}]}


ROUTE53_RECORD = ResourceMapping(
    "route53",
    "ChangeResourceRecordSets",
    {
        "zoneId": To("HostedZoneId"),
        "name": To("ResourceRecordSet.Name"),
        "type": To("ResourceRecordSet.Type"),
        "setIdentifier": To("ResourceRecordSet.SetIdentifier"),
        "ttl": To("ResourceRecordSet.TTL"),
        "records": To("ResourceRecordSet.ResourceRecords", convert=lambda values: [{"Value": v} for v in values]),
        "healthCheckId": To("ResourceRecordSet.HealthCheckId"),
        "failoverRoutingPolicies": To("ResourceRecordSet.Failover", inner={"type": To("Type")}),
        "aliases": To(
            "ResourceRecordSet.AliasTarget",
            inner={"name": To("DNSName"), "zoneId": To("HostedZoneId"), "evaluateTargetHealth": To("EvaluateTargetHealth")},
        ),
        "allowOverwrite": ProviderOnly("allowOverwrite: makes the change an UPSERT instead of a CREATE"),
        "region": REGION,
    },
    finish=_record_change,
)

ROUTE53_HEALTH_CHECK = ResourceMapping(
    "route53",
    "CreateHealthCheck",
    {
        "type": To("HealthCheckConfig.Type"),
        "cloudwatchAlarmName": To("HealthCheckConfig.AlarmIdentifier.Name"),
        "cloudwatchAlarmRegion": To("HealthCheckConfig.AlarmIdentifier.Region"),
        "insufficientDataHealthStatus": To("HealthCheckConfig.InsufficientDataHealthStatus"),
        "invertHealthcheck": To("HealthCheckConfig.Inverted"),
        "disabled": To("HealthCheckConfig.Disabled"),
        "fqdn": To("HealthCheckConfig.FullyQualifiedDomainName"),
        "port": To("HealthCheckConfig.Port"),
        "resourcePath": To("HealthCheckConfig.ResourcePath"),
        "failureThreshold": To("HealthCheckConfig.FailureThreshold"),
        "requestInterval": To("HealthCheckConfig.RequestInterval"),
        "referenceName": ProviderOnly("referenceName: the provider builds CallerReference from it"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    # CallerReference is the provider's unique token (at most 64 characters, CreateHealthCheck).
    identity={"CreateHealthCheck": {"CallerReference": lambda resource: resource.urn[-64:]}},
)
