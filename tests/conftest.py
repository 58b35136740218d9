"""Shared fixtures: the prod stack's config and offline plans of it (the real program under the recording engine), a
moto server seeded from the plan, the fake app, simulated time. What they are built on is in tests/support/."""

from __future__ import annotations

import copy
import gc
import getpass
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

from automation.__main__ import GC_THRESHOLDS
from tests.support.clock import SimulatedClock
from tests.support.fake_app import FakeApp

if TYPE_CHECKING:
    from automation.engine import Plan

# This module imports only what its hooks need: the fixtures import the Pulumi SDK, boto3 and moto when they run,
# so pytest-xdist's controller, which runs no test, starts without them.

# Tests write only to temporary directories: hypothesis keeps its files (and, where a module does not turn it off
# as tests/support/properties.py does, its example database) in the system's temporary directory instead of
# .hypothesis/ in the checkout. The directory is the user's and outlives the run: hypothesis caches there the
# constants it reads from the project's modules (keyed by their source), which every worker otherwise parses again
# (~0.3 s). Read when hypothesis first needs it; set here without importing hypothesis.
HYPOTHESIS_FILES = Path(tempfile.gettempdir()) / f"scraper-ops-tests-hypothesis-{getpass.getuser()}"
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(HYPOTHESIS_FILES)

# A test process, like the console script, holds the Pulumi SDKs' million long-lived objects: with CPython's default
# thresholds the collector walks them again and again (program runs take twice as long). The console script's
# setting, for this process only.
gc.set_threshold(*GC_THRESHOLDS)


# Every test that talks to the moto server (aws_env, deployed...) or plans a config of its own through a fixture (the
# other such tests are marked slow one by one; tests/support/programs.py fails any that is not).
SLOW_FIXTURES = {"moto_endpoint", "plan_with", "standby_on_prods_replica_bucket"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The fast tier (`-m "not slow"`) leaves out the tests using SLOW_FIXTURES and those marked slow or integration."""
    for item in items:
        if SLOW_FIXTURES.intersection(item.fixturenames) or item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """An xdist worker's results are with the controller by now, and the controller waits for the worker's process to
    end before it reports. The interpreter's teardown would walk the worker's whole heap (SDK modules, plans, moto's
    backends: 250-400 MB) in its final collections: ~1.5 s of the run's wall time. Frozen, the heap is never walked
    again; what reference counting frees at the teardown is freed, cyclic garbage goes with the process. Last of the
    unconfigure hooks: pytest's own collection, which reports exceptions raised in finalizers, has run before."""
    if hasattr(config, "workerinput"):
        gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test of the fast tier that runs the program for a config of its own, in its body or through any fixture
    (this runs before them all), fails, naming the rule (tests/support/programs.py)."""
    from tests.support import programs

    programs._own_runs_allowed = item.get_closest_marker("slow") is not None


@pytest.fixture(autouse=True)
def reports_in_a_temporary_directory(tmp_path, monkeypatch):
    """Commands called without --out write their reports here, not into `reports/` of the checkout."""
    monkeypatch.setenv("SCRAPER_OPS_REPORT_DIR", str(tmp_path / "reports"))


@pytest.fixture(autouse=True)
def user_cache_in_a_temporary_directory(tmp_path, monkeypatch):
    """Console scripts a test starts keep their user cache (automation/user_cache.py) here, not in ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="session", autouse=True)
def program_runs_once_per_config(tmp_path_factory, worker_id, testrun_uid):
    """Every `run_program` of the project and the tests (the CLI's `plan`, the offline backend...) is the memoized one,
    and pytest-xdist's workers share their plans: each config runs once per session, not once per worker."""
    from tests.support.programs import memoize_everywhere, share_plans

    with pytest.MonkeyPatch.context() as patch:
        memoize_everywhere(patch)
        if worker_id != "master":  # named for the session: the workers' temporary directories share this parent
            share_plans(patch, tmp_path_factory.getbasetemp().parent / f"plans-{testrun_uid}")
        yield


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    from tests.support.programs import prod_config, run_program

    return run_program("prod", prod_config())


@pytest.fixture(scope="session")
def standby_plan() -> Plan:
    """The prod-dr stack file's plan: prod's standby in the DR region."""
    from automation.stack_files import read_stack_file
    from tests.support.programs import REPO_ROOT, run_program

    return run_program("prod-dr", read_stack_file("prod-dr", REPO_ROOT))


@pytest.fixture
def plan_with() -> Callable[..., Plan]:
    from tests.support.programs import prod_config, run_program, with_changes

    def run(**changes: Any) -> Plan:
        return run_program("prod", with_changes(prod_config(), **changes))

    return run


@pytest.fixture
def prod_plan_json(prod_plan: Plan) -> dict[str, Any]:
    return copy.deepcopy(prod_plan.to_json())


@pytest.fixture(scope="session")
def moto_endpoint():
    from tests.support.moto_stack import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch, simulated_clock):
    """Environment of a process that talks to the moto server; the server is reset for each test.

    What waits on AWS in this process waits on simulated time: botocore's retry backoff (moto answers 500 to the
    operations it lacks, which the clients' standard retries retry five times, ~1 s of real sleep) on a clock of its
    own, so that its jittered delays never reach the smoke checks' clock, and the DR drill's polling for the
    sentinel's replication on the test's clock (`dr.Polling`; a test building its own passes clock and sleep by
    keyword)."""
    import functools
    import types

    import botocore.endpoint

    from automation import dr
    from tests.support.moto_stack import REGION, reset_moto

    # botocore.endpoint uses its `time` for the retry's sleep alone (Endpoint._needs_retry).
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=SimulatedClock().sleep))
    monkeypatch.setattr(dr, "Polling", functools.partial(dr.Polling, clock=simulated_clock, sleep=simulated_clock.sleep))
    reset_moto()
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "SCRAPER_OPS_WAIT_DELAY_SECONDS": "1",
    }
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SCRAPER_OPS_OUTPUTS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def deployed(aws_env, prod_plan, tmp_path) -> dict[str, Any]:
    """The prod stack 'deployed' into moto: its outputs, also saved as outputs.json (the CLI's --outputs)."""
    from tests.support.moto_stack import deploy

    [outputs] = deploy(prod_plan)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return {"outputs": outputs, "file": path}


@pytest.fixture(autouse=True)
def simulated_clock(monkeypatch) -> SimulatedClock:
    """The smoke checks' latency clock and retry backoff run on simulated time (see automation.smoke.CLOCK)."""
    from automation import smoke

    clock = SimulatedClock()
    monkeypatch.setattr(smoke, "CLOCK", clock)
    monkeypatch.setattr(smoke, "SLEEP", clock.sleep)
    return clock


@pytest.fixture
def fake_app(simulated_clock):
    app = FakeApp(simulated_clock)
    yield app
    app.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on which nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


