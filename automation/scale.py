"""`scraper-ops scale`: the guide's scale.sh as a change of the HPA bounds in stack config, applied by a
targeted update. Values the policy pack would reject are refused before anything changes."""

from __future__ import annotations

import json
from typing import Any

from automation.engine import run_program
from automation.errors import BadInput
from automation.policy_check import evaluate
from automation.runner import StackRunner
from infra.config import ConfigError

HPA_TYPE = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
AUTOSCALING_KEY = "social-media-scraper:autoscaling"


def scale(runner: StackRunner, minimum: int, maximum: int | None, message: str) -> dict[str, Any]:
    raw = runner.get_config()
    current = json.loads(raw.get(AUTOSCALING_KEY, "{}"))
    wanted = {**current, "minReplicas": minimum, **({"maxReplicas": maximum} if maximum is not None else {})}
    try:
        plan = run_program(runner.stack_name, {**raw, AUTOSCALING_KEY: json.dumps(wanted)})
    except ConfigError as error:
        raise BadInput("refused: " + "; ".join(error.problems)) from None
    rejected = [v for v in evaluate(plan) if v.level == "mandatory"]
    if rejected:
        raise BadInput("refused, the policy pack would reject it: " + "; ".join(f"{v.policy}: {v.message}" for v in rejected))
    hpa = next(r for r in plan.resources if r.type == HPA_TYPE)
    changed = {k: v for k, v in wanted.items() if current.get(k) != v and k in ("minReplicas", "maxReplicas")}
    for key, value in changed.items():
        runner.set_config(f"{AUTOSCALING_KEY}.{key}", str(value))
    try:
        update = runner.up(message, targets=[hpa.urn])
    except Exception:
        for key in changed:
            if key in current:
                runner.set_config(f"{AUTOSCALING_KEY}.{key}", str(current[key]))
        raise
    spec = hpa.inputs["spec"]
    return {"hpa": hpa.urn, "minReplicas": spec["minReplicas"], "maxReplicas": spec["maxReplicas"],
            "previous": {k: current.get(k) for k in ("minReplicas", "maxReplicas")}, "update": update.version}
