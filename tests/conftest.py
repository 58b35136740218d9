"""Shared fixtures: the prod stack's config and offline plans of it (the real program under the recording engine)."""

from __future__ import annotations

import copy
import copyreg
import functools
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import boto3
import numpy
import pytest
import yaml
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir
from moto.cloudwatch import models as cloudwatch_models
from moto.rds import models as rds_models
from moto.server import ThreadedMotoServer
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from automation.engine import Plan, PlannedResource, run_program
from automation.stack_files import read_stack_file

REPO_ROOT = Path(__file__).resolve().parent.parent


# Tests write only to temporary directories: hypothesis keeps no example database, and its caches go to a
# temporary directory instead of .hypothesis/ in the checkout.
hypothesis_settings.register_profile("no-database", database=None)
hypothesis_settings.load_profile("no-database")
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))


# Every test that talks to the moto server (aws_env, deployed...) or runs the program with changed configs.
SLOW_FIXTURES = {"moto_endpoint", "plan_with"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The fast tier (`-m "not slow"`) leaves out the tests using SLOW_FIXTURES and those marked slow or integration."""
    for item in items:
        if SLOW_FIXTURES.intersection(item.fixturenames) or item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def reports_in_a_temporary_directory(tmp_path, monkeypatch):
    """Commands called without --out write their reports here, not into `reports/` of the checkout."""
    monkeypatch.setenv("SCRAPER_OPS_REPORT_DIR", str(tmp_path / "reports"))


@pytest.fixture(autouse=True)
def user_cache_in_a_temporary_directory(tmp_path, monkeypatch):
    """Console scripts a test starts keep their user cache (automation/user_cache.py) here, not in ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


OLD_IMAGE = "ghcr.io/social-media-scraper/app:2.4.1@sha256:5c3e8f1a9b2d4c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6"
NEW_IMAGE = f"ghcr.io/social-media-scraper/app:2.5.0@sha256:{'5' * 64}"


def prod_config() -> dict[str, str]:
    return read_stack_file("prod", REPO_ROOT)


def with_changes(raw: dict[str, str], **changes: Any) -> dict[str, str]:
    """A copy of raw stack config with keys of the project namespace replaced or merged.

    `app={"image": "x:1"}` merges into the existing object; `None` removes the key.
    """
    result = dict(raw)
    for name, change in changes.items():
        key = name if ":" in name else f"social-media-scraper:{name}"
        if change is None:
            result.pop(key, None)
        elif isinstance(change, dict) and key in result:
            merged = json.loads(result[key])
            merged.update(change)
            result[key] = json.dumps(merged)
        else:
            result[key] = change if isinstance(change, str) else json.dumps(change)
    return result


def resources_of(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def resource(plan: Plan, type_: str, name: str) -> PlannedResource:
    matches = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"expected one {type_} named {name}, found {len(matches)}"
    return matches[0]


# The program is deterministic (tests/automation/test_plan.py::test_plans_are_deterministic runs it twice for real),
# so each config runs once per session: later runs get a deep copy of the first plan, which a test may edit freely.
_plans: dict[str, Plan] = {}


def run_program_uncached(stack: str, raw_config: dict[str, str], *args: Any, **kwargs: Any) -> Plan:
    return _run_program(stack, raw_config, *args, **kwargs)


def _run_program_once(stack: str, raw_config: dict[str, str], program: Callable | None = None, *args: Any,
                      **kwargs: Any) -> Plan:
    if program is not None:  # a test's own program: no key can tell two of them apart
        return _run_program(stack, raw_config, program, *args, **kwargs)
    key = json.dumps([stack, sorted(raw_config.items()), args, sorted(kwargs.items())])
    if key not in _plans:
        _plans[key] = _run_program(stack, raw_config, *args, **kwargs)  # a ConfigError is raised, never kept
    return _plans[key].model_copy(deep=True)


_run_program = run_program
run_program = _run_program_once


@pytest.fixture(scope="session", autouse=True)
def program_runs_once_per_config():
    """Every `run_program` of the project and the tests (the CLI's `plan`, the offline backend...) is the memoized one."""
    with pytest.MonkeyPatch.context() as patch:
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in ("automation", "infra", "tests") and getattr(module, "run_program", None) is _run_program:
                patch.setattr(module, "run_program", _run_program_once)
        yield


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return run_program("prod", prod_config())


@pytest.fixture
def plan_with() -> Callable[..., Plan]:
    def run(**changes: Any) -> Plan:
        return run_program("prod", with_changes(prod_config(), **changes))

    return run


@pytest.fixture
def prod_plan_json(prod_plan: Plan) -> dict[str, Any]:
    return copy.deepcopy(prod_plan.to_json())


# ---------------------------------------------------------------------------------------------
# AWS: a moto server on 127.0.0.1, and the prod stack's resources seeded into it.

REGION, DR_REGION = "us-east-1", "us-west-2"


def _with_percentiles(original):
    """moto computes no pNN statistics (GetMetricData crashes on them); the fake gains nearest-rank percentiles,
    from numpy rather than the project's own `percentile`, so the fake never agrees with the code by construction."""

    def get_statistics_for_type(self, stat):
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            values = self.metric_single_values_list
            return float(numpy.percentile(values, float(stat[1:]), method="inverted_cdf")) if values else None
        return original(self, stat)

    return get_statistics_for_type


def _restores_unprotected(original):
    """RDS restores a snapshot without deletion protection unless the request asks for it ("By default, deletion
    protection isn't enabled": botocore's rds model, RestoreDBInstanceFromDBSnapshot, DeletionProtection); moto 5
    copies the flag of the snapshot's source instance, which the plan protects."""

    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):
        instance = original(self, from_snapshot_id, overrides)
        instance.deletion_protection = bool(overrides.get("deletion_protection"))
        return instance

    return restore_db_instance_from_db_snapshot


@pytest.fixture(scope="session")
def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cloudwatch_models.Statistics, "get_statistics_for_type",
                      _with_percentiles(cloudwatch_models.Statistics.get_statistics_for_type))
        patch.setattr(rds_models.RDSBackend, "restore_db_instance_from_db_snapshot",
                      _restores_unprotected(rds_models.RDSBackend.restore_db_instance_from_db_snapshot))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


# Kept across tests: EC2 holds only the networks the seeds create (VPCs and subnets for the DB subnet groups), which
# no job reads or changes; re-creating EC2's defaults (default VPC, 1,300 AMIs and snapshots per region) after every
# reset was most of a seed's cost.
KEPT_ACROSS_TESTS = ("ec2",)


def reset_moto() -> None:
    """What POST /moto-api/reset does (moto_api/_internal/models.py: BackendDict.reset, reset_model_data), for
    every service but those in KEPT_ACROSS_TESTS. The server runs in this process, so its backends are here."""
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data

    with backend_lock:
        kept = [b for b in BackendDict._instances if b.service_name in KEPT_ACROSS_TESTS]
        BackendDict._instances[:] = [b for b in BackendDict._instances if b not in kept]
        BackendDict.reset()
        reset_model_data()
        BackendDict._instances.extend(kept)


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """Environment of a process that talks to the moto server; the server is reset for each test."""
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


CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


@functools.cache
def _client(service: str, region: str, environment: tuple[str | None, ...]):
    return boto3.client(service, region_name=region)


def client(service: str, region: str = REGION):
    """A boto3 client, created once per service, region and AWS environment (endpoint, credentials): creating one
    costs tens of milliseconds, and a seed uses about 25."""
    return _client(service, region, tuple(os.environ.get(name) for name in CLIENT_ENVIRONMENT))


def network(region: str, cidr: str) -> list[str]:
    """Two subnets (zones a and b) of the VPC with this CIDR block, created when EC2 has none yet (see
    KEPT_ACROSS_TESTS): what a DB subnet group needs."""
    ec2 = client("ec2", region)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr-block", "Values": [cidr]}])["Vpcs"]
    if vpcs:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
        return [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    prefix = cidr.rsplit(".", 2)[0]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))]


# The seed replays the API requests the plan of a stack would send (the AWS-model stage's translation of every
# planned AWS resource: one description of the stack), for the services the ops jobs call. Not replayed: IAM and
# Secrets Manager (no job calls them), EKS add-ons (the cluster is not the stack's), Route 53 records (the hosted
# zone is not the stack's; the DR tests create their own).
SEEDED_SERVICES = frozenset({"kms", "s3", "rds", "sqs", "sns", "dynamodb", "backup", "cloudwatch"})
NOT_REPLAYED = {
    ("kms", "ScheduleKeyDeletion"): "the stage's rendering of the key's deletion window, applied on delete",
    ("cloudwatch", "PutCompositeAlarm"): "moto 5 raises NotImplementedError",
    ("backup", "CreateBackupSelection"): "moto 5 answers 500",
    ("rds", "StartDBInstanceAutomatedBackupsReplication"): "moto 5 answers no XML",
    ("s3", "PutBucketPolicy"): "the policies deny requests without TLS (aws:SecureTransport), moto enforces bucket "
                               "policies, and the tests reach moto over plain HTTP",
}
# What a create returns in place of the offline engine's id: {(service, operation): {planned output: response path}}.
# The offline id of a backup plan is its name.
CHOSEN_IDS = {
    ("kms", "CreateKey"): {"keyId": ("KeyMetadata", "KeyId")},
    ("sqs", "CreateQueue"): {"url": ("QueueUrl",)},
    ("backup", "CreateBackupPlan"): {"name": ("BackupPlanId",)},
}
NETWORKS = {REGION: "10.10.0.0/16", DR_REGION: "10.20.0.0/16"}


def replayed_requests(plan: Plan) -> list[Any]:
    """The plan's API requests for SEEDED_SERVICES, a resource's after those of the resources it depends on and its
    creating request first (the provider creates a read replica, then modifies it)."""
    from automation.aws_model import check_plan

    by_urn, order, ranks = {r.urn: r for r in plan.resources}, {}, itertools.count()

    def visit(urn: str) -> None:
        if urn in by_urn and urn not in order:
            order[urn] = -1  # being visited
            for dependency in by_urn[urn].dependencies:
                visit(dependency)
            order[urn] = next(ranks)

    for planned in plan.resources:
        visit(planned.urn)
    requests = [q for q in check_plan(plan).requests
                if q.service in SEEDED_SERVICES and (q.service, q.operation) not in NOT_REPLAYED]
    return sorted(requests, key=lambda q: (order[q.urn], not q.operation.startswith("Create")))


def _replaced(document: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(document)
    for offline in sorted(ids, key=len, reverse=True):
        text = text.replace(offline, ids[offline])
    return json.loads(text)


def seed_stack(plan: Plan) -> dict[str, Any]:
    """Create in moto what `pulumi up` of the plan's stack creates, as the plan's own API requests, and leave every
    alarm OK (a healthy stack). What the stack takes as given, its DB subnet groups, is created first.

    Returns the stack outputs as `pulumi stack output --json` would after that deploy: the plan's outputs with the
    ids AWS chose (keys, queue URLs, plan id) in place of the offline ones.
    """
    from botocore import xform_name

    requests, ids = replayed_requests(plan), {}
    given = {(q.region, q.params["DBSubnetGroupName"]) for q in requests if "DBSubnetGroupName" in q.params}
    # moto gap: a cross-region replica is a copy of its source that keeps the source's region, so moto looks its
    # subnet group up in the source's region (RDS uses the replica's own); the same name there satisfies moto.
    given |= {(q.params["SourceDBInstanceIdentifier"].split(":")[3], q.params["DBSubnetGroupName"]) for q in requests
              if q.operation == "CreateDBInstanceReadReplica" and "DBSubnetGroupName" in q.params}
    for region, group in sorted(given):
        rds = client("rds", region)
        if group not in {g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]}:
            rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="given to the stack",
                                       SubnetIds=network(region, NETWORKS[region]))
    resources = {r.urn: r for r in plan.resources}
    for request in requests:
        api = client(request.service, request.region)
        response = getattr(api, xform_name(request.operation))(**_replaced(request.params, ids))
        for output, path in CHOSEN_IDS.get((request.service, request.operation), {}).items():
            chosen = functools.reduce(dict.__getitem__, path, response)
            ids[resources[request.urn].outputs[output]] = chosen
        if request.operation == "PutMetricAlarm":
            api.set_alarm_state(AlarmName=request.params["AlarmName"], StateValue="OK", StateReason="seeded")
    return _replaced(plan.outputs, ids)


class MotoSnapshot:
    """moto's backends after a seed, restored for each test instead of seeding again: the server runs in this process,
    so its backends are here. Locks are not copied (copyreg: a copy gets a fresh lock)."""

    def __init__(self):
        from moto.core.base_backend import BackendDict

        copyreg.pickle(type(threading.RLock()), lambda lock: (threading.RLock, ()))
        copyreg.pickle(type(threading.Lock()), lambda lock: (threading.Lock, ()))
        self.backends = {b: copy.deepcopy(dict(b), self.kept()) for b in BackendDict._instances
                         if len(b) and b.service_name not in KEPT_ACROSS_TESTS}

    @staticmethod
    def kept() -> dict[int, Any]:
        """A deepcopy memo that maps the backends of KEPT_ACROSS_TESTS to themselves: what refers to them (an RDS
        subnet group to EC2's subnets) keeps referring to the live ones instead of copying all of EC2."""
        from moto.core.base_backend import BackendDict

        kept = [b for b in BackendDict._instances if b.service_name in KEPT_ACROSS_TESTS]
        backends = [region for b in kept for account in b.values() for region in account.values()]
        return {id(backend): backend for backend in backends}

    def restore(self) -> None:
        from moto.core.base_backend import BackendDict, backend_lock

        reset_moto()
        with backend_lock:
            kept = self.kept()
            for backends, state in self.backends.items():
                backends.update(copy.deepcopy(state, dict(kept)))
                if backends not in BackendDict._instances:  # a reset forgets it until its next request: register it
                    BackendDict._instances.append(backends)


_deployments: dict[tuple[str, ...], tuple[MotoSnapshot, list[dict[str, Any]]]] = {}


def deploy(*plans: Plan) -> list[dict[str, Any]]:
    """The stacks of these plans deployed into a reset moto, seeded once per session (then restored); their outputs."""
    key = tuple(json.dumps(plan.outputs, sort_keys=True) for plan in plans)
    if key not in _deployments:
        reset_moto()
        outputs = [seed_stack(plan) for plan in plans]
        _deployments[key] = (MotoSnapshot(), outputs)
    snapshot, outputs = _deployments[key]
    snapshot.restore()
    return copy.deepcopy(outputs)


@pytest.fixture
def deployed(aws_env, prod_plan, tmp_path) -> dict[str, Any]:
    """The prod stack 'deployed' into moto: its outputs, also saved as outputs.json (the CLI's --outputs)."""
    [outputs] = deploy(prod_plan)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return {"outputs": outputs, "file": path}


# ---------------------------------------------------------------------------------------------
# The app: a real HTTP server on 127.0.0.1 that behaves like the scraper, healthy or not.


class SimulatedClock:
    """Time that passes only when something sleeps on it or a fake server is slow: no test waits on the wall clock.

    The delays the fakes use are binary fractions (0.5 s), so simulated differences are exact."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


@pytest.fixture(autouse=True)
def simulated_clock(monkeypatch) -> SimulatedClock:
    """The smoke checks' latency clock and retry backoff run on simulated time (see automation.smoke.CLOCK)."""
    from automation import smoke

    clock = SimulatedClock()
    monkeypatch.setattr(smoke, "CLOCK", clock)
    monkeypatch.setattr(smoke, "SLEEP", clock.sleep)
    return clock


SLOW_SECONDS = 0.5  # the "slow" app's latency per request
# How often serve_forever looks for shutdown() (default 0.5 s: "Poll for shutdown every poll_interval seconds",
# https://docs.python.org/3/library/socketserver.html#socketserver.BaseServer.serve_forever): what closing one costs.
POLL_SECONDS = 0.02


class FakeApp:
    """Behaviour per path: (status, json body, delay seconds). `mode` switches all of them at once.

    A delay advances `clock` (a SimulatedClock) when given, else it is slept; a hanging app answers nothing until
    it is closed."""

    def __init__(self, clock: SimulatedClock | None = None):
        self.mode = "healthy"
        self.requests: list[str] = []
        self.clock = clock
        self.closed = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, Any, float]:
        scrapers = {"scrapers": [{"name": "twitter", "status": "ok"}, {"name": "reddit", "status": "ok"}]}
        healthy = {"/health": (200, {"status": "ok"}, 0), "/health/ready": (200, {"ready": True}, 0),
                   "/api/v1/status": (200, {"version": "2.4.1"}, 0), "/api/v1/scrapers/status": (200, scrapers, 0)}
        status, body, delay = healthy.get(path, (404, {"error": "not found"}, 0))
        if self.mode == "slow":
            delay = SLOW_SECONDS
        elif self.mode == "hanging":
            delay = math.inf
        elif self.mode == "failing" and path == "/health/ready":
            status, body = 503, {"ready": False}
        elif self.mode == "scrapers-failing" and path == "/api/v1/scrapers/status":
            body = {"scrapers": [{"name": "twitter", "status": "ok"}, {"name": "reddit", "status": "rate-limited"}]}
        return status, body, delay

    def _handler(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                app.requests.append(self.path)
                status, body, delay = app.answer(self.path)
                app.take(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def take(self, delay: float) -> None:
        if delay == math.inf:
            self.closed.wait()
        elif delay and self.clock is not None:
            self.clock.advance(delay)
        elif delay:
            time.sleep(delay)

    def close(self):
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


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


# ---------------------------------------------------------------------------------------------
# Running scraper-ops: in-process through main(), or as the real console-script process.


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    from automation.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scraper_ops(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: int = 180) -> subprocess.CompletedProcess:
    """`scraper-ops ARGS` as its console script runs it (automation.__main__.run: main(), then an exit with its
    code), in this process: `env` added to the environment, `cwd` the working directory, stdout and stderr
    captured. `main()` is called rather than `run()`, whose exit skips the interpreter's teardown with
    `os._exit` and would end the test process. Starting an interpreter per call cost about 1.5 s; the real
    process is `scraper_ops_process`. `timeout` is the process's, kept for callers of either."""
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


def scraper_ops_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 180):
    """The installed `scraper-ops` entry point in a child process, as an SRE or a CronJob runs it."""
    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO_ROOT, env={**os.environ, **(env or {})},
    )


# ---------------------------------------------------------------------------------------------
# The Pulumi CLI: a recording PulumiCommand that answers like the CLI for one stack.

CONFLICT = "error: [409] Conflict: Another update is currently in progress."
ENGINE_PROTECTED = "as it is currently marked for protection"


class RecordingPulumi(auto.PulumiCommand):
    """Stands in for the `pulumi` binary: records every call and answers as the CLI would.

    `preview_changes` are the steps the engine would report (op, type, name, protect): `protect` is what the
    program declares, which is also the state's flag until `pulumi state unprotect`; a successful `up` writes the
    program's flag back into the state. Like the engine, preview and up refuse to replace a resource protected in
    the state and the program, or to delete one protected in the state (pulumi/pulumi step_generator.go, step.go);
    the preview still reports every step, then fails.
    `up_outcomes` are consumed one per `up` ("ok" or stderr text of a failure);
    `conflicts` is how many calls answer that another update holds the stack.
    Skips `super().__init__`, which would exec `pulumi version`.
    """

    def __init__(self, stack: str, config: dict[str, str], outputs: dict[str, Any]):
        self.command = "pulumi"
        self.version = VersionInfo(3, 200, 0)  # file-based event log
        self.stack = stack
        self.config = dict(config)
        self.deployed_config = dict(config)  # what the state holds: the program's resources under this config
        self.outputs = outputs
        self.calls: list[list[str]] = []
        self.history: list[dict[str, Any]] = []
        self.preview_changes: list[tuple[str, str, str, bool]] = [
            ("update", "kubernetes:apps/v1:Deployment", "app-deployment", False),
            ("replace", "kubernetes:batch/v1:Job", "app-migration", False),
        ]
        self.up_outcomes: list[str] = []
        self.conflicts = 0
        self.drift: dict[str, int] | None = None  # refresh's counts; None: every resource of the state unchanged
        self.on_up: Callable[[int], None] = lambda count: None
        self.unprotected: set[str] = set()  # URNs whose protect flag `pulumi state unprotect` cleared

    def urn(self, resource_type: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::social-media-scraper::{resource_type}::{name}"

    def state_protected(self, resource_type: str, name: str, declared: bool) -> bool:
        return declared and self.urn(resource_type, name) not in self.unprotected

    def refusals(self) -> list[dict[str, Any]]:
        """The engine's diagnostics for the protected resources this update would replace or delete."""
        refused = []
        for op, resource_type, name, protect in self.preview_changes:
            urn = self.urn(resource_type, name)
            if op == "replace" and protect and self.state_protected(resource_type, name, protect):
                message = (f'unable to replace resource "{urn}"\n{ENGINE_PROTECTED}. To unprotect the resource, '
                           "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")
            elif op == "delete" and self.state_protected(resource_type, name, protect):
                message = (f'unable to delete resource "{urn}"\n{ENGINE_PROTECTED}. To unprotect the resource, '
                           "either remove the `protect` flag from the resource in your Pulumi program and run "
                           f"`pulumi up` or use the command:\n`pulumi state unprotect '{urn}'`")
            else:
                continue
            refused.append({"diagnosticEvent": {"urn": urn, "prefix": "error: ", "message": message + "\n",
                                                "color": "never", "severity": "error", "ephemeral": False}})
        return refused

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        self.calls.append(list(args))
        code, stdout, stderr = self._answer(list(args))
        result = CommandResult(stdout=stdout, stderr=stderr, code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def _answer(self, args: list[str]) -> tuple[int, str, str]:
        if args[:2] == ["stack", "select"]:
            name = args[args.index("--stack") + 1]
            return (0, "", "") if name == self.stack else (255, "", f"error: no stack named '{name}' found")
        if args[:2] == ["stack", "ls"]:
            return 0, json.dumps([{"name": self.stack, "current": True}]), ""
        if args[:2] == ["stack", "output"]:
            return 0, json.dumps(self.outputs), ""
        if args[:1] == ["config"] and "--json" in args:
            return 0, json.dumps({k: {"value": v, "secret": False} for k, v in self.config.items()}), ""
        if args[:2] == ["config", "set"]:
            key, value = args[args.index("--path") + 1 if "--path" in args else 2], args[-1]
            namespace_key, _, inner = key.partition(".")
            if inner:
                document = json.loads(self.config.get(namespace_key, "{}"))
                document[inner] = yaml.safe_load(value)
                self.config[namespace_key] = json.dumps(document)
            else:
                self.config[key] = value
            return 0, "", ""
        if args[:2] in (["state", "unprotect"], ["state", "protect"]):
            assert args[2:5] == ["--yes", "--stack", self.stack] and args[5] == "--", f"unexpected call: {args}"
            known = {self.urn(t, n) for _, t, n, _ in self.preview_changes}
            missing = [urn for urn in args[6:] if urn not in known]
            if missing:
                return 255, "", f"error: No such resource {missing[0]!r} exists in the current state"
            update = self.unprotected.update if args[1] == "unprotect" else self.unprotected.difference_update
            update(args[6:])
            return 0, "", ""
        if args[:2] == ["stack", "history"]:
            return 0, json.dumps(list(reversed(self.history))[:1]), ""
        if args[0] in ("preview", "up") and self.conflicts:
            self.conflicts -= 1
            self._write_events(args, [])
            return 255, "", CONFLICT
        if args[0] == "preview":
            refusals = self.refusals()
            self._write_events(args, [
                {"resourcePreEvent": {"metadata": {"op": op, "urn": self.urn(t, n), "type": t, "provider": "",
                                                   "diffs": ["spec"], "old": {"type": t, "urn": self.urn(t, n),
                                                   "protect": self.state_protected(t, n, protect), "custom": True,
                                                   "id": n, "parent": "", "provider": "", "inputs": {},
                                                   "outputs": {}}}}}
                for op, t, n, protect in self.preview_changes
            ] + refusals + [{"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "PolicyPacks": {},
                                              "resourceChanges": {op: 1 for op, *_ in self.preview_changes}}}])
            if refusals:
                return 255, "".join(r["diagnosticEvent"]["message"] for r in refusals), "error: preview failed"
            return 0, "", ""
        if args[:2] == ["refresh", "--preview-only"]:
            drift = self.drift
            if drift is None:
                drift = {"same": len(run_program(self.stack, self.deployed_config).resources)}
            self._write_events(args, [{"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "PolicyPacks": {},
                                                        "resourceChanges": drift}}])
            return 0, "", ""
        if args[0] == "up":
            count = sum(1 for call in self.calls if call[0] == "up")
            refusals = self.refusals()
            if refusals:
                self._write_events(args, refusals)
                return 255, "", "".join(r["diagnosticEvent"]["message"] for r in refusals) + "error: update failed"
            self.on_up(count)
            self._write_events(args, [])
            outcome = self.up_outcomes.pop(0) if self.up_outcomes else "ok"
            if outcome != "ok":
                return 255, "", outcome
            message = args[args.index("--message") + 1] if "--message" in args else ""
            self.history.append({"version": len(self.history) + 1, "kind": "update", "result": "succeeded",
                                 "message": message, "startTime": "2026-11-28T02:00:00.000Z",
                                 "endTime": "2026-11-28T02:05:00.000Z", "environment": {}, "config": {},
                                 "resourceChanges": {"update": 1}})
            self.unprotected.clear()  # the engine writes the program's protect flag into the new state
            return 0, "", ""
        raise AssertionError(f"unexpected pulumi call: {args}")

    @staticmethod
    def _write_events(args: list[str], events: list[dict[str, Any]]) -> None:
        """The engine's event log, which the CLI always ends with a cancel event."""
        if "--event-log" not in args:
            return
        path = args[args.index("--event-log") + 1]
        with open(path, "w") as log:
            for sequence, event in enumerate([*events, {"cancelEvent": {}}], 1):
                log.write(json.dumps({"sequence": sequence, "timestamp": sequence, **event}) + "\n")

    def of(self, subcommand: str) -> list[list[str]]:
        return [call for call in self.calls if call[0] == subcommand or call[:2] == subcommand.split()]
