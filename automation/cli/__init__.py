"""The `scraper-ops` command: the operations guide's scripts as one CLI.

This package is the thin layer over the jobs: one module per command group parses its options, calls its job and
renders the typed result (`common` holds the shared options and rendering); the jobs never print. Exit codes are
mapped here only (DESIGN.md): 0 done and healthy, 1 a check failed, 2 bad input or usage, 3 the environment is
missing something.

Job modules are imported inside their commands, so that `plan` (the main job, with a start-up budget) and
`--help` do not load the HTTP, Automation API and charting stacks they do not use.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import typer

from automation.cli import backup, capacity, checklist, cost, dr, maintenance, metrics, plan, release, scale, smoke
from automation.cli.common import stderr, stdout, waits
from automation.console import ReaderMayLeave
from automation.errors import OpsError

app = typer.Typer(
    name="scraper-ops",
    help="Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Click's plain help: flags read `--json`, not `--json <bool>`; help text is never markup
)
app.command("plan")(plan.plan)
app.add_typer(plan.policy_app, name="policy")
app.command("smoke")(smoke.smoke)
app.add_typer(metrics.metrics_app, name="metrics")
app.add_typer(backup.backup_app, name="backup")
app.add_typer(dr.dr_app, name="dr")
app.command("checklist")(checklist.checklist)
app.add_typer(maintenance.maintenance_app, name="maintenance")
app.command("scale")(scale.scale_command)
app.add_typer(capacity.capacity_app, name="capacity")
app.add_typer(cost.cost_app, name="cost")
app.add_typer(release.release_app, name="release")

_session = {"debug": False}


def _version(asked: bool) -> None:
    if asked:
        stdout.print(f"scraper-ops {_installed_version()}", markup=False)
        raise typer.Exit()


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("social-media-scraper-ops")
    except PackageNotFoundError:  # run from a checkout that was never installed
        import tomllib
        return tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["version"]


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="On an unexpected error, print its traceback."),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version of scraper-ops and exit.")) -> None:
    """Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports."""
    _session["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: runs the app and turns every error into its exit code and one clear line.

    An error no code path expected is one line too, with its traceback only under `--debug`. stdout may close
    early (piped into `head`): the command still runs to its end and its exit code is its own.
    """
    _session["debug"] = False
    real_stdout = sys.stdout
    sys.stdout = ReaderMayLeave(real_stdout)
    try:
        return _run(argv)
    finally:
        waits.close()
        sys.stdout.flush()
        sys.stdout = real_stdout


@functools.cache
def _command() -> typer.core.TyperGroup:
    """`app` as the click command it runs, built once per process. Calling `app` builds it again each time (~15 ms:
    every command's signature is inspected), which a process that runs several commands (the tests) pays each time;
    the rest of what the call adds (typer's exception hook, a marker on escaping exceptions for its pretty
    tracebacks) does nothing with pretty exceptions off."""
    return typer.main.get_command(app)


def _run(argv: list[str] | None) -> int:
    try:
        _command()(args=argv, standalone_mode=False)
    except OpsError as error:
        stderr.print(f"scraper-ops: {error}", markup=False, highlight=False)
        return error.exit_code
    except typer.Exit as error:
        return error.exit_code
    except typer.Abort:
        stderr.print("scraper-ops: aborted", markup=False)
        return 130
    except typer.TyperException as error:  # usage errors: unknown option, missing argument, out of range...
        context, message = getattr(error, "ctx", None), " ".join(error.format_message().split())
        if message:  # empty after a group's help was shown (no command given)
            help_hint = f"; see `{context.command_path} --help`" if context is not None else ""
            stderr.print(f"scraper-ops: {message}{help_hint}", markup=False, highlight=False)
        return 2 if error.exit_code == 1 else error.exit_code
    except Exception as error:  # noqa: BLE001 - the top-level handler: one line, the traceback only on request
        if _session["debug"]:
            traceback.print_exc()
        stderr.print(f"scraper-ops: unexpected error: {type(error).__name__}: {error} "
                     "(run with --debug before the command for the traceback)", markup=False, highlight=False)
        return 1
    return 0
