"""hypothesis as the property tests use it: no example database.

Tests write only to temporary directories, and an example database would be one more place written to (its caches
go to the temporary directory conftest.py names). The profile is loaded here, by the modules that use hypothesis,
and not in conftest.py, so that a process running no property test never imports hypothesis."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile("no-database", database=None)
settings.load_profile("no-database")

__all__ = ["HealthCheck", "given", "settings", "st"]
