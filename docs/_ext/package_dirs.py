"""A griffe extension: rung's packages that live outside src/rung, for the API reference.

pyproject.toml's `package-dir` maps `client/` onto `rung.client`, `server/` onto
`rung.server` and so on. Only the installed package knows that mapping; griffe,
reading `src/rung` statically, would not find `rung.client`. When griffe has
loaded the `rung` package, this extension loads each mapped folder named in
`packages` (default: all of them) as that subpackage, so `::: rung.client` works
from a plain checkout, without importing anything.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import griffe

REPO = Path(__file__).resolve().parents[2]


class PackageDirs(griffe.Extension):
    def __init__(self, packages: list[str] | None = None) -> None:
        super().__init__()
        config = tomllib.loads((REPO / "pyproject.toml").read_text())
        mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
        self.mapped = {name: REPO / folder for name, folder in mapping.items()
                       if "." in name and (packages is None or name in packages)}

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for name, folder in sorted(self.mapped.items()):
            parent_name, _, short = name.rpartition(".")
            if parent_name != pkg.path or short in pkg.members:
                continue
            module = loader._load_module(short, folder / "__init__.py", parent=pkg)
            pkg.set_member(short, module)
