"""The offline engine: the real Pulumi program run in-process under the SDK's mock monitor.

It deploys nothing. Every resource the program registers is recorded as the
engine would receive it (type, name, parent, provider, options and camelCase
inputs), and given deterministic physical names and ids, so that two runs of the
same config give the same plan. `scraper-ops plan`, the offline backend and the
policy check all build on `run_program`.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws(\.|$)")

from automation.engine.mocks import (  # noqa: E402
    DISABLE_DEFAULT_PROVIDERS,
    OFFLINE_ACCOUNT_ID,
    DefaultProviderDisabled,
    OfflineMocks,
    PreviewMocks,
    disabled_default_providers,
)
from automation.engine.model import Plan, PlannedResource  # noqa: E402
from automation.engine.monitor import SECRET_PLACEHOLDER, RecordingMonitor  # noqa: E402
from automation.engine.project import run_program  # noqa: E402

__all__ = [
    "DISABLE_DEFAULT_PROVIDERS", "OFFLINE_ACCOUNT_ID", "SECRET_PLACEHOLDER", "DefaultProviderDisabled", "OfflineMocks",
    "Plan", "PlannedResource", "PreviewMocks", "RecordingMonitor", "disabled_default_providers", "run_program",
]
