"""What a training run records of the code and libraries it ran with, so `retrain --reproduce` can tell a
changed result from a changed environment."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata

from django.conf import settings


@lru_cache(maxsize=1)
def code_version() -> str:
    """`git describe` of the working tree, or the installed package version when git is not there."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=settings.BASE_DIR, capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
        if described:
            return f"git:{described}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"aiops=={metadata.version('aiops')}"
    except metadata.PackageNotFoundError:
        return "unknown"


LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "numba", "joblib")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
