"""CPU time of `scraper-ops plan --stack prod --manifests DIR` against checkov scanning the same DIR.

Target (issue 12): the plan costs at most 0.7 times checkov's CPU.

CPU seconds are the user + system time of the child process (rusage of children), so time spent waiting
on the disk or on other processes does not count. Both run in the environment of benchmarks/installed.py
(bytecode compiled, as pip compiles it for each; caches warm after one untimed run of each). checkov is found
through $CHECKOV, else on the PATH, else at /opt/checkov/bin/checkov (README, "checkov"); without it the
benchmark says so and exits 3.
Usage: python benchmarks/manifests_vs_checkov.py [runs]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from installed import ROOT, installed_environment, load_average, warm_up

DEFAULT_CHECKOV = Path("/opt/checkov/bin/checkov")
TARGET_RATIO = 0.7


def find_checkov() -> str | None:
    named = os.environ.get("CHECKOV")
    if named and not os.access(named, os.X_OK):
        print(f"$CHECKOV is {named!r}, which is not an executable file", file=sys.stderr)
        sys.exit(2)
    named = named or shutil.which("checkov")
    if named:
        return named
    return str(DEFAULT_CHECKOV) if os.access(DEFAULT_CHECKOV, os.X_OK) else None


def child_cpu_seconds(command: list[str], env: dict[str, str], accepted_exit_codes: tuple[int, ...] = (0,)) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in accepted_exit_codes:
        sys.exit(f"{command[0]} exited {completed.returncode}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(runs: int) -> None:
    checkov = find_checkov()
    if checkov is None:
        print("skipped: checkov not found; set $CHECKOV, put checkov on the PATH or install it in "
              f"its own venv at {DEFAULT_CHECKOV.parent.parent} (README, checkov)")
        sys.exit(3)
    scraper_ops = str(Path(sys.executable).with_name("scraper-ops"))
    print(f"CPU seconds, median of {runs} runs (children's user + system time); {load_average()}")
    with installed_environment() as env, tempfile.TemporaryDirectory() as workdir:
        manifests = str(Path(workdir) / "manifests")
        plan_command = [scraper_ops, "plan", "--stack", "prod", "--manifests", manifests]
        # checkov exits 1 when a check failed: the scan still ran in full.
        scan_command = [checkov, "--directory", manifests, "--framework", "kubernetes", "--compact", "--skip-download",
                        "--output", "json"]
        warm_up(plan_command, env)
        warm_up(scan_command, env)
        plan, scan = [], []
        for _ in range(runs):  # alternated, so that both see the same neighbours on a shared machine
            plan.append(child_cpu_seconds(plan_command, env))
            scan.append(child_cpu_seconds(scan_command, env, accepted_exit_codes=(0, 1)))
    plan_median, scan_median = statistics.median(plan), statistics.median(scan)
    print(f"scraper-ops plan --stack prod --manifests DIR  {plan_median:6.2f} s")
    print(f"checkov -d DIR --framework kubernetes          {scan_median:6.2f} s")
    ratio = plan_median / scan_median
    print(f"plan / checkov                                 {ratio:6.2f}  target <= {TARGET_RATIO}  "
          + ("PASS" if ratio <= TARGET_RATIO else "FAIL"))
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
