"""One run of the project's program under the mock monitor: config validated first, the plan returned."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

import pulumi

from automation.engine.mocks import OfflineMocks, PreviewMocks, disabled_default_providers
from automation.engine.model import Plan
from automation.engine.monitor import RecordingMonitor, plain
from infra.config import PROJECT, StackConfig, parse_stack_config


_RUN_LOCK = threading.Lock()


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
    with _RUN_LOCK:  # the SDK's runtime settings are process-global
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
