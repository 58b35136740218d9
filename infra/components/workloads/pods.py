"""What every pod of the stack shares: the restricted Pod Security Standard, names and mount points.

Every pod runs under the `restricted` Pod Security Standard: non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, seccomp
RuntimeDefault, and no Kubernetes API token (IRSA mounts its own AWS token).
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence



APP_NAME = "social-media-scraper-app"
OUTPUTS_CONFIGMAP = "scraper-ops-outputs"
OUTPUTS_DIR = "/etc/scraper-ops"
OUTPUTS_FILE = "outputs.json"
RUN_AS_USER = 10001
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
DR_SENTINEL_PREFIX = "dr-sentinel/"  # the objects `scraper-ops dr test` replicates (automation/dr.py)
SERVICE_PORT = 80
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"  # well-known label the kubelet sets


def restricted_pod(
    *,
    service_account: str,
    containers: Sequence[dict[str, Any]],
    volumes: Sequence[dict[str, Any]] = (),
    restart_policy: str | None = None,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A pod template under the restricted Pod Security Standard, with a writable /tmp."""
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                # Images are pinned by digest, so a cached image is exactly the one asked for: no registry round
                # trip (and no registry outage) on every pod start. checkov accepts any policy with a digest
                # (CKV_K8S_15, since bridgecrewio/checkov#4781).
                "imagePullPolicy": "IfNotPresent",
                **container,
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *container.get("volumeMounts", [])],
            }
            for container in containers
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
    }
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def content_id(document: str) -> str:
    """A short, stable id of a document (a Job's whole spec), for names keyed by what they run."""
    return hashlib.sha256(document.encode()).hexdigest()[:10]
