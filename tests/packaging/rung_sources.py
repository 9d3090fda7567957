"""Where rung's modules are: every rung.* module's file, from pyproject's package-dir.

Shared by the packaging tests that read the source rather than import it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def package_dirs() -> dict[str, Path]:
    """{package name: its source folder}, from pyproject.toml."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: REPO / folder for name, folder in mapping.items()}


def rung_modules() -> dict[str, Path]:
    """{module name: file} for every module of rung.*; a folder mapped to a package of its
    own (rung.server inside rung's tree, say) belongs to that package only."""
    dirs = package_dirs()
    modules: dict[str, Path] = {}
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            owner = max(
                (p for p in dirs if path.is_relative_to(dirs[p])), key=lambda p: len(dirs[p].parts)
            )
            if owner == package:
                modules[name] = path
    return modules
