"""No module of rung.* is longer than about 400 lines, generated code (*_pb2*.py) aside.

A longer module has grown more than one job: split it by responsibility, each
new module with a docstring that says its one job (server/service.py and the
study_*.py modules it is assembled from are an example). No module is exempt.
"""

from __future__ import annotations

from rung_sources import REPO, rung_modules

MAX_LINES = 400


def is_generated(name: str) -> bool:
    return "_pb2" in name.rpartition(".")[2]


def test_no_module_is_over_the_limit():
    files = {name: path for name, path in rung_modules().items() if not is_generated(name)}
    assert len(files) > 50, "the source folders were not found"
    sizes = {name: len(path.read_text().splitlines()) for name, path in files.items()}
    too_long = sorted(((lines, name) for name, lines in sizes.items() if lines > MAX_LINES),
                      reverse=True)
    listed = "\n".join(
        f"  {name} ({files[name].relative_to(REPO)}): {lines} lines" for lines, name in too_long
    )
    assert not too_long, f"modules over {MAX_LINES} lines; split each by responsibility:\n{listed}"
