"""The capacity report's data: every series from one batched GetMetricData call, analysed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from automation.capacity.model import GIB, CapacityReport, Series, analyse, rightsize
from automation.metrics import Query, get_metric_data
from automation.slo import alb
from contract.outputs import Sizing, StackOutputs
from infra import signals

HOUR = 3600


def _queries(outputs: StackOutputs) -> list[tuple[Query, str, str]]:
    cluster, namespace, deployment = outputs.clusterName, outputs.namespace, outputs.deploymentName
    pods = (("ClusterName", cluster), ("Namespace", namespace), ("PodName", deployment))
    nodes = (("ClusterName", cluster),)
    db = (("DBInstanceIdentifier", outputs.dbInstanceId),)
    insights = signals.CONTAINER_INSIGHTS
    return [
        (Query("pod_cpu", insights, signals.POD_OVER_LIMIT["cpu"], "Average", pods), "Pod CPU", "% of request"),
        (Query("pod_memory", insights, signals.POD_OVER_LIMIT["memory"], "Average", pods), "Pod memory", "% of request"),
        (Query("node_cpu", insights, "node_cpu_utilization", "Average", nodes), "Node CPU", "%"),
        (Query("node_memory", insights, "node_memory_utilization", "Average", nodes), "Node memory", "%"),
        (Query("pods", insights, "service_number_of_running_pods", "Average",
               (("ClusterName", cluster), ("Namespace", namespace), ("Service", deployment))), "Running pods", "pods"),
        (Query("queue", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
               (("QueueName", outputs.queueUrl.rsplit("/", 1)[1]),)), "Queue depth", "messages"),
        (Query("db_cpu", "AWS/RDS", "CPUUtilization", "Average", db), "Database CPU", "%"),
        (Query("db_connections", "AWS/RDS", "DatabaseConnections", "Average", db), "Database connections", "connections"),
        (Query("db_free_storage", "AWS/RDS", "FreeStorageSpace", "Minimum", db), "Database free storage", "GiB"),
        (Query("requests", signals.ALB_NAMESPACE, signals.ALB_REQUESTS, "Sum", alb(outputs)), "Requests per hour", "requests"),
    ]


def build_report(cloudwatch: Any, outputs: StackOutputs, sizing: Sizing, days: int, now: datetime) -> CapacityReport:
    calls: list[int] = []
    queries = _queries(outputs)
    data = get_metric_data(cloudwatch, [q for q, _, _ in queries], now - timedelta(days=days), now, HOUR, calls)
    scale = {"pod_cpu": signals.request_relative(sizing, "cpu").factor,
             "pod_memory": signals.request_relative(sizing, "memory").factor, "db_free_storage": 1 / GIB}
    thresholds = {
        "pod_cpu": (sizing.cpuTargetPercent, True),
        "pod_memory": (sizing.memoryTargetPercent, True),
        "queue": (sizing.queueDepthTarget, True),
        "db_cpu": (sizing.dbCpuPercent, True),
        "db_free_storage": (sizing.dbFreeStorageGb, False),
    }
    series = []
    for query, title, unit in queries:
        factor = scale.get(query.id, 1.0)
        threshold, rising = thresholds.get(query.id, (None, True))
        points = [(t, v * factor) for t, v in data[query.id]]
        series.append(analyse(Series(query.id, title, unit, points, threshold, rising), now))
    by_key = {s.key: s for s in series}
    pods = [v for _, v in by_key["pods"].points]
    at_max = sum(1 for v in pods if v >= sizing.maxReplicas - 0.5)
    triggers = {
        name: _trigger(by_key[key].points, limit)
        for name, key, limit in (
            (f"cpu > {sizing.cpuTargetPercent}%", "pod_cpu", sizing.cpuTargetPercent),
            (f"memory > {sizing.memoryTargetPercent}%", "pod_memory", sizing.memoryTargetPercent),
            (f"queue depth > {sizing.queueDepthTarget}", "queue", sizing.queueDepthTarget),
        )
    }
    return CapacityReport(days, series, float(at_max), at_max / len(pods) if pods else 0.0, triggers,
                          rightsize(sizing, by_key), len(calls), sizing.minReplicas,
                          sizing.maxReplicas)


def _trigger(points: list[tuple[datetime, float]], limit: float) -> dict[str, Any]:
    above = [t for t, v in points if v > limit]
    return {"hours": len(above), "first": above[0].isoformat() if above else None,
            "last": above[-1].isoformat() if above else None}
