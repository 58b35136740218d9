"""Running scraper-ops in-process: through main(), or as its console script's entry runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.programs import REPO_ROOT


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from automation.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scraper_ops(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`scraper-ops ARGS` as its console script runs it (automation.__main__.run: main(), then an exit with its
    code), in this process: `env` added to the environment, `cwd` the working directory, stdout and stderr
    captured. `main()` is called rather than `run()`, whose exit skips the interpreter's teardown with
    `os._exit` and would end the test process. Starting an interpreter per call cost about 1.5 s."""
    import contextlib
    import io

    from automation.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        patch.chdir(cwd or REPO_ROOT)
        patch.setattr(sys, "argv", ["scraper-ops", *args])
        try:
            code = main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["scraper-ops", *args], code, out.getvalue(), err.getvalue())
