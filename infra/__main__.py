"""Pulumi entry point: read the config once, declare the stack, export its outputs."""

import sys
from pathlib import Path

# The Pulumi CLI runs this directory with runpy, so only infra/ itself is on sys.path; the project root goes first
# so that `infra` imports from this checkout in the venv Pulumi.yaml names, with no editable install of the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi  # noqa: E402

from infra.config import ConfigError, load_from_pulumi  # noqa: E402
from infra.program import build_stack  # noqa: E402

try:
    _config = load_from_pulumi()
except ConfigError as error:
    raise pulumi.RunError(f"invalid stack config:\n{error}") from None

for _name, _value in build_stack(_config, pulumi.get_stack()).items():
    pulumi.export(_name, _value)
