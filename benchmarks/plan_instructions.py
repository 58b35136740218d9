"""Instructions `scraper-ops` executes, whole process, counted by valgrind's callgrind: a figure the machine's speed
does not move.

plan_time.py's wall times move by 30-60 % within the hour on the shared 2-core machine, more than most changes save,
so a change to `plan` is judged here: the same code counts the same instructions within ~0.3 % (string hashing is
seeded with PYTHONHASHSEED=0; what is left is the order of a few allocations). Each command runs once untimed in the
environment of benchmarks/installed.py, then once under callgrind (~50 times slower: a `plan` takes ~1.5 minutes).
One more line counts running the modules of pulumi, pulumi-aws and pulumi-kubernetes that a prod plan runs, alone in
a process of their own as the console script runs (its collector thresholds, no teardown): a part of `plan` that
only the SDKs can make smaller. The commands run through the venv's console script, which imports the checkout the
venv was installed from; to measure another checkout, put it first on PYTHONPATH.
Usage: python benchmarks/plan_instructions.py   (needs valgrind; exits 3 without it)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from installed import ROOT, installed_environment, warm_up
from plan_time import PLAN, SCRIPT, TARGETS

SDKS = ("pulumi", "pulumi_aws", "pulumi_kubernetes")
# The names of the SDK modules a prod plan ran through the console script, in the order they entered sys.modules.
# pulumi-aws and pulumi-kubernetes register each service package as a lazy module (pulumi/_utils.py, `_LazyModule`)
# that runs on its first attribute access; the ~260 the plan never touched are left out.
RAN = "type(module).__name__ != '_LazyModule'"
LIST_SDK_MODULES = f"""
import sys
from automation import sdk_imports
sdk_imports.enable()
from automation.plan import offline_plan
offline_plan("prod")
print(" ".join(name for name, module in list(sys.modules.items()) if name.split(".")[0] in {SDKS!r} and {RAN}))
"""
# Those modules run in a process of their own, as the console script runs: its collector thresholds, its lazy
# service packages (automation/sdk_imports.py), no teardown. A package that is still a lazy module once imported is
# run by reading an attribute, as the plan ran it. The process prints how many SDK modules it ran, so that the
# benchmark can check it ran the plan's.
SDK_IMPORTS = f"""
import gc, importlib, os, sys
from automation import sdk_imports
from automation.__main__ import GC_THRESHOLDS
gc.set_threshold(*GC_THRESHOLDS)
sdk_imports.enable()
for name in {{modules!r}}:
    getattr(importlib.import_module(name), "__all__", None)
print(sum(1 for name, module in list(sys.modules.items()) if name.split(".")[0] in {SDKS!r} and {RAN}))
sys.stdout.flush()
os._exit(0)
"""


def instructions(name: str, command: list[str], env: dict[str, str], out: Path) -> int:
    """Instructions of one run of `command` (a Python command line) under callgrind, its profile written to `out`."""
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command], cwd=ROOT,
                         env={**env, "PYTHONHASHSEED": "0"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    if run.returncode != 0:
        raise SystemExit(f"{name} failed under callgrind (exit {run.returncode}):\n{run.stderr}")
    totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
    return int(totals[0].split()[1])


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind); nothing measured")
        return 3
    with installed_environment() as env, tempfile.TemporaryDirectory(prefix="scraper-ops-callgrind-") as scratch:
        commands = {" ".join(args): [sys.executable, SCRIPT, *args] for args, _ in TARGETS}
        for command in commands.values():
            warm_up(command, env)
        sdk_modules = subprocess.run([sys.executable, "-c", LIST_SDK_MODULES], check=True, cwd=ROOT, env=env,
                                     capture_output=True, text=True).stdout.split()
        sdk_imports = [sys.executable, "-c", SDK_IMPORTS.format(modules=sdk_modules)]
        ran = subprocess.run(sdk_imports, check=True, cwd=ROOT, env=env, capture_output=True, text=True).stdout
        if int(ran) != len(sdk_modules):  # also the untimed run that compiles their bytecode
            raise SystemExit(f"the SDK imports alone ran {int(ran)} SDK modules, the plan {len(sdk_modules)}")
        with ThreadPoolExecutor(max_workers=2) as pool:  # callgrind runs one thread; two cores, two runs at once
            runs = {**commands, "sdk": sdk_imports}
            counts = dict(zip(runs, pool.map(
                lambda index, name: instructions(name, runs[name], env, Path(scratch) / f"callgrind-{index}.out"),
                range(len(runs)), runs)))
    print("scraper-ops whole process, instructions counted by callgrind (PYTHONHASHSEED=0):")
    for name, count in counts.items():
        if name != "sdk":
            print(f"scraper-ops {name:24} {count / 1e6:7,.0f} M")
    plan = counts[" ".join(PLAN)]
    print(f"running the {len(sdk_modules)} modules of pulumi and its SDKs that a prod plan runs, alone: "
          f"{counts['sdk'] / 1e6:,.0f} M, {counts['sdk'] / plan:.0%} of the plan's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
