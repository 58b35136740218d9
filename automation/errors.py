"""Errors that end a command, each with the exit code DESIGN.md assigns to it."""


class OpsError(Exception):
    exit_code = 1


class CheckFailed(OpsError):
    """A check ran and failed: policy violation, smoke failure, stale backup, budget exceeded."""

    exit_code = 1


class BadInput(OpsError):
    """Bad input or usage; the message names the problem."""

    exit_code = 2


class MissingEnvironment(OpsError):
    """The environment lacks something (Pulumi CLI, AWS credentials); the message says what to install or set."""

    exit_code = 3
