"""`scraper-ops scale`: the guide's scale.sh as a change of the replica bounds in stack config, applied by a
targeted update of the ScaledObject (KEDA updates the HPA it owns). Values the policy pack would reject are refused before anything changes."""

from __future__ import annotations

import json
from typing import TypedDict

from automation.engine import run_program
from automation.errors import BadInput
from automation.plan import scaling_of
from automation.policy_check import evaluate
from automation.runner import StackRunner
from automation.stack_files import invalid_config
from infra.config import ConfigError, parse_stack_config

AUTOSCALING_KEY = "social-media-scraper:autoscaling"


OPTIONS = {"minReplicas": "--min", "maxReplicas": "--max"}


class ScaleResult(TypedDict):
    scaledObject: str  # URN of the ScaledObject the targeted update changed
    hpa: str
    minReplicas: int
    maxReplicas: int
    previous: dict[str, int | None]  # the bounds in stack config before
    update: int | None  # the update's version


def _as_options(problem: str, minimum: int, maximum: int | None) -> str:
    """A config problem caused by --min or --max, said about the option (the stack file was not at fault)."""
    for key, option in OPTIONS.items():
        prefix = f"{AUTOSCALING_KEY}.{key} = "
        if problem.startswith(prefix):
            value, _, message = problem[len(prefix):].partition(": ")
            return f"{option} {value}: {message.replace('minReplicas', '--min')}"
    return f"{_options(minimum, maximum)}: refused: {problem}"


def _options(minimum: int, maximum: int | None) -> str:
    return f"--min {minimum}" + (f" --max {maximum}" if maximum is not None else "")


def scale(runner: StackRunner, minimum: int, maximum: int | None, message: str) -> ScaleResult:
    raw = runner.get_config()
    current = json.loads(raw.get(AUTOSCALING_KEY, "{}"))
    wanted = {**current, "minReplicas": minimum, **({"maxReplicas": maximum} if maximum is not None else {})}
    try:
        parse_stack_config(raw)
    except ConfigError as error:
        raise invalid_config(runner.stack_name, error) from None
    try:
        plan = run_program(runner.stack_name, {**raw, AUTOSCALING_KEY: json.dumps(wanted)})
    except ConfigError as error:  # the stack's config is valid (above): the options are what is refused
        raise BadInput("; ".join(_as_options(problem, minimum, maximum) for problem in error.problems)) from None
    rejected = [v for v in evaluate(plan) if v.level == "mandatory"]
    if rejected:
        raise BadInput(f"{_options(minimum, maximum)}: refused, the policy pack would reject it: "
                       + "; ".join(f"{v.policy}: {v.message}" for v in rejected))
    scaling = scaling_of(plan)
    if scaling is None:
        raise BadInput(f"stack {runner.stack_name} declares no ScaledObject to scale")
    changed = {k: v for k, v in wanted.items() if current.get(k) != v and k in ("minReplicas", "maxReplicas")}
    for key, value in changed.items():
        runner.set_config(f"{AUTOSCALING_KEY}.{key}", str(value))
    try:
        update = runner.up(message, targets=[scaling.resource.urn])
    except Exception:
        for key in changed:
            if key in current:
                runner.set_config(f"{AUTOSCALING_KEY}.{key}", str(current[key]))
        raise
    return ScaleResult(scaledObject=scaling.resource.urn, hpa=scaling.name, minReplicas=scaling.min_replicas,
                       maxReplicas=scaling.max_replicas,
                       previous={k: current.get(k) for k in ("minReplicas", "maxReplicas")}, update=update.version)
