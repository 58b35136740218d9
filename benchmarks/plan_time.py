"""Whole-process time of `scraper-ops` commands (interpreter start, imports, work, exit) against issue 12's targets.

Each command runs as a child process through the console script, as an SRE or a CronJob runs it; the figure is
the median wall time of several runs, with the children's CPU time (user + system) beside it: on a machine shared
with other work, the CPU time shows what the command itself costs. Run on a quiet machine to judge the targets.
The last line measures what skipping the interpreter's teardown saves (automation/__main__.py): the same `plan`
with the normal interpreter exit.
Usage: python benchmarks/plan_time.py [runs]
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(Path(sys.executable).with_name("scraper-ops"))
TARGETS = (  # (command, target seconds of wall time)
    (["plan", "--stack", "prod"], 1.5),
    (["--help"], 0.3),
    (["maintenance", "next"], 0.4),
)
# The console script's entry without its exit: the GC thresholds set, then the normal interpreter teardown.
WITH_TEARDOWN = ("import gc, sys; from automation.__main__ import GC_THRESHOLDS; gc.set_threshold(*GC_THRESHOLDS); "
                 "from automation.cli import main; sys.exit(main(sys.argv[1:]))")


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(command: list[str], runs: int) -> tuple[float, float]:
    timings = [timed(command) for _ in range(runs)]
    return statistics.median(w for w, _ in timings), statistics.median(c for _, c in timings)


def main(runs: int) -> None:
    print(f"scraper-ops whole process: median of {runs} runs, wall (CPU)")
    for args, target in TARGETS:
        wall, cpu = medians([SCRIPT, *args], runs)
        verdict = "PASS" if wall <= target else "FAIL"
        print(f"scraper-ops {' '.join(args):24} {wall:5.2f} s ({cpu:5.2f} s CPU)  target <= {target:.1f} s  {verdict}")
    fast_wall, fast_cpu = medians([SCRIPT, "plan", "--stack", "prod"], runs)
    slow_wall, slow_cpu = medians([sys.executable, "-c", WITH_TEARDOWN, "plan", "--stack", "prod"], runs)
    print(f"interpreter teardown skipped: plan {slow_wall:.2f} s ({slow_cpu:.2f} s CPU) with it, "
          f"{fast_wall:.2f} s ({fast_cpu:.2f} s CPU) without")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
