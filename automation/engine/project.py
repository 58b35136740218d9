"""One run of the project's program under the mock monitor: config validated first, the plan returned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping

import pulumi

from automation.engine.mocks import OfflineMocks, PreviewMocks, disabled_default_providers
from automation.engine.model import Plan
from automation.engine.monitor import RecordingMonitor, plain
from infra.config import PROJECT, StackConfig, parse_stack_config


_RUN_LOCK = threading.Lock()


class InlineExecutor(ThreadPoolExecutor):
    """Runs what is submitted at once, on the submitting thread.

    The SDK sends every engine call (register a resource, invoke, register outputs) through the event loop's
    default executor (`run_in_executor(None, ...)`), built for a gRPC engine that answers from another process.
    The mock monitor answers in-process, at once, so a pool thread only adds a hand-off per call: about a fifth
    of a program run (benchmarks/plan_time.py). asyncio accepts only a ThreadPoolExecutor as the default
    executor; this one never starts a thread.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the caller awaits the future and gets the error there, as from a pool
            future.set_exception(error)
        return future


@contextlib.contextmanager
def _own_event_loop() -> Iterator[None]:
    """The run's own event loop, current on this thread while the SDK is set up and the program runs (the SDK
    binds its futures to the current loop), closed after: the inline executor is set on nothing else."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(InlineExecutor())
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


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
    with _RUN_LOCK, _own_event_loop():  # the SDK's runtime settings are process-global
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
