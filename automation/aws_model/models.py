"""botocore's service models of the operations the stage checks, read without a botocore session.

A session (`botocore.session.get_session().get_service_model`) imports the client, waiter and documentation
machinery the stage never uses, and its loader lists every one of botocore's ~400 services before it reads one.
The models are read here as the session reads them (botocore/session.py, `get_service_data`): botocore's `Loader`
over the same search path (`AWS_DATA_PATH`, ~/.aws/models, botocore/data; a `data_path` set in ~/.aws/config is
not read), the newest API version of the service, its sdk-extras merged in; `ServiceModel` makes the same shapes.

Reading a model means un-gzipping and parsing all of the service (~0.1 s for the dozen services of a plan), while
a plan's requests use a few dozen of their ~4,000 shapes. With the user cache enabled (automation/user_cache.py,
the console script's), each service's entry keeps the operations asked for so far with the shapes their input
reaches, keyed by botocore's version and the path, size and mtime of the model files; only a miss reads the model.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import botocore
from botocore.loaders import Loader, create_loader
from botocore.model import OperationModel, ServiceModel

from automation import user_cache

TYPE_NAME = "service-2"
EXTENSIONS = (".json", ".json.gz")  # what botocore's JSONFileLoader reads (botocore/loaders.py)
# What an entry holds (`_add_operation`): bump it whenever that changes, so entries written by another release of
# this project are read again even with the same botocore.
ENTRY_FORMAT = 1


@lru_cache(maxsize=1)
def _loader() -> Loader:
    return create_loader(os.environ.get("AWS_DATA_PATH"))


@lru_cache(maxsize=None)
def service_description(service: str) -> dict[str, Any]:
    """The whole model as botocore loads it, once per process."""
    return _loader().load_service_model(service, TYPE_NAME)


def service_model(service: str) -> ServiceModel:
    return ServiceModel(service_description(service), service_name=service)


@lru_cache(maxsize=None)
def request_model(service: str, operation: str) -> OperationModel:
    """The operation's model for checking a request: its input shape and the service's metadata. With the user
    cache on, that is all it holds (no output or error shapes, no documentation), so nothing else may be asked of
    it."""
    if user_cache.directory is None:
        return service_model(service).operation_model(operation)
    key, entry = _cache_entry(service)
    if operation not in entry["operations"]:
        _add_operation(entry, service_description(service), operation)
        user_cache.write(_entry_name(service), key, entry)
    return ServiceModel(entry, service_name=service).operation_model(operation)


def _entry_name(service: str) -> str:
    return f"aws-models/{service}.json"


@lru_cache(maxsize=None)
def _cache_entry(service: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's key and cache entry, a reduced service description (metadata, operations, shapes), read once
    per process."""
    key = _cache_key(service)
    return key, user_cache.read(_entry_name(service), key) or {"operations": {}, "shapes": {}}


def _cache_key(service: str) -> dict[str, Any]:
    """The entry format, botocore's version and every file `Loader.load_service_model` would read for the service's
    newest version."""
    loader = _loader()
    version = loader.determine_latest_version(service, TYPE_NAME)
    names = [f"{TYPE_NAME}{extension}" for extension in EXTENSIONS]
    names += [f"{TYPE_NAME}.{extras}-extras{extension}" for extras in loader.extras_types for extension in EXTENSIONS]
    files = [user_cache.file_key(os.path.join(root, service, version, name))
             for root in loader.search_paths for name in names]
    return {"format": ENTRY_FORMAT, "botocore": botocore.__version__, "files": [f for f in files if f is not None]}


def _add_operation(entry: dict[str, Any], description: dict[str, Any], operation: str) -> None:
    """Copy the operation and the shapes its input reaches, without their documentation, into `entry`."""
    entry["metadata"] = description["metadata"]
    operation_description = description["operations"][operation]
    entry["operations"][operation] = _undocumented(operation_description)
    pending = [operation_description["input"]["shape"]] if "input" in operation_description else []
    while pending:
        name = pending.pop()
        if name in entry["shapes"]:
            continue
        shape = entry["shapes"][name] = _undocumented(description["shapes"][name])
        references = list(shape.get("members", {}).values()) + [shape[k] for k in ("member", "key", "value") if k in shape]
        pending.extend(reference["shape"] for reference in references)


def _undocumented(description: dict[str, Any]) -> dict[str, Any]:
    copy = {key: value for key, value in description.items() if key != "documentation"}
    if "members" in copy:
        copy["members"] = {name: _undocumented(member) for name, member in copy["members"].items()}
    return copy
