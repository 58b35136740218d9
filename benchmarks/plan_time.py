"""Whole-process time of `scraper-ops` commands (interpreter start, imports, work, exit) against issue 12's targets.

Each command runs as a child process through the console script, as an SRE or a CronJob runs it, in the
environment of benchmarks/installed.py (bytecode compiled as pip compiles it, the user cache warm after one untimed
run); the figure is the median wall time of several runs, with the children's CPU time (user + system) beside it:
on a machine shared with other work, the CPU time shows what the command itself costs. Run on a quiet machine to
judge the targets. Two more lines: `plan` where no bytecode can be written (PYTHONDONTWRITEBYTECODE=1, as in the
development venv), and `plan` with the normal interpreter teardown that automation/__main__.py skips.
Usage: python benchmarks/plan_time.py [runs]
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from installed import ROOT, installed_environment, load_average, warm_up

SCRIPT = str(Path(sys.executable).with_name("scraper-ops"))
PLAN = ["plan", "--stack", "prod"]
TARGETS = (  # (command, target seconds of wall time)
    (PLAN, 1.5),
    (["--help"], 0.3),
    (["maintenance", "next"], 0.4),
)
# The console script's own entry (automation.__main__.run), exiting through the normal interpreter teardown.
WITH_TEARDOWN = ("import sys; from automation import __main__ as entry; "
                 "entry.exit_without_teardown = sys.exit; entry.run()")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    warm_up(command, env)
    timings = [timed(command, env) for _ in range(runs)]
    return statistics.median(w for w, _ in timings), statistics.median(c for _, c in timings)


def main(runs: int) -> None:
    print(f"scraper-ops whole process: median of {runs} runs, wall (CPU); {load_average()}")
    with installed_environment() as env:
        for args, target in TARGETS:
            wall, cpu = medians([SCRIPT, *args], runs, env)
            verdict = "PASS" if wall <= target else "FAIL"
            print(f"scraper-ops {' '.join(args):24} {wall:5.2f} s ({cpu:5.2f} s CPU)  target <= {target:.1f} s  "
                  f"{verdict}")
        checkout = {name: value for name, value in env.items() if name != "PYTHONPYCACHEPREFIX"}
        compiling_wall, compiling_cpu = medians([SCRIPT, *PLAN], runs, {**checkout, "PYTHONDONTWRITEBYTECODE": "1"})
        print(f"plan compiling the project's modules each run (PYTHONDONTWRITEBYTECODE=1): {compiling_wall:.2f} s "
              f"({compiling_cpu:.2f} s CPU)")
        fast_wall, fast_cpu = medians([SCRIPT, *PLAN], runs, env)
        slow_wall, slow_cpu = medians([sys.executable, "-c", WITH_TEARDOWN, *PLAN], runs, env)
        print(f"interpreter teardown skipped: plan {slow_wall:.2f} s ({slow_cpu:.2f} s CPU) with it, "
              f"{fast_wall:.2f} s ({fast_cpu:.2f} s CPU) without")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
