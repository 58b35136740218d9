"""The stack outputs contract, read from a saved `pulumi stack output --json` file, the in-cluster
ConfigMap mount, or a stack through the stack runner. Automation never guesses a physical name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from automation.errors import BadInput
from automation.jsonfile import read_json

OUTPUTS_ENV = "SCRAPER_OPS_OUTPUTS"
IN_CLUSTER_OUTPUTS = Path("/etc/scraper-ops/outputs.json")


class _Contract(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SmokeChecks(_Contract):
    health: str
    readiness: str
    api: str
    scrapers: str


class Objectives(_Contract):
    availabilityPercent: float
    latencyP95Seconds: float
    scraperSuccessPercent: float
    errorRatePercent: float
    backupMaxAgeHours: float
    rpoMinutes: int
    rtoMinutes: int


class CronJobs(_Contract):
    backup: str
    backupVerify: str
    smokeTests: str
    metrics: str


class Maintenance(_Contract):
    windowStart: str
    durationMinutes: int
    cutoffMinutes: int


class SnapshotRetention(_Contract):
    manualRetentionDays: int
    keepNewest: int


class FailoverDns(_Contract):
    hostedZoneId: str
    recordName: str
    failover: str  # PRIMARY or SECONDARY
    setIdentifier: str
    healthCheckId: str | None  # the PRIMARY record's; None on the SECONDARY
    loadBalancerDnsName: str


class StackOutputs(_Contract):
    region: str
    drRegion: str
    clusterName: str
    namespace: str
    deploymentName: str
    hpaName: str
    serviceUrl: str
    dbInstanceId: str
    dbReplicaId: str | None  # None on a standby stack (site.role standby), which is the replica
    dataBucket: str
    dataReplicaBucket: str
    opsBucket: str
    queueUrl: str
    deadLetterQueueUrl: str
    alertsTopicArn: str
    maintenanceTopicArn: str
    dashboardName: str
    alarmNames: list[str]
    backupVaultName: str
    drBackupVaultName: str
    drKmsKeyArn: str
    lockTableName: str
    cronJobs: CronJobs
    costTags: dict[str, str]
    stack: str
    metricsNamespace: str
    smokeChecks: SmokeChecks
    objectives: Objectives
    dbBackupRetentionDays: int
    backupPlanId: str
    drSubnetGroupName: str
    drSecurityGroupIds: list[str]
    maintenance: Maintenance
    snapshotRetention: SnapshotRetention | None = None  # absent from stacks deployed before snapshot expiry
    loadBalancer: str | None = None  # the app's ALB (app/<name>/<id>); absent from stacks deployed before it
    sloAlarmNames: list[str] | None = None  # the availability SLO's burn-rate alerts (composite alarms)
    dns: FailoverDns | None = None  # the failover record of the public name; None when the stack has no dns group
    kmsKeyArn: str | None = None  # the stack's key in its own region; absent from stacks deployed before it


def parse_outputs(document: Any, source: str) -> StackOutputs:
    try:
        return StackOutputs.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors(include_url=False)
        ]
        raise BadInput(f"outputs from {source} do not follow the contract: " + "; ".join(problems)) from None


def read_outputs_file(path: Path) -> StackOutputs:
    return parse_outputs(read_json(path, "outputs file"), str(path))


def resolve_outputs(outputs_file: Path | None, stack: str | None, backend: str = "pulumi") -> StackOutputs:
    """--outputs FILE, else --stack through the stack runner, else $SCRAPER_OPS_OUTPUTS, else the in-cluster mount."""
    if outputs_file is not None:
        return read_outputs_file(outputs_file)
    if stack is not None:
        from automation.runner import stack_runner

        return parse_outputs(stack_runner(stack, backend).outputs(), f"stack {stack} ({backend} backend)")
    if os.environ.get(OUTPUTS_ENV):
        return read_outputs_file(Path(os.environ[OUTPUTS_ENV]))
    if IN_CLUSTER_OUTPUTS.is_file():
        return read_outputs_file(IN_CLUSTER_OUTPUTS)
    raise BadInput(
        f"no stack outputs: pass --outputs FILE (from `pulumi stack output --json`) or --stack NAME, "
        f"or set {OUTPUTS_ENV}"
    )
