"""AWS clients for the ops commands. boto3 resolves credentials, profile, region and endpoint itself
(AWS_PROFILE, AWS_ENDPOINT_URL...), so no endpoint is ever hard-coded here.

boto3 and botocore's client config are imported when the first client is made (~0.2 s): commands that read only
stack config or a plan never pay for them.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Iterator

import botocore.exceptions

from automation.errors import MissingEnvironment, OpsError

if TYPE_CHECKING:
    import boto3

RETRIES = {"retries": {"max_attempts": 5, "mode": "standard"}, "connect_timeout": 10, "read_timeout": 60}


class Aws:
    """Clients for the stack's two regions, created once each."""

    def __init__(self, region: str, dr_region: str):
        self.region = region
        self.dr_region = dr_region
        self._clients: dict[tuple[str, str], Any] = {}

    @cached_property
    def session(self) -> boto3.session.Session:
        import boto3
        import botocore.session

        core, loader = botocore.session.get_session(), _data_loader()
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        loader.search_paths[:] = dict.fromkeys(loader.search_paths)  # each boto3 session appends boto3's data path
        return session

    def client(self, service: str, region: str | None = None) -> Any:
        from botocore.config import Config

        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1], config=Config(**RETRIES))
        return self._clients[key]

    def dr(self, service: str) -> Any:
        return self.client(service, self.dr_region)


@cache
def _data_loader() -> Any:
    """One botocore loader per process. A session's loader reads and caches the service models and endpoint data
    (JSON, ~35 ms of a new session's first client), which never change within a process; a session of its own per
    `Aws` (release promote has one per stack, the tests one per command) would read them all again. Its search
    path is the first session's (`AWS_DATA_PATH` or `data_path` then, as for the process's environment);
    credentials and endpoints stay per session."""
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def error_code(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return type(error).__name__


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn errors that no check can recover from into exit codes: no credentials is exit 3."""
    try:
        yield
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as error:
        raise MissingEnvironment(
            f"no AWS credentials ({error}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise MissingEnvironment(f"cannot reach AWS: {error}; check AWS_ENDPOINT_URL and the network") from None
    except botocore.exceptions.ClientError as error:
        if error_code(error) in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            raise MissingEnvironment(f"AWS rejected the credentials ({error_code(error)}); refresh them") from None
        raise OpsError(f"AWS call failed: {error}") from None
