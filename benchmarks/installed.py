"""The environment the benchmarks run `scraper-ops` in: as pip installs it, measured on a known load.

`pip install` compiles every module's bytecode; a checkout run with PYTHONDONTWRITEBYTECODE=1 (as the development
venv here is) compiles the project's ~60 modules again in every process (~0.1 s of a `plan`). So the children run
with bytecode written to, and read from, a scratch directory (PYTHONPYCACHEPREFIX: nothing lands in the checkout or
a venv), and with the user cache of automation/user_cache.py there too; one untimed run of each command fills both
first, as a user's first run does. checkov gets the same treatment. The load average is printed before and after:
on a shared machine, wall time says more about the neighbours than about the command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def installed_environment() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="scraper-ops-benchmark-") as scratch:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=str(Path(scratch) / "bytecode"), XDG_CACHE_HOME=str(Path(scratch) / "cache"))
        yield env


def warm_up(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
