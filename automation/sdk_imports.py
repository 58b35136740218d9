"""The console script's imports of pulumi-aws and pulumi-kubernetes: each service package's modules load on first use.

A generated service package (`pulumi_aws.s3`, `pulumi_kubernetes.core.v1`, ...) has an `__init__.py` made only of
`from .<module> import *` and `from . import <module>` lines, so touching one resource class runs every module of
its package (`aws.s3.Bucket`: all 68 of S3's). A prod plan ran 537 SDK modules that way and needs 141 of them; the
other ~400 were 15 % of its instructions. pulumi/pulumi#6827 made the import of each package lazy, not the modules
within one; until the code generators go further, the finder below stands in for such an `__init__.py` with a
package that binds the same names to the same objects, each when it is first read (a module `__getattr__`, PEP 562,
on a `types.ModuleType` subclass).

What the eager `__init__.py` leaves bound is worked out from the file itself, line by line in its order: a star
import binds its module's name (the import system's doing) and then every name in the module's `__all__`, a later
binding replacing an earlier one. Reading a name imports the module that binds it and binds it; the names the
package's own import lines bind (`_builtins`, `typing`, `_utilities`) are bound at once. The package also gets the
`__all__` the eager one lacks, so that `from <package> import *` binds every name, as it does eagerly. A package
whose `__init__.py` holds any other line (`pulumi_aws.config`) or imports a module that is not there or has no
literal `__all__` (`pulumi_kubernetes.helm.v3`) runs its `__init__.py` as it always does. What differs: a module
runs when its names are first read, so the DeprecationWarning some modules raise at import (S3's `*_v2` resources)
comes then, or never.

Only the console script enables this (automation/__main__.py); library use and the tests import the SDKs as
shipped, and tests/automation/test_sdk_imports.py holds the two to the same names and objects.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import os
import re
import sys
import types
from typing import Any, NamedTuple

SDK_PACKAGES = frozenset({"pulumi_aws", "pulumi_kubernetes"})

STAR_IMPORT = re.compile(r"from \.(\w+) import \*")
MODULE_IMPORT = re.compile(r"from \. import (\w+)")
UTILITIES_IMPORT = re.compile(r"from (\.+) import _utilities")
PLAIN_IMPORTS = {"import builtins as _builtins": ("_builtins", "builtins"), "import typing": ("typing", "typing")}
# A generated module's `__all__` is a literal list of quoted names, near its top (after the imports).
ALL_LITERAL = re.compile(r"^__all__ = \[((?:\s*'\w+',?)*)\s*\]", re.M)
QUOTED_NAME = re.compile(r"'(\w+)'")
HEAD_BYTES = 8192


class Binding(NamedTuple):
    """What the eager `__init__.py` leaves under a name: `module`'s export of that name, or the module itself."""

    module: str
    export: bool


def module_exports(path: str) -> list[str] | None:
    """The names in the module's literal `__all__`, read from its source; None when it has none."""
    try:
        with open(path, encoding="utf-8") as source:
            text = source.read(HEAD_BYTES)
            while (found := ALL_LITERAL.search(text)) is None:
                more = source.read(HEAD_BYTES * 8)
                if not more:
                    return None
                text += more
    except (OSError, ValueError):  # unreadable, or not UTF-8
        return None
    return QUOTED_NAME.findall(found.group(1))


def eager_bindings(package: str, init_path: str, directory: str) -> tuple[dict[str, Binding], dict[str, str]] | None:
    """(names the star and module imports leave bound, names the plain imports bind to which module), as running
    `init_path` would leave them; None when the file is not made only of the generated import lines."""
    bindings: dict[str, Binding] = {}
    plain: dict[str, str] = {}
    try:
        with open(init_path, encoding="utf-8") as init:
            lines = init.read().splitlines()
    except (OSError, ValueError):
        return None
    for line in (stripped for raw in lines if (stripped := raw.strip()) and not stripped.startswith("#")):
        if line in PLAIN_IMPORTS:
            name, module = PLAIN_IMPORTS[line]
            plain[name] = module
        elif found := UTILITIES_IMPORT.fullmatch(line):
            level = len(found.group(1))
            plain["_utilities"] = f"{package.rsplit('.', level - 1)[0]}._utilities"
        elif found := STAR_IMPORT.fullmatch(line):
            module = found.group(1)
            exports = module_exports(f"{directory}/{module}.py")
            if exports is None:
                return None
            bindings[module] = Binding(module, export=False)
            bindings.update((name, Binding(module, export=True)) for name in exports)
        elif found := MODULE_IMPORT.fullmatch(line):
            module = found.group(1)
            if not (os.path.isfile(f"{directory}/{module}.py") or os.path.isdir(f"{directory}/{module}")):
                return None
            bindings[module] = Binding(module, export=False)
        else:
            return None
    return bindings, plain


class LazyPackage(types.ModuleType):
    """A service package whose names are bound on first read, as its eager `__init__.py` would have bound them."""

    _lazy_bindings: dict[str, Binding]

    def __getattr__(self, name: str) -> Any:
        binding = self._lazy_bindings.get(name)
        if binding is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        # `__import__`, as an import statement does: `python -X importtime` reports only imports made that way
        qualified = f"{self.__name__}.{binding.module}"
        __import__(qualified)
        module = sys.modules[qualified]
        value = getattr(module, name) if binding.export else module
        types.ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        """The import system binds each submodule it loads to its name in the package; where the eager package binds
        that name to an export instead (pulumi-kubernetes' `Namespace` module and class), keep the export."""
        binding = self._lazy_bindings.get(name)
        if binding is not None and binding.export and isinstance(value, types.ModuleType) and \
                value is sys.modules.get(f"{self.__name__}.{name}"):
            if binding.module != name:
                return  # a later module's export: bound when read
            value = getattr(value, name)
        types.ModuleType.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        """A name deleted stays deleted, as in the eager package, whether it was read before or not."""
        binding = self._lazy_bindings.pop(name, None)
        if binding is None or name in self.__dict__:
            types.ModuleType.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | set(self._lazy_bindings))


class LazyPackageLoader:
    """Loads a service package lazily, or with its own loader when its `__init__.py` is not plain imports. The
    bindings are read here, not when the package is found: pulumi-aws finds all ~240 of its service packages at
    import (`_utilities.lazy_import`) and loads only those the program touches."""

    def __init__(self, finder: LazySdkFinder, eager_loader: Any, init_path: str, directory: str):
        self.finder = finder
        self.eager_loader = eager_loader
        self.init_path = init_path
        self.directory = directory

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        """The rest of the loader's protocol (get_source, get_resource_reader...) is the eager loader's, for tools
        that read a package's files (inspect, importlib.resources)."""
        if name.startswith("__") or name in ("finder", "eager_loader", "init_path", "directory"):
            raise AttributeError(name)
        return getattr(self.eager_loader, name)

    def exec_module(self, module: types.ModuleType) -> None:
        """pulumi's lazy modules run this on a package's first use, which may come after `disable`: then eagerly."""
        found = eager_bindings(module.__name__, self.init_path, self.directory) if self.finder.enabled() else None
        if found is None:
            self.eager_loader.exec_module(module)
            return
        bindings, plain = found
        module._lazy_bindings = bindings
        module.__builtins__ = builtins.__dict__  # as in a module that ran code
        module.__all__ = sorted(name for name in (*bindings, *plain) if not name.startswith("_"))
        for name, target in plain.items():
            setattr(module, name, importlib.import_module(target))
        module.__class__ = LazyPackage


class LazySdkFinder:
    """Finds the SDKs' subpackages as the path finder does, with a loader that loads them lazily."""

    def __init__(self, roots: frozenset[str] = SDK_PACKAGES):
        self.roots = roots

    def enabled(self) -> bool:
        return self in sys.meta_path

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if path is None or fullname.partition(".")[0] not in self.roots:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not spec.submodule_search_locations or spec.origin is None or \
                not spec.origin.endswith("__init__.py"):
            return spec
        spec.loader = LazyPackageLoader(self, spec.loader, spec.origin, spec.submodule_search_locations[0])
        return spec


def enable(roots: frozenset[str] = SDK_PACKAGES) -> LazySdkFinder:
    """Load the service packages of `roots` lazily from now on; returns the finder, for `disable`."""
    finder = LazySdkFinder(roots)
    sys.meta_path.insert(0, finder)
    return finder


def disable(finder: LazySdkFinder) -> None:
    """Packages loaded lazily stay so; packages loaded from now on, found before or after, run their `__init__.py`."""
    sys.meta_path.remove(finder)
