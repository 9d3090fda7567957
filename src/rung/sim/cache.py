"""One JSON file per (method, benchmark, seed) run, so a comparison reruns only what is missing.

Runs live under a folder named by the settings every method shares (workers,
budget, rung levels), so results of different settings never mix. Files are
written whole (write, then rename), so an interrupted run leaves no half file,
and processes in different virtual environments can fill the same cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping


def settings_key(settings: Mapping[str, Any]) -> str:
    s = settings
    return f"w{s['workers']}-b{s['budget']:g}-r{s['r_min']}-{s['r_max']}-eta{s['eta']}"


def method_slug(method: str) -> str:
    """A file-name-safe method name ("asha:gp" -> "asha+gp"); ':' is not portable."""
    return method.replace(":", "+")


class RunCache:
    def __init__(self, root: Path, settings: Mapping[str, Any]):
        self.folder = Path(root) / settings_key(settings)

    def path(self, method: str, benchmark: str, seed: int) -> Path:
        return self.folder / benchmark / method_slug(method) / f"{seed}.json"

    def load(self, method: str, benchmark: str, seed: int) -> dict[str, Any] | None:
        path = self.path(method, benchmark, seed)
        return json.loads(path.read_text()) if path.exists() else None

    def store(self, run: Mapping[str, Any]) -> Path:
        path = self.path(run["method"], run["benchmark"], run["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(run, separators=(",", ":")))
        partial.replace(path)
        return path

    def missing(self, wanted: Iterable[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        return [key for key in wanted if not self.path(*key).exists()]
