"""Pulumi entry point: read the config once, declare the stack, export its outputs."""

import pulumi

from infra.config import ConfigError, load_from_pulumi
from infra.program import build_stack

try:
    _config = load_from_pulumi()
except ConfigError as error:
    raise pulumi.RunError(f"invalid stack config:\n{error}") from None

for _name, _value in build_stack(_config, pulumi.get_stack()).items():
    pulumi.export(_name, _value)
