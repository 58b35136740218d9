"""The stack outputs contract: what the program exports and every ops job reads (README, "Stack outputs").

The program's outputs are checked against this model in tests/infra/test_contract.py, and the README's outputs
table is this model's field descriptions (`python -m contract.outputs` prints it). Reading stays lenient
(`extra="allow"`): a newer stack's extra outputs don't break an older driver.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Contract(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SmokeChecks(_Contract):
    health: str = Field(description="liveness path")
    readiness: str = Field(description="readiness path")
    api: str = Field(description="API status path (answers JSON)")
    scrapers: str = Field(description="scrapers' status path")


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
    drTest: str | None = None  # absent from stacks deployed before the guide's every schedule was automated
    capacityReport: str | None = None
    costReview: str | None = None


class Maintenance(_Contract):
    windowStart: str
    durationMinutes: int
    cutoffMinutes: int


class SnapshotRetention(_Contract):
    manualRetentionDays: int
    keepNewest: int


class Site(_Contract):
    role: Literal["primary", "standby"]
    serving: bool
    primaryStack: str | None = None


class FailoverDns(_Contract):
    hostedZoneId: str
    recordName: str
    failover: Literal["PRIMARY", "SECONDARY"]
    setIdentifier: str
    healthCheckId: str | None  # the PRIMARY record's; None on the SECONDARY
    loadBalancerDnsName: str


class Quantities(_Contract):
    cpu: str
    memory: str


class Sizing(_Contract):
    """What the capacity report and the cost review measure against, so that the in-cluster jobs need only the
    outputs (no stack file in the ops image)."""

    requests: Quantities
    limits: Quantities
    minReplicas: int
    maxReplicas: int
    cpuTargetPercent: int
    memoryTargetPercent: int
    queueDepthTarget: int
    dbCpuPercent: int
    dbFreeStorageGb: int
    dbInstanceClass: str
    dbInstances: int  # 2 with multi-AZ: the standby is billed like the primary
    nodeInstanceType: str
    monthlyBudgetUsd: float


class StackOutputs(_Contract):
    region: str = Field(description="primary region")
    drRegion: str = Field(description="DR region")
    clusterName: str = Field(description="the EKS cluster")
    namespace: str = Field(description="the app's namespace")
    deploymentName: str = Field(description="the app's Deployment, `social-media-scraper-app`")
    hpaName: str = Field(description="the HPA KEDA owns (named after the ScaledObject's "
                                     "`advanced.horizontalPodAutoscalerConfig.name`)")
    scaledObjectName: str | None = Field(default=None, description="the KEDA ScaledObject that scales the app")
    serviceUrl: str = Field(description="`app.publicUrl`, else the in-cluster Service URL")
    dbInstanceId: str = Field(description="RDS identifier of the primary (on a standby stack: the primary's "
                                          "replica it runs on)")
    dbReplicaId: str | None = Field(description="RDS identifier of the DR read replica (null on a standby stack)")
    dbSecretArn: str | None = Field(default=None, description="the Secrets Manager secret with the master "
                                                              "credentials (replicated to `drRegion`)")
    dataBucket: str = Field(description="scraped data (on a standby stack: its primary's `dataReplicaBucket`, "
                                        "which holds what the primary scraped)")
    dataReplicaBucket: str | None = Field(description="the data bucket's replica in `drRegion` (null on a standby "
                                                      "stack)")
    opsBucket: str = Field(description="reports and maintenance records")
    queueUrl: str = Field(description="scrape-job queue")
    deadLetterQueueUrl: str = Field(description="its dead-letter queue")
    alertsTopicArn: str = Field(description="SNS topic of the alarms")
    maintenanceTopicArn: str = Field(description="SNS topic of maintenance notices")
    dashboardName: str = Field(description="CloudWatch dashboard")
    alarms: dict[str, str] = Field(description="every metric alarm: its key (`contract/alarms.py`) -> its name")
    backupVaultName: str = Field(description="AWS Backup vault in the primary region")
    drBackupVaultName: str = Field(description="AWS Backup vault in `drRegion`")
    drKmsKeyArn: str = Field(description="the key DR copies are encrypted with")
    lockTableName: str = Field(description="DynamoDB table of the operations lock")
    cronJobs: CronJobs = Field(description="`{backup, backupVerify, smokeTests, metrics, drTest, capacityReport, "
                                           "costReview}`: the ops CronJobs' names")
    costTags: dict[str, str] = Field(description="the cost-allocation tags")
    stack: str = Field(description="the Pulumi stack's name (the `Stack` dimension of the custom metrics)")
    metricsNamespace: str = Field(description="CloudWatch namespace of the custom metrics")
    smokeChecks: SmokeChecks = Field(description="`{health, readiness, api, scrapers}`: the smoke tests' paths")
    objectives: Objectives = Field(description="`{availabilityPercent, latencyP95Seconds, scraperSuccessPercent, "
                                               "errorRatePercent, backupMaxAgeHours, rpoMinutes, rtoMinutes}`: what "
                                               "the ops jobs measure against")
    dbBackupRetentionDays: int = Field(description="automated backup retention of the primary")
    backupPlanId: str = Field(description="the AWS Backup plan")
    drSubnetGroupName: str = Field(description="DB subnet group restores use in `drRegion`")
    drSecurityGroupIds: list[str] = Field(description="security groups restores use in `drRegion`")
    maintenance: Maintenance = Field(description="`{windowStart, durationMinutes, cutoffMinutes}`: the maintenance "
                                                 "window")
    snapshotRetention: SnapshotRetention | None = Field(
        default=None, description="`{manualRetentionDays, keepNewest}` for `backup expire`")
    site: Site | None = Field(default=None, description="`{role, serving, primaryStack}`: the stack's part in the "
                                                        "warm-standby design")
    loadBalancer: str | None = Field(default=None, description="the app's ALB as CloudWatch names it "
                                                               "(`app/<name>/<id>`), the `LoadBalancer` dimension")
    sloAlarms: dict[str, str] = Field(description="the availability SLO's burn-rate alerts (composite alarms: two "
                                                  "pages, one ticket): key (`slo-<objective>-<window>`) -> name")
    dns: FailoverDns | None = Field(default=None, description="`{hostedZoneId, recordName, failover, setIdentifier, "
                                                              "healthCheckId, loadBalancerDnsName}`: the failover "
                                                              "record of the public name (null without a `dns` group)")
    sizing: Sizing | None = Field(default=None, description="the app's requests, limits and HPA bounds and targets, "
                                                           "the database's thresholds, class and instances, the node "
                                                           "type and the monthly budget: what `capacity report` and "
                                                           "`cost review` measure against")
    kmsKeyArn: str | None = Field(default=None, description="the stack's own key in its region (`dr failback` "
                                                            "encrypts the instance the stack will adopt with it)")


def markdown_table() -> str:
    """The README's outputs table, one row per output, from the model's descriptions."""
    rows = ["| output | what |", "|---|---|"]
    rows += [f"| `{name}` | {field.description} |" for name, field in StackOutputs.model_fields.items()]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
