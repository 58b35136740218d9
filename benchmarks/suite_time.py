"""Wall time of the test suite and of its fast tier, as the README runs them.

Targets on a 2-core machine: the whole suite (`python -m pytest`) within 60 s, the fast tier
(`python -m pytest -m "not slow"`) within 15 s. Each tier runs twice: in this environment as it is (where
PYTHONDONTWRITEBYTECODE=1 is set, as on this machine, every worker compiles the project's and the tests' modules
again, and pytest rewrites the tests' asserts again), then with bytecode cached as a developer's checkout has it
after its first run (benchmarks/installed.py: a scratch PYTHONPYCACHEPREFIX, nothing lands in the checkout; one
untimed run fills it first). Each run also prints the CPU seconds of its processes (user + system of pytest and
its xdist workers) and the load average when it started: on a shared machine the wall time says more about the
neighbours than about the suite, the CPU time much less so.

Usage: python benchmarks/suite_time.py [full|fast|both]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

from installed import ROOT, installed_environment, warm_up

TIERS = {
    "full": ([], 60.0),
    "fast": (["-m", "not slow"], 15.0),
}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(tier: str, how: str, env: dict[str, str] | None = None) -> bool:
    extra, target = TIERS[tier]
    command = [sys.executable, "-m", "pytest", "-q", *extra]
    load = os.getloadavg()[0]
    cpu_before, started = children_cpu_seconds(), time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu_before
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr.strip()
    within = wall <= target
    print(f"{tier:>4}, {how}: wall {wall:6.1f} s (target {target:g} s: {'within' if within else 'OVER'})  "
          f"cpu {cpu:6.1f} s  load at start {load:.1f}  {' '.join(command[1:])}")
    print(f"      {summary}")
    return completed.returncode == 0 and within


def run_both_ways(tier: str) -> bool:
    as_is = "compiling each run" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "as this environment runs it"
    results = [run(tier, as_is)]
    with installed_environment() as env:
        warm_up([sys.executable, "-m", "pytest", "-q", *TIERS[tier][0]], env)
        results.append(run(tier, "bytecode cached", env))
    return all(results)


def main(which: str) -> int:
    tiers = list(TIERS) if which == "both" else [which]
    if not set(tiers) <= set(TIERS):
        print(f"unknown tier {which!r}; use one of: full, fast, both", file=sys.stderr)
        return 2
    print(f"{os.cpu_count()} cores")
    results = [run_both_ways(tier) for tier in tiers]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "both"))
