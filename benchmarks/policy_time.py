"""Time of the policy pack over the prod plan and over plans 5, 10 and 20 times larger.

The larger plans hold copies of every prod resource under other project names (all
URN references renamed with them), so every rule has proportionally more to do.
Growth should be linear: the last column stays near 1.0.
Usage: python benchmarks/policy_time.py [repeats]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from automation.engine import Plan, read_stack_file, run_program
from automation.policy_check import evaluate, load_plan

ROOT = Path(__file__).resolve().parent.parent


def scaled(plan: Plan, factor: int, workdir: Path) -> Plan:
    text = json.dumps(plan.to_json())
    copies = [
        json.loads(text.replace("::social-media-scraper::", f"::social-media-scraper-{k}::"))["resources"]
        for k in range(factor)
    ]
    document = {**plan.to_json(), "resources": [r for copy in copies for r in copy]}
    path = workdir / f"plan-x{factor}.json"
    path.write_text(json.dumps(document))
    return load_plan(path)


def timed(plan: Plan, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate(plan)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main(repeats: int) -> None:
    import tempfile

    base = run_program("prod", read_stack_file("prod", ROOT))
    evaluate(base)  # warm the caches (tag lookups import pulumi_aws modules once)
    with tempfile.TemporaryDirectory() as workdir:
        rows = []
        for factor in (1, 5, 10, 20):
            plan = scaled(base, factor, Path(workdir))
            rows.append((factor, len(plan.resources), timed(plan, repeats)))
    per_resource_base = rows[0][2] / rows[0][1]
    print(f"policy pack over the prod plan and larger copies (median of {repeats} runs)")
    print(f"{'size':>5} {'resources':>9} {'seconds':>9} {'ms/resource':>12} {'vs linear':>10}")
    for factor, count, seconds in rows:
        print(f"{factor:>4}x {count:>9} {seconds:>9.3f} {1000 * seconds / count:>12.3f} "
              f"{seconds / (per_resource_base * count):>10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
