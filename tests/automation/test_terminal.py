"""The CLI as an SRE reads it: in a terminal, through a pipe and in CI's log.

capsys gives a non-TTY stdout (what a pipe or CI gives the CLI); a console with `force_terminal=True` and a
fixed width stands for a terminal.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from importlib.metadata import version

import boto3
import pytest
import typer
from botocore.exceptions import WaiterError
from botocore.stub import Stubber

from automation import backup
from automation.cli import app
from automation.console import OpsConsole, Table, WaitReporter
from automation.progress import Waiting
from tests.automation.test_capacity_cost import project  # noqa: F401 - a copy of the project files
from tests.support.cli import run_cli

LONG_TYPE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ELLIPSIS = "…"


class SimulatedClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def terminal(width: int = 80, colours: str | None = None) -> tuple[OpsConsole, io.StringIO]:
    screen = io.StringIO()
    return OpsConsole(file=screen, force_terminal=True, width=width, color_system=colours), screen


# -- identifiers are never cut ----------------------------------------------------------------------------------


def test_piped_output_keeps_every_identifier_whole_whatever_columns_says(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(capsys, "plan", "--stack", "prod")
    assert code == 0
    assert len(LONG_TYPE) > 80
    row = next(line for line in out.splitlines() if LONG_TYPE in line)
    assert re.search(rf"│ {re.escape(LONG_TYPE)} +│ +3 │", row), "the type and its count share one row"
    assert ELLIPSIS not in out


def test_a_narrow_terminal_folds_a_long_identifier_onto_more_lines_instead_of_cutting_it():
    console, screen = terminal(width=40)
    table = Table(title="Policy violations")
    for column in ("level", "policy", "resource"):
        table.add_column(column)
    resource = "scraper-prod-storage-data-replica-bucket-ownership-controls"
    table.add_row("mandatory", "s3-bucket-replication-encrypted-with-dr-key", resource)
    console.print(table)
    lines = screen.getvalue().splitlines()
    assert ELLIPSIS not in screen.getvalue()
    assert all(len(line) <= 40 for line in lines)
    cells = [line.split("│")[3].strip() for line in lines if line.count("│") == 4]
    assert "".join(cells) == resource, "the folded pieces read back as the name"


def test_region_names_and_booleans_are_not_coloured():
    console, screen = terminal(colours="truecolor")
    console.print("replica in us-west-2: encrypted True, lag 12 s")
    assert "\x1b[" not in screen.getvalue()


# -- the command line itself ------------------------------------------------------------------------------------


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert (code, out) == (0, f"scraper-ops {version('social-media-scraper-ops')}\n")


def _commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_boolean_option_reads_as_a_flag_in_help(capsys):
    commands = list(_commands(typer.main.get_command(app)))
    flags = 0
    for path, command in commands:
        code, out, _ = run_cli(capsys, *path, "--help")
        assert code == 0 and "<bool>" not in out, path
        for param in command.params:
            if getattr(param, "is_flag", False):
                flags += 1
                assert re.search(rf"^\s+{re.escape(param.opts[0])}\s{{2,}}\S", out, re.M), (path, param.opts)
    assert flags > len(commands), "the JSON and dry-run flags were checked"


def test_without_the_pulumi_cli_the_error_offers_the_offline_backend(capsys, tmp_path, monkeypatch, project):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run_cli(capsys, "maintenance", "rehearse", "--stack", "prod")
    assert code == 3 and out == ""
    assert "no Pulumi CLI: install the Pulumi CLI" in err and "or pass --backend offline" in err


# -- maintenance ------------------------------------------------------------------------------------------------


def test_rehearse_prints_a_summary_and_each_change_once_without_empty_columns(capsys, project):
    code, out, err = run_cli(capsys, "maintenance", "rehearse", "--stack", "prod", "--backend", "offline")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("│ create ")]
    assert rows, "the changes are tabulated"
    assert f"{len(rows)} create, 0 update, 0 replace, 0 delete (0 unchanged)" in out.splitlines()
    names = [row.split("│")[3].strip() for row in rows]
    assert len(set(names)) == len(names)
    assert "changed keys" not in out, "no create has changed keys: the empty column is dropped"
    assert not any(name in err for name in names), "no progress line repeats a row"


def test_maintenance_next_says_how_long_until_the_window_and_what_the_cutoff_means(capsys):
    code, out, _ = run_cli(capsys, "maintenance", "next", "--stack", "prod", "--count", "1")
    assert code == 0
    assert re.search(r"^the next window of prod starts in (\d+ d )?(\d+ h )?(\d+ min)?", out, re.M)
    assert "cutoff = the window's end minus 15 min: a run starts no step that could not end before it" in out


# -- progress of long waits -------------------------------------------------------------------------------------


def _snapshot(status: str) -> dict:
    return {"DBSnapshots": [{"DBSnapshotIdentifier": "db-1", "Status": status}]}


def _stubbed_rds(statuses: list[str]):
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(rds)
    for status in statuses:
        stub.add_response("describe_db_snapshots", _snapshot(status), {"DBSnapshotIdentifier": "db-1"})
    stub.activate()
    return rds, stub


def test_a_snapshot_wait_reports_elapsed_time_and_deadline_on_the_jobs_clock():
    """botocore's Stubber gives the states moto never shows (a snapshot moto creates is available at once)."""
    clock, seen = SimulatedClock(), []
    rds, stub = _stubbed_rds(["creating", "creating", "available"])
    wait = backup.WaitPolicy(delay_seconds=30, clock=clock, sleep=clock.sleep, observe=seen.append)
    backup.wait_until(rds, "db_snapshot_available", "snapshot db-1", wait, 600, DBSnapshotIdentifier="db-1")
    stub.assert_no_pending_responses()
    assert seen == [Waiting("snapshot db-1", 0.0, 600), Waiting("snapshot db-1", 30.0, 600),
                    Waiting("snapshot db-1", 60.0, 600, done=True)]


def test_a_wait_past_its_deadline_fails_with_the_deadline_named():
    clock = SimulatedClock()
    rds, stub = _stubbed_rds(["creating"] * 3)
    wait = backup.WaitPolicy(delay_seconds=30, clock=clock, sleep=clock.sleep)
    with pytest.raises(WaiterError, match="not ready within the deadline of 60 s"):
        backup.wait_until(rds, "db_snapshot_available", "snapshot db-1", wait, 60, DBSnapshotIdentifier="db-1")
    stub.assert_no_pending_responses()
    assert clock.now == 60.0, "checked at 0, 30 and 60 s, never slept past the deadline"


def test_a_failed_snapshot_stops_the_wait_at_once():
    clock = SimulatedClock()
    rds, _ = _stubbed_rds(["failed"])
    wait = backup.WaitPolicy(delay_seconds=30, clock=clock, sleep=clock.sleep)
    with pytest.raises(WaiterError, match="terminal failure state"):
        backup.wait_until(rds, "db_snapshot_available", "snapshot db-1", wait, 600, DBSnapshotIdentifier="db-1")
    assert clock.now == 0.0


def test_in_a_pipe_a_long_wait_prints_a_plain_line_a_minute_and_a_short_one_nothing():
    log = io.StringIO()
    reporter = WaitReporter(OpsConsole(file=log), every_seconds=60)
    for elapsed in (0, 30, 60, 90, 130):
        reporter(Waiting("copy of db-1 to us-west-2", elapsed, 10800))
    reporter(Waiting("copy of db-1 to us-west-2", 140, 10800, done=True))
    reporter(Waiting("snapshot db-2", 0, 10800))
    reporter(Waiting("snapshot db-2", 20, 10800, done=True))
    reporter(Waiting("maintenance step update", 0, 5400))
    reporter(Waiting("maintenance step update", 600, 5400, done=True))
    assert log.getvalue().splitlines() == [
        "copy of db-1 to us-west-2: 0:01:00 elapsed, deadline 3:00:00 (2:59:00 left)",
        "copy of db-1 to us-west-2: 0:02:10 elapsed, deadline 3:00:00 (2:57:50 left)",
        "copy of db-1 to us-west-2: ended after 0:02:20",
        "maintenance step update: ended after 0:10:00",
    ]


def test_in_a_pipe_a_step_reported_only_at_its_ends_still_gets_a_line_a_minute():
    """`pulumi up` gives a maintenance step no heartbeat: the reporter's ticker counts on from the step's start."""
    log, clock = io.StringIO(), SimulatedClock()
    reporter = WaitReporter(OpsConsole(file=log), every_seconds=60, clock=clock, auto_refresh=False)
    reporter(Waiting("maintenance step update", 0, 2700))
    for now in (30, 61, 90, 125):
        clock.now = now
        reporter.tick()
    reporter(Waiting("maintenance step update", 130, 2700, done=True))
    clock.now = 400
    reporter.tick()
    assert log.getvalue().splitlines() == [
        "maintenance step update: 0:01:01 elapsed, deadline 0:45:00 (0:43:59 left)",
        "maintenance step update: 0:02:05 elapsed, deadline 0:45:00 (0:42:55 left)",
        "maintenance step update: ended after 0:02:10",
    ]


def test_on_a_terminal_a_wait_is_a_live_line_whose_elapsed_time_ticks():
    console, screen = terminal(width=100)
    clock = SimulatedClock()
    reporter = WaitReporter(console, clock=clock, auto_refresh=False)
    reporter(Waiting("maintenance step backup", 0, 1800))
    clock.now = 90
    reporter(Waiting("snapshot db-1 in us-east-1", 0, 10800))
    shown = screen.getvalue()
    assert "maintenance step backup: 0:01:30 elapsed, deadline 0:30:00 (0:28:30 left)" in shown
    assert "snapshot db-1 in us-east-1: 0:00:00 elapsed, deadline 3:00:00 (3:00:00 left)" in shown
    reporter(Waiting("snapshot db-1 in us-east-1", 95, 10800, done=True))
    reporter(Waiting("maintenance step backup", 100, 1800, done=True))
    assert "snapshot db-1 in us-east-1: ended after 0:01:35" in screen.getvalue()
    assert reporter._live is None, "the live display ends with the last wait"


def test_the_cli_hands_its_reporter_to_the_jobs(monkeypatch):
    from automation.cli import common

    monkeypatch.delenv("SCRAPER_OPS_WAIT_DELAY_SECONDS", raising=False)
    assert common.wait_policy().observe is common.waits
    monkeypatch.setenv("SCRAPER_OPS_WAIT_DELAY_SECONDS", "5")
    assert common.wait_policy().observe is common.waits


def test_the_dr_sentinel_wait_is_reported_until_it_arrives(deployed):
    from automation.aws import Aws
    from automation.dr import DrResult, Polling, check_bucket_replication
    from automation.outputs import parse_outputs
    from tests.automation.test_dr import SimulatedReplication
    from tests.support.moto_stack import DR_REGION, REGION

    outputs = parse_outputs(deployed["outputs"], "test")
    simulated, seen = SimulatedReplication(outputs.dataBucket, outputs.dataReplicaBucket, 2.0), []
    result = DrResult(checks=[], replica_lag_seconds=1.0)
    check_bucket_replication(Aws(REGION, DR_REGION), outputs, datetime.now(timezone.utc), result, 60,
                             Polling(0.5, clock=simulated.clock, sleep=simulated.sleep, observe=seen.append))
    *waiting, arrived = seen
    assert waiting and all(not w.done and w.deadline_seconds == 60 for w in waiting)
    assert [w.elapsed_seconds for w in waiting] == sorted(w.elapsed_seconds for w in waiting)
    assert waiting[-1].elapsed_seconds < 2.0
    assert arrived.done and arrived.elapsed_seconds == result.replication.upper_seconds
    assert outputs.dataReplicaBucket in arrived.what


def test_each_maintenance_step_is_reported_with_the_cutoff_as_its_deadline(deployed, fake_app):
    from tests.automation.test_maintenance import WINDOW, Harness, outside_the_window
    from automation.maintenance import MaintenanceRun, Options
    from tests.support.programs import NEW_IMAGE, OLD_IMAGE

    harness, seen, said = Harness(deployed, fake_app), [], []
    wait = backup.WaitPolicy(delay_seconds=1, snapshot_timeout_seconds=5, instance_timeout_seconds=5,
                             observe=seen.append)
    record = MaintenanceRun(harness.runner, harness.aws, harness.outputs, WINDOW, OLD_IMAGE,
                            Options(image=NEW_IMAGE, force=True, reason="test", smoke_url=fake_app.url),
                            clock=outside_the_window, wait=wait, say=said.append).run()
    assert record.outcome == "succeeded"
    cutoff = datetime.fromisoformat(record.window["cutoff"])
    for step in record.steps:
        left = (cutoff - datetime.fromisoformat(step.started)).total_seconds()
        what = f"maintenance step {step.name}"
        assert Waiting(what, 0.0, left) in seen and [w for w in seen if w.what == what][-1].done, step.name
        assert any(line.startswith(f"[{record.run_id}] {step.name}... (cutoff {cutoff:%H:%M} UTC, in ")
                   for line in said), step.name
    assert any(w.what.startswith("snapshot ") for w in seen), "the backup's own waits are reported too"
