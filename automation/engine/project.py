"""One run of the project's program under the mock monitor: config validated first, the plan returned."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping, TypeVar

import pulumi

from automation.engine.mocks import OfflineMocks, PreviewMocks, disabled_default_providers
from automation.engine.model import Plan
from automation.engine.monitor import RecordingMonitor, plain
from infra.config import PROJECT, StackConfig, parse_stack_config


_RUN_LOCK = threading.Lock()
T = TypeVar("T")


class InlineExecutor(ThreadPoolExecutor):
    """Runs what is submitted at once, on the submitting thread, as a pool thread would run it.

    The SDK sends every engine call (register a resource, invoke, register outputs) through the event loop's
    default executor (`run_in_executor(None, ...)`), built for a gRPC engine that answers from another process.
    The mock monitor answers in-process, at once, so a pool thread only adds a hand-off per call: 8-14 % of a
    program run's CPU. On a pool thread the monitor's own awaits (`_sync_await(serialize_properties(...))`) run
    on that thread's private loop; here they run on this executor's private loop, with the program's loop set
    aside for the call. Run on the program's loop, they would pump it from inside the calling task and nest one
    registration inside the next, as deep as the registrations that are ready at once (a RecursionError past a
    few dozen sibling resources). asyncio accepts only a ThreadPoolExecutor as the default executor; this one
    never starts a thread.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._private_loop = asyncio.new_event_loop()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        program_loop = asyncio.get_running_loop()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(self._private_loop)
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the caller awaits the future and gets the error there, as from a pool
            future.set_exception(error)
        finally:
            asyncio.set_event_loop(program_loop)
            asyncio.events._set_running_loop(program_loop)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._private_loop.close()
        super().shutdown(wait, cancel_futures=cancel_futures)


@contextlib.contextmanager
def _own_event_loop() -> Iterator[None]:
    """The run's own event loop, current on the run's thread while the SDK is set up and the program runs (the SDK
    binds its futures to the current loop), closed after: the inline executor is set on nothing else."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(InlineExecutor())
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@contextlib.contextmanager
def _without_stack_traces() -> Iterator[None]:
    """Every registration of the run carries an empty stack trace, as the SDK itself sends when it finds no user frame.

    For the engine to show where each resource was declared, the SDK records the stack that declared it, frame by
    frame, with each frame's source line read through linecache and its file turned into a URI
    (pulumi/runtime/resource.py, `_get_stack_trace`; the source position sent beside it is the trace's first frame).
    The mock monitor reads neither, and a plan holds neither, so building them only cost time: ~0.3 ms a resource
    on the prod stack's warm run, more on a process's first run, which reads each frame's source file. An SDK without
    the function (a later release may rename it) runs as it is, only slower; a test says so."""
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    sdk_recorder = getattr(sdk_resource, "_get_stack_trace", None)
    if sdk_recorder is None:
        yield
        return
    sdk_resource._get_stack_trace = lambda *args, **kwargs: source_pb2.StackTrace()
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = sdk_recorder


def _on_a_thread_of_its_own(run: Callable[[], T]) -> T:
    """`run()` on a thread of its own, in a copy of the caller's context, one run at a time; its result or its
    exception.

    The language host runs a program at the top of its own stack, on a thread whose current event loop is the
    run's own; so does this, and the caller's current loop and stack stay out of the run (an SDK that records stack
    traces, see `_without_stack_traces`, would otherwise walk the caller's frames too, ~2.5 ms a frame over the prod
    stack's 139 resources: the CLI adds 9 frames, pytest ~45). The thread is a daemon, so Ctrl-C stops the caller
    at once instead of after the run; it keeps the run lock until it ends, so no other run starts beside it."""
    context, outcome = contextvars.copy_context(), {}

    def target() -> None:
        with _RUN_LOCK:  # the SDK's runtime settings are process-global
            try:
                outcome["result"] = context.run(run)
            except BaseException as error:  # raised again on the caller's thread
                outcome["error"] = error

    thread = threading.Thread(target=target, name="program", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def run_program(
    stack: str,
    raw_config: Mapping[str, str],
    program: Callable[[StackConfig, str], Mapping[str, Any]] | None = None,
    project: str = PROJECT,
    oidc_lookup_failure: str | None = None,
    preview: bool = False,
) -> Plan:
    """Validate the config, run the program under the mock monitor and return what it declared.

    With `preview`, as `pulumi preview` sees it: outputs of resources not created yet are unknown (see
    PreviewMocks), and the plan's outputs hold only those known at preview.
    Raises ConfigError before anything is declared when the config is bad.
    """
    from infra.program import build_stack

    config = parse_stack_config(raw_config)
    # As the language host does: a failed program leaves futures nobody awaits, and asyncio would log each one.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    program = program or build_stack

    def declare() -> Plan:
        with _own_event_loop(), _without_stack_traces():
            pulumi.runtime.reset_options(project=project, stack=stack, preview=preview)
            mocks = (PreviewMocks if preview else OfflineMocks)(stack, config.region, oidc_lookup_failure,
                                                                disabled_default_providers(raw_config))
            monitor = RecordingMonitor(mocks)
            pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
            resolved: dict[str, Any] = {}

            @pulumi.runtime.test
            def execute():
                outputs = program(config, stack)
                return pulumi.Output.all(*(
                    pulumi.Output.from_input(value).apply(lambda known, key=key: resolved.__setitem__(key, known))
                    for key, value in outputs.items()
                ))

            execute()
            resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
        return Plan(project=project, stack=stack, resources=resources, outputs=plain(resolved), config=config)

    return _on_a_thread_of_its_own(declare)
