"""CPU time of the policy pack over the prod plan and over plans 5, 10, 20 and 50 times larger.

Target (issue 12): evaluation grows linearly from 1x to 50x; met when the cost per resource at every size stays
within 1.5 times the cost per resource at 1x.

The plans are made by `scraper-ops plan --json` in a child process, so this process has not imported the program's
SDKs: the first evaluation pays what `scraper-ops policy check --plan FILE` pays cold, and is printed on its own
line; no cache is warmed before it. Each larger plan holds copies of every prod resource as another project of the
same shape would declare them: every occurrence of the project name is renamed (URNs, Kubernetes namespaces, names,
tags), so each copy is a separate app and every rule has proportionally more to do. Every copy passes as prod does.
Times are CPU seconds of this process (time.process_time), the median of several evaluations per size, taken in
rounds that evaluate every size once (this machine's speed drifts within minutes; run one size after the other, the
first size's 0.1 s and the last's 8 s met different machines, and the ratio moved from 1.05x to 1.59x). The process
collects garbage as the console script does (GC_THRESHOLDS of automation/__main__.py), as `scraper-ops policy check`
runs: under CPython's default thresholds, the collector's full passes over the ~90 prod plans held here would grow
with the heap, not with the plan evaluated (1.9x at 50x, where the command runs at 1.3x).
Usage: python benchmarks/policy_time.py [repeats]
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automation.__main__ import GC_THRESHOLDS  # noqa: E402
from automation.engine import Plan  # noqa: E402
from automation.policy_check import evaluate, load_plan  # noqa: E402

PROJECT = "social-media-scraper"
FACTORS = (1, 5, 10, 20, 50)
LINEAR_TOLERANCE = 1.5


def prod_plan_document() -> dict:
    completed = subprocess.run([sys.executable, "-m", "automation", "plan", "--stack", "prod", "--json"], cwd=ROOT,
                               capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


def scaled(document: dict, factor: int, workdir: Path) -> Plan:
    text = json.dumps(document["resources"])
    resources = [r for k in range(factor) for r in json.loads(text.replace(PROJECT, f"{PROJECT}-{k}"))]
    path = workdir / f"plan-x{factor}.json"
    path.write_text(json.dumps({**document, "resources": resources}))
    return load_plan(path)


def cpu_seconds(plan: Plan) -> float:
    start = time.process_time()
    violations = evaluate(plan)
    seconds = time.process_time() - start
    if violations:
        sys.exit(f"the {len(plan.resources)}-resource plan has {len(violations)} violations; prod has none")
    return seconds


def main(repeats: int) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    document = prod_plan_document()
    with tempfile.TemporaryDirectory() as workdir:
        plans = {factor: scaled(document, factor, Path(workdir)) for factor in FACTORS}
        cold = cpu_seconds(plans[1])
        samples: dict[int, list[float]] = {factor: [] for factor in FACTORS}
        for _ in range(repeats):  # a round evaluates every size once: a drift of the machine's speed hits them alike
            for factor, plan in plans.items():
                samples[factor].append(cpu_seconds(plan))
        rows = [(factor, len(plans[factor].resources), statistics.median(samples[factor])) for factor in FACTORS]
    per_resource_base = rows[0][2] / rows[0][1]
    print(f"policy pack over the prod plan and larger copies: CPU seconds, median of {repeats} evaluations")
    print(f"first evaluation in the process (cold): {cold:.3f} s over {rows[0][1]} resources")
    print(f"{'size':>5} {'resources':>9} {'seconds':>9} {'ms/resource':>12} {'vs 1x':>7}")
    for factor, count, seconds in rows:
        print(f"{factor:>4}x {count:>9} {seconds:>9.3f} {1000 * seconds / count:>12.3f} "
              f"{seconds / count / per_resource_base:>7.2f}")
    worst = max(seconds / count / per_resource_base for _, count, seconds in rows)
    verdict = "PASS" if worst <= LINEAR_TOLERANCE else "FAIL"
    print(f"target: cost per resource up to 50x within {LINEAR_TOLERANCE}x of 1x; measured {worst:.2f}x  {verdict}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
