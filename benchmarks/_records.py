"""The JSON-lines files the curve-recording scripts append to and resume from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_records(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The header line (the one with "settings") and the complete record lines of `path`;
    a last line cut short by a crash is dropped, so a restart redoes that record."""
    if not path.exists():
        return None, []
    header, records = None, []
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "settings" in item:
            header = item
        else:
            records.append(item)
    return header, records
