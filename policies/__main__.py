"""Entry point of the policy pack: assembles the pack, nothing else.

The Pulumi CLI runs `<virtualenv>/bin/python -u -m pulumi.policy <engine> <pack dir>`, which executes this
file with `runpy.run_path`: as a script, not as part of a package, whatever the directory is called once
published and unpacked. So the package is loaded here from this file's own directory, and the rule modules
import each other relatively.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

PACK_DIR = Path(__file__).resolve().parent
FALLBACK_PACKAGE = "social_media_scraper_policies"


def load_pack_package() -> str:
    """Import this directory as a package (under its own name when that is free) and return the name."""
    name = PACK_DIR.name if PACK_DIR.name.isidentifier() else FALLBACK_PACKAGE
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve().parent == PACK_DIR:
        return name
    if loaded is not None:
        name = FALLBACK_PACKAGE
    spec = importlib.util.spec_from_file_location(
        name, PACK_DIR / "__init__.py", submodule_search_locations=[str(PACK_DIR)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return name


pack = importlib.import_module(f"{load_pack_package()}.pack")
PolicyPack(name=pack.PACK_NAME, policies=pack.POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
