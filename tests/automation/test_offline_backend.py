"""The offline backend end to end: rehearsal on a fresh machine, a full window through the real CLI
against a moto server, and `scale` refusing what the policy pack would reject."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from automation.engine import (
    DISABLE_DEFAULT_PROVIDERS,
    DefaultProviderDisabled,
    OfflineMocks,
    disabled_default_providers,
    run_program,
)
from automation.errors import BadInput
from automation.runner import OfflineRunner, ProtectedResources, PulumiRunner
from automation.scale import scale
from automation.stack_files import read_stack_file
from tests.support.cli import run_cli, scraper_ops
from tests.support.fake_pulumi import RecordingPulumi
from tests.support.moto_stack import client
from tests.support.programs import NEW_IMAGE, OLD_IMAGE, REPO_ROOT, prod_config

pytestmark = pytest.mark.slow  # the offline backend runs the program for each preview and update


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project files: the offline backend writes its state and, like `pulumi config set`,
    the stack file. Its maintenance window starts 12 hours from now, so forced runs get a window of their own
    whatever the day the suite runs."""
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    hour = (datetime.now(timezone.utc).hour + 12) % 24
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace('windowStart: "0 2 * * 0#1"', f'windowStart: "0 {hour} * * *"'))
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(tmp_path))
    return tmp_path


def test_rehearsal_on_a_fresh_machine_previews_and_changes_nothing(capsys, project, prod_plan):
    before = (project / "Pulumi.prod.yaml").read_text()
    code, out, _ = run_cli(capsys, "maintenance", "rehearse", "--stack", "prod", "--backend", "offline",
                           "--image", NEW_IMAGE, "--json")
    result = json.loads(out)
    assert code == 0
    assert result["preview"]["counts"] == {"create": len(declared(prod_plan))}
    assert result["image"] == {"current": OLD_IMAGE, "new": NEW_IMAGE}
    assert len(result["steps"]) == 9 and result["wouldStop"] == [] and result["drift"] == {}
    assert (project / "Pulumi.prod.yaml").read_text() == before
    assert not (project / ".scraper-ops").exists()


def test_offline_preview_reports_updates_with_keys_and_replaces(project):
    runner = OfflineRunner("prod", project)
    runner.up("initial")
    runner.set_config("social-media-scraper:app.image", NEW_IMAGE)
    changes = {c.name: (c.op, c.keys) for c in runner.preview("p").pending()}
    assert changes == {
        "app-deployment": ("update", ["spec.template"]),
        "app-migration": ("replace", ["metadata.annotations", "metadata.name", "spec.template"]),
    }
    runner.set_config("social-media-scraper:database.dbName", "scraping")
    with pytest.raises(ProtectedResources) as refused:  # the database is protected: Pulumi refuses, and says why
        runner.preview("p")
    database = next(c for c in refused.value.preview.changes if c.name == "database-primary")
    assert (database.op, database.keys, database.stateful) == ("replace", ["dbName"], True)


def declared(plan):
    """The resources an engine counts in a preview: the custom resources but the providers."""
    return [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]


def test_maintenance_run_offline_through_the_real_cli_against_moto(project, deployed, fake_app, aws_env, prod_plan):
    OfflineRunner("prod", project).up("initial deploy")
    result = scraper_ops("maintenance", "run", "--stack", "prod", "--backend", "offline", "--force", "--reason", "test",
                         "--image", NEW_IMAGE, "--url", fake_app.url, "--outputs", str(deployed["file"]),
                         "--out", str(project / "records"), "--json",
                         env={**aws_env, "SCRAPER_OPS_PROJECT_DIR": str(project)})
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["outcome"] == "succeeded" and record["backend"] == "offline"
    assert [s["name"] for s in record["steps"]][:7] == [
        "lock", "announce-start", "silence-alarms", "backup", "preview", "update", "smoke"]
    # the Deployment's image is updated and the migration Job, named by what it runs, is replaced
    assert record["diff"]["counts"] == {"same": len(declared(prod_plan)) - 2, "update": 1, "replace": 1}
    state = json.loads((project / ".scraper-ops" / "prod.json").read_text())
    assert state["history"][-1]["message"].startswith(f"scraper-ops maintenance {record['run_id']} update: test")
    assert f"image: {NEW_IMAGE}" in (project / "Pulumi.prod.yaml").read_text()
    assert list((project / "records").glob("maintenance-*.md"))
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=deployed["outputs"]["opsBucket"],
                                                            Prefix="maintenance/")["Contents"]]
    assert sorted(k.rsplit(".", 1)[1] for k in keys) == ["json", "md"]
    assert "(offline: recorded, nothing deployed)" in result.stderr


def test_maintenance_run_writes_its_record_even_when_refused_by_the_lock(capsys, project, deployed, fake_app):
    OfflineRunner("prod", project).up("initial deploy")
    client("dynamodb").put_item(TableName=deployed["outputs"]["lockTableName"], Item={
        "lockId": {"S": "maintenance/prod"}, "owner": {"S": "bob"}, "expiresAt": {"N": "9999999999"}})
    code, out, err = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--force",
                             "--reason", "t", "--outputs", str(deployed["file"]), "--out", str(project / "r"))
    assert code == 1 and "held by bob" in err
    assert json.loads(next((project / "r").glob("maintenance-*.json")).read_text())["outcome"] == "failed"


def test_force_needs_a_reason(capsys, project, deployed):
    code, _, err = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--force",
                           "--outputs", str(deployed["file"]))
    assert code == 2 and "--force needs --reason TEXT" in err


def test_scale_changes_the_hpa_bounds_with_a_targeted_update(capsys, project, prod_plan):
    runner = OfflineRunner("prod", project)
    runner.up("initial deploy")
    code, out, _ = run_cli(capsys, "scale", "--stack", "prod", "--min", "5", "--max", "20", "--backend", "offline", "--json")
    result = json.loads(out)
    assert code == 0
    assert (result["minReplicas"], result["maxReplicas"], result["previous"]) == (5, 20, {"minReplicas": 3, "maxReplicas": 12})
    assert "minReplicas: 5" in (project / "Pulumi.prod.yaml").read_text()
    state = json.loads(runner.state_file.read_text())
    scaler = next(r for r in state["resources"] if r["name"] == "autoscaling-scaled-object")["inputs"]["spec"]
    assert (scaler["minReplicaCount"], scaler["maxReplicaCount"]) == (5, 20)
    assert state["history"][-1]["changes"] == {"same": len(declared(prod_plan)) - 1, "update": 1}


@pytest.mark.parametrize(("args", "message"), [
    (["--min", "1"], "--min 1: refused, the policy pack would reject it: hpa-bounds: ScaledObject autoscaling-scaled-object allows 1 replica(s) in production"),
    (["--min", "8", "--max", "4"], "--max 4: must be >= --min (8)"),
    (["--min", "0"], "--min 0: Input should be greater than or equal to 1"),
    (["--min", "12"], "--min 12: refused, the policy pack would reject it: hpa-bounds: ScaledObject autoscaling-scaled-object cannot scale"),
])
def test_scale_refuses_values_the_pack_or_config_would_reject(capsys, project, args, message):
    before = (project / "Pulumi.prod.yaml").read_text()
    code, _, err = run_cli(capsys, "scale", "--stack", "prod", *args, "--backend", "offline")
    assert code == 2 and message in err
    assert (project / "Pulumi.prod.yaml").read_text() == before


def test_scale_through_the_automation_api_targets_only_the_scaled_object(deployed):
    pulumi = RecordingPulumi("prod", prod_config(), deployed["outputs"])
    runner = PulumiRunner("prod", pulumi_command=pulumi, work_dir=REPO_ROOT)
    scale(runner, 4, None, "scraper-ops scale by test: min 4")
    assert ["config", "set", "--path", "social-media-scraper:autoscaling.minReplicas", "--plaintext", "--stack",
            "prod", "--non-interactive", "--", "4"] in pulumi.calls
    up = pulumi.of("up")[0]
    assert up[up.index("--target") + 1] == (
        "urn:pulumi:prod::social-media-scraper::scraper:k8s:Autoscaling$kubernetes:keda.sh/v1alpha1:ScaledObject"
        "::autoscaling-scaled-object")
    assert up[up.index("--message") + 1] == "scraper-ops scale by test: min 4"
    assert up[up.index("--policy-pack") + 1] == str(REPO_ROOT / "policies")


def test_a_failed_scale_update_puts_the_config_back(deployed):
    pulumi = RecordingPulumi("prod", prod_config(), deployed["outputs"])
    pulumi.up_outcomes = ["error: the cluster is unreachable"]
    runner = PulumiRunner("prod", pulumi_command=pulumi, work_dir=REPO_ROOT)
    with pytest.raises(Exception, match="cluster is unreachable"):
        scale(runner, 4, None, "m")
    assert json.loads(pulumi.config["social-media-scraper:autoscaling"])["minReplicas"] == 3


def test_offline_outputs_need_an_offline_update_first(project):
    with pytest.raises(BadInput, match="no state for stack prod"):
        OfflineRunner("prod", project).outputs()


def test_updates_carry_their_audit_messages_into_the_stack_history(project, deployed):
    runner = OfflineRunner("prod", project)
    runner.up("first")
    runner.up("second")
    assert [(h["version"], h["message"]) for h in runner.state()["history"]] == [(1, "first"), (2, "second")]
    pulumi = RecordingPulumi("prod", prod_config(), deployed["outputs"])
    PulumiRunner("prod", pulumi_command=pulumi, work_dir=REPO_ROOT).up("audited update")
    up = pulumi.of("up")[-1]
    assert up[up.index("--message") + 1] == "audited update"


def test_refresh_preview_reports_drift_without_changing_state(deployed):
    pulumi = RecordingPulumi("prod", prod_config(), deployed["outputs"])
    declared = len(run_program("prod", prod_config()).resources)
    pulumi.drift = {"same": declared - 2, "update": 2}
    runner = PulumiRunner("prod", pulumi_command=pulumi, work_dir=REPO_ROOT)
    assert runner.refresh_preview() == {"update": 2}
    assert pulumi.of("refresh")[0][:2] == ["refresh", "--preview-only"] and pulumi.of("up") == []


# ---- protect, modelled offline as the engine does it ---------------------------------------------------------


def _database(runner: OfflineRunner) -> dict:
    return next(r for r in runner.state()["resources"] if r["name"] == "database-primary")


def test_offline_backend_refuses_a_protected_replacement_like_pulumi_until_unprotected(project):
    runner = OfflineRunner("prod", project)
    runner.up("initial")
    urn = _database(runner)["urn"]
    runner.set_config("social-media-scraper:database.dbName", "scraping")
    with pytest.raises(ProtectedResources) as refused:
        runner.preview("p")
    assert refused.value.preview.refused == {urn: (
        f'unable to replace resource "{urn}"\nas it is currently marked for protection. To unprotect the resource, '
        "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")}
    with pytest.raises(ProtectedResources):
        runner.up("u")
    assert len(runner.state()["history"]) == 1 and _database(runner)["inputs"]["dbName"] != "scraping", "state untouched"
    runner.unprotect([urn])
    assert _database(runner)["protect"] is False
    assert {c.name: c.op for c in runner.preview("p").pending()}["database-primary"] == "replace"
    runner.up("replace the database")
    assert _database(runner)["protect"] is True, "the update writes the program's protect=True back"
    assert _database(runner)["inputs"]["dbName"] == "scraping"


def test_offline_unprotect_of_an_unknown_resource_is_bad_input(project):
    runner = OfflineRunner("prod", project)
    runner.up("initial")
    with pytest.raises(BadInput, match="no resource urn:pulumi:prod::x in the offline state of stack prod"):
        runner.unprotect(["urn:pulumi:prod::x"])


def test_allow_replace_needs_a_reason(capsys, project, deployed):
    code, _, err = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline",
                           "--allow-replace", "database-primary", "--outputs", str(deployed["file"]))
    assert code == 2 and "--allow-replace needs --reason TEXT" in err


def test_maintenance_run_offline_replaces_an_allowed_protected_database(capsys, project, deployed, fake_app):
    runner = OfflineRunner("prod", project)
    runner.up("initial deploy")
    urn = _database(runner)["urn"]
    runner.set_config("social-media-scraper:database.dbName", "scraping")
    code, out, err = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--force",
                             "--reason", "rename the database, CHG-7", "--allow-replace", "database-primary",
                             "--url", fake_app.url, "--outputs", str(deployed["file"]), "--out", str(project / "r"),
                             "--json")
    record = json.loads(out)
    assert code == 0, err
    assert [s["name"] for s in record["steps"]][3:7] == ["backup", "preview", "unprotect", "update"]
    assert record["unprotected"] == [{"urn": urn, "type": "aws:rds/instance:Instance", "name": "database-primary",
                                      "reason": "rename the database, CHG-7", "snapshot": record["snapshot_id"]}]
    assert record["diff"]["refused"][urn].startswith(f'unable to replace resource "{urn}"')
    assert _database(runner)["protect"] is True and _database(runner)["inputs"]["dbName"] == "scraping"


# ---- default providers, disabled as the engine disables them ----------------------------------------------------


def test_every_stack_disables_default_providers_and_the_program_still_plans():
    for path in sorted(REPO_ROOT.glob("Pulumi.*.yaml")):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        raw = read_stack_file(stack, REPO_ROOT)
        assert disabled_default_providers(raw) == {"*"}, stack
        assert run_program(stack, raw).resources, stack


def _program_with_a_stray_bucket(config, stack):
    """The whole program plus one bucket that forgot `provider=`: the engine would create it in whatever region the
    default provider picks."""
    import pulumi_aws as aws

    from infra.program import build_stack

    outputs = build_stack(config, stack)
    aws.s3.Bucket("stray-bucket")
    return outputs


def test_a_resource_without_its_provider_is_refused_when_default_providers_are_disabled():
    raw = read_stack_file("prod", REPO_ROOT)
    with pytest.raises(Exception) as refused:
        run_program("prod", raw, program=_program_with_a_stray_bucket)
    assert "Default provider for 'aws' disabled. 'aws:s3/bucket:Bucket::stray-bucket' must use an explicit provider." \
        in str(refused.value)
    allowed = {key: value for key, value in raw.items() if key != DISABLE_DEFAULT_PROVIDERS}
    plan = run_program("prod", allowed, program=_program_with_a_stray_bucket)
    assert any(r.name == "stray-bucket" and r.provider is None for r in plan.resources)


def test_an_invoke_without_its_provider_is_refused_too():
    mocks = OfflineMocks("prod", "us-east-1", no_default_providers=frozenset({"aws"}))
    with pytest.raises(DefaultProviderDisabled, match="'aws:index/getCallerIdentity:getCallerIdentity' must use"):
        mocks.call(pulumi_mocks.MockCallArgs("aws:index/getCallerIdentity:getCallerIdentity", {}, ""))
    assert mocks.call(pulumi_mocks.MockCallArgs("aws:index/getCallerIdentity:getCallerIdentity", {},
                                                "urn:pulumi:prod::p::pulumi:providers:aws::aws-primary::id"))


@pytest.mark.parametrize("value", ['"*"', "[1]", "not json"])
def test_a_malformed_disable_list_is_bad_input(value):
    with pytest.raises(BadInput, match="pulumi:disable-default-providers must be a list"):
        disabled_default_providers({DISABLE_DEFAULT_PROVIDERS: value})


@pytest.mark.slow  # runs the program four times
def test_repeated_program_runs_leave_nothing_behind():
    """Every run's garbage is collected as the process goes on, without anyone calling the collector: a long-lived
    process (a test worker, the offline backend's refreshes, a maintenance run) stays flat however many times it runs
    the program. An engine that moved a run's objects where automatic collections don't reach (gc.freeze and
    unfreeze puts them in the oldest generation, which no threshold then counts) grows by ~70,000 objects a run,
    some 20 % of the process each time. Measured under CPython's default thresholds (this test process, like the
    console script, raises them; garbage then waits longer, but is still collected)."""
    import gc

    from tests.support.programs import run_program_uncached

    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        run_program_uncached("prod", prod_config())
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(3):
            run_program_uncached("prod", prod_config())
        assert gc.isenabled() and gc.get_freeze_count() == 0
        assert len(gc.get_objects()) < before * 1.25
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()


@pytest.mark.slow  # runs the program once more
def test_a_program_runs_on_one_thread_of_its_own_and_leaves_the_callers_event_loop_as_it_found_it(prod_plan,
                                                                                                     monkeypatch):
    """The program runs at the top of a thread of its own, as under the language host (an SDK recording each
    resource's stack trace pays for every frame of the caller's stack under it). The mock monitor answers in-process,
    so the SDK's engine calls run on that thread too (the engine's InlineExecutor) instead of an executor's pool
    threads, which would outlive the run. The thread has ended when the run returns; the run's event loops are its
    own and closed after it, and the caller's current loop is untouched."""
    import asyncio
    import threading

    from tests.support.programs import run_program_uncached

    started, loops = [], []
    start, new_event_loop = threading.Thread.start, asyncio.new_event_loop

    def recording_start(thread):
        started.append(thread)
        start(thread)

    def recording_new_event_loop():
        loops.append(new_event_loop())
        return loops[-1]

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    monkeypatch.setattr(asyncio, "new_event_loop", recording_new_event_loop)
    before_the_test = asyncio.get_event_loop_policy().get_event_loop()
    current = new_event_loop()
    asyncio.set_event_loop(current)
    try:
        plan = run_program_uncached("prod", prod_config())
        assert asyncio.get_event_loop() is current
    finally:
        asyncio.set_event_loop(before_the_test)
        current.close()
    assert plan.to_json() == prod_plan.to_json()
    assert [thread.name for thread in started] == ["program"] and not started[0].is_alive()
    assert loops and all(loop.is_closed() for loop in loops)


def test_registrations_reach_the_monitor_without_stack_traces_and_the_sdk_gets_its_recorder_back(monkeypatch):
    """The SDK records each resource's stack trace for the engine; the mock monitor and the plan use none of it, so
    a run sends the empty trace the SDK sends when it finds no user frame, and gives the SDK its recorder back after
    the run, also after a failed one. This test fails on an SDK release without `_get_stack_trace` (the engine then
    runs as the SDK is, with traces and the time they cost)."""
    import pulumi
    import pulumi_aws as aws
    from pulumi.runtime import resource as sdk_resource

    from automation.engine.monitor import RecordingMonitor
    from tests.support.programs import run_program_uncached

    recorder = sdk_resource._get_stack_trace
    received, register = [], RecordingMonitor.RegisterResource

    def receiving(monitor, request):
        received.append((request.type, len(request.stackTrace.frames), request.HasField("sourcePosition")))
        return register(monitor, request)

    def program(config, stack):
        provider = aws.Provider("aws-primary", region=config.region)
        queue = aws.sqs.Queue("messaging-jobs", opts=pulumi.ResourceOptions(provider=provider))
        return {"queue": queue.name}

    def failing_program(config, stack):
        program(config, stack)
        raise RuntimeError("the program failed")

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", receiving)
    run_program_uncached("prod", prod_config(), program)
    assert {kind for kind, _, _ in received} == {"pulumi:pulumi:Stack", "pulumi:providers:aws", "aws:sqs/queue:Queue"}
    assert all(frames == 0 and not position for _, frames, position in received), received
    assert sdk_resource._get_stack_trace is recorder
    with pytest.raises(RuntimeError, match="the program failed"):
        run_program_uncached("prod", prod_config(), failing_program)
    assert sdk_resource._get_stack_trace is recorder


@pytest.mark.slow  # runs a program of 300 resources
def test_a_program_of_many_sibling_resources_plans_as_under_the_real_engine():
    """Resources ready at the same time are registered one after the other, not one inside the next: a monitor
    call that pumped the program's own loop nested them and failed with RecursionError past about 80 siblings."""
    import pulumi
    import pulumi_aws as aws

    from tests.support.programs import run_program_uncached

    def program(config, stack):
        provider = aws.Provider("aws-primary", region=config.region)
        queues = [aws.sqs.Queue(f"queue-{i}", opts=pulumi.ResourceOptions(provider=provider)) for i in range(300)]
        return {"queues": len(queues)}

    plan = run_program_uncached("prod", prod_config(), program)
    assert plan.outputs == {"queues": 300}
    assert sum(r.type == "aws:sqs/queue:Queue" for r in plan.resources) == 300


@pytest.mark.slow  # starts a program that waits for the test
def test_ctrl_c_stops_the_caller_at_once_and_no_run_starts_beside_the_interrupted_one():
    """The program's thread is a daemon: an interrupt reaches the caller while the program still runs (it is not
    held back until the run ends), and the interrupted run keeps the engine until it ends."""
    import signal
    import threading

    import pulumi

    from automation.engine import project

    release, running = threading.Event(), threading.Event()

    def waiting_program(config, stack):
        running.set()
        release.wait(timeout=60)
        return {"released": pulumi.Output.from_input(release.is_set())}

    def interrupt_when_running():
        if running.wait(timeout=60):  # never before the program runs: the interrupt must meet the run
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    assert threading.current_thread() is threading.main_thread()
    # Ctrl-C as in a terminal: a process started in the background by a shell inherits SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_when_running, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            project.run_program("prod", prod_config(), program=waiting_program)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert running.is_set() and not release.is_set(), "the interrupt reached the caller only after the run"
        assert project._RUN_LOCK.locked(), "the interrupted run let go of the engine before it ended"
    finally:
        release.set()  # the program ends and lets go of the engine, whatever the assertions found
    assert project.run_program("prod", prod_config(), program=lambda config, stack: {}).outputs == {}
