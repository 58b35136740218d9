"""Whole-process time of `scraper-ops plan --stack prod` (interpreter start, imports, program, summary).

Target: median under 3 s on a 2-core machine. Usage: python benchmarks/plan_time.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 3.0


def main(runs: int) -> None:
    script = Path(sys.executable).with_name("scraper-ops")
    command = [str(script), "plan", "--stack", "prod"]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    print(f"scraper-ops plan --stack prod, {runs} runs")
    print(f"median {median:.2f} s  min {min(timings):.2f} s  max {max(timings):.2f} s  target < {TARGET_SECONDS:.1f} s")
    print("within target" if median < TARGET_SECONDS else "OVER TARGET")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
