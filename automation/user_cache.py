"""Where the console script keeps data it parsed from installed packages, to parse it once per user, not per run.

The console script (automation/__main__.py) enables it; library use (tests, programs importing `automation`) reads
the packages' files as they are unless it enables the cache itself. The directory follows the XDG Base Directory
Specification (https://specifications.freedesktop.org/basedir-spec/latest/): `$XDG_CACHE_HOME/scraper-ops`, and
`~/.cache/scraper-ops` when that variable is unset, empty or not an absolute path. Every entry carries the key it
was made from (package version, path, size and mtime of each file read) and is read again when the key differs.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

directory: Path | None = None  # None: no cache


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "scraper-ops"


def enable() -> None:
    global directory
    directory = default_directory()


def file_key(path: str) -> list[Any] | None:
    """What identifies a file's content for the cache without reading it; None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [path, stat.st_size, stat.st_mtime_ns]


def read(name: str, key: Any) -> dict[str, Any] | None:
    """The entry `name` if it was made from `key`; None when absent, unreadable or stale."""
    if directory is None:
        return None
    try:
        entry = json.loads((directory / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry["data"] if isinstance(entry, dict) and entry.get("key") == key else None


def write(name: str, key: Any, data: dict[str, Any]) -> None:
    """Store an entry atomically (a reader sees the old entry or the new one); a cache that cannot be written is
    only slower, so write errors are ignored."""
    if directory is None:
        return
    import tempfile  # only when an entry is written: `--help` enables the cache too

    target = directory / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"key": key, "data": data}, handle, separators=(",", ":"))
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
