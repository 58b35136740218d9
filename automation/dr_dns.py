"""The Route 53 switch of the public name's failover pair, for `dr failover` (pin) and `dr failback` (release)."""

from __future__ import annotations

from typing import Any

from automation.maintenance import Aborted
from contract.outputs import StackOutputs


def _dns_name(name: str) -> str:
    """Route 53 answers names lower-case with a trailing dot; an ALB alias may carry the `dualstack.` prefix."""
    return name.lower().rstrip(".").removeprefix("dualstack.")


class FailoverDns:
    """The failover pair of the public name (stack output `dns`; infra/components/dns.py), switched through the
    Route 53 API: the primary stack cannot be updated while its region is down (its program reads its cluster
    there). Until the switch is pinned, the PRIMARY's alarm health check already turns unhealthy by itself when the
    primary region stops reporting (insufficient data counts as unhealthy); pinning keeps it so when the region
    comes back."""

    def __init__(self, route53: Any, primary: StackOutputs, standby: StackOutputs):
        self.route53, self.primary, self.standby = route53, primary, standby

    @property
    def name(self) -> str:
        return self.primary.dns.recordName if self.primary.dns else "the public name"

    def _unconfigured(self) -> str | None:
        if self.primary.dns is None:
            return (f"{self.primary.stack} declares no failover record (no dns group): nothing to switch; move the "
                    "public name by hand")
        return None

    def _flags(self) -> dict[str, Any]:
        return self.route53.get_health_check(HealthCheckId=self.primary.dns.healthCheckId)["HealthCheck"][
            "HealthCheckConfig"]

    def pinned(self) -> str | None:
        if unconfigured := self._unconfigured():
            return unconfigured
        flags = self._flags()
        if flags.get("Disabled") and flags.get("Inverted"):
            return f"health check {self.primary.dns.healthCheckId} of the PRIMARY record is held unhealthy"
        return None

    def pin(self) -> str:
        secondary = self._record("SECONDARY", self.standby)
        self._record("PRIMARY", self.primary)
        # Disabled alone would count as healthy; disabled and inverted is unhealthy whatever the alarm says (Route 53
        # API Reference, UpdateHealthCheck: Disabled, Inverted).
        self.route53.update_health_check(HealthCheckId=self.primary.dns.healthCheckId, Disabled=True, Inverted=True)
        return (f"{self.name}: PRIMARY held unhealthy (health check {self.primary.dns.healthCheckId} disabled and "
                f"inverted); Route 53 answers with the SECONDARY record -> {secondary}")

    def released(self) -> str | None:
        if unconfigured := self._unconfigured():
            return unconfigured
        flags = self._flags()
        if not flags.get("Disabled") and not flags.get("Inverted"):
            return f"health check {self.primary.dns.healthCheckId} of the PRIMARY record follows its alarm"
        return None

    def release(self) -> str:
        primary = self._record("PRIMARY", self.primary)
        self.route53.update_health_check(HealthCheckId=self.primary.dns.healthCheckId, Disabled=False, Inverted=False)
        return (f"{self.name}: health check {self.primary.dns.healthCheckId} follows the primary's alarm again; "
                f"Route 53 answers with the PRIMARY record -> {primary}")

    def _record(self, failover: str, stack: StackOutputs) -> str:
        """The stack's record of the pair as Route 53 holds it, checked against what the stack declared."""
        if stack.dns is None:
            raise Aborted(f"{stack.stack} has no dns output: deploy it with the dns group of {self.primary.stack} "
                          f"({self.name}) so that it declares the {failover} record")
        sets = self.route53.list_resource_record_sets(
            HostedZoneId=stack.dns.hostedZoneId, StartRecordName=stack.dns.recordName, StartRecordType="A",
            MaxItems="10")["ResourceRecordSets"]
        found = [r for r in sets if _dns_name(r["Name"]) == _dns_name(stack.dns.recordName) and r["Type"] == "A"
                 and r.get("Failover") == failover and r.get("SetIdentifier") == stack.dns.setIdentifier]
        target = found[0].get("AliasTarget", {}) if found else {}
        if not found or _dns_name(target.get("DNSName", "")) != _dns_name(stack.dns.loadBalancerDnsName):
            raise Aborted(f"no {failover} record {stack.dns.setIdentifier} of {stack.dns.recordName} in zone "
                          f"{stack.dns.hostedZoneId} aliasing {stack.stack}'s ALB {stack.dns.loadBalancerDnsName}: "
                          f"run `pulumi up --stack {stack.stack}`")
        if failover == "PRIMARY" and found[0].get("HealthCheckId") != stack.dns.healthCheckId:
            raise Aborted(f"the PRIMARY record of {stack.dns.recordName} is not tied to health check "
                          f"{stack.dns.healthCheckId}: run `pulumi up --stack {stack.stack}`")
        return _dns_name(target["DNSName"])
