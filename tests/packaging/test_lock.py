"""The lock (requirements/*.txt) and pyproject.toml cannot drift apart, and `make setup`
installs exactly the lock.

pyproject.toml keeps ranges for people who `pip install rung` into an environment of their
own; `make setup` installs the exact versions `make lock` compiled from those ranges. These
tests fail when someone edits one without the other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from proto_generator import load_generator

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "dev.txt"
RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


GENERATE = load_generator()
LOCKED = GENERATE.locked_versions(LOCK)


def _makefile_extras() -> list[str]:
    match = re.search(r"^EXTRAS := (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile has no EXTRAS line"
    return match.group(1).split()


def _requirements(extras: list[str]) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_make_setup_installs_every_extra_pyproject_declares():
    assert sorted(_makefile_extras()) == sorted(PYPROJECT["project"]["optional-dependencies"])


def test_every_pin_of_a_direct_requirement_is_inside_pyproject_s_range():
    env = default_environment()
    outside, missing = [], []
    for req in _requirements(_makefile_extras()):
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        pinned = LOCKED.get(GENERATE.canonical(req.name))
        if pinned is None:
            missing.append(str(req))
        elif not req.specifier.contains(pinned, prereleases=True):
            outside.append(f"{req.name}=={pinned} (pyproject.toml: {req})")
    assert not missing, f"not in {LOCK.name}: {missing}; run `make lock LOCK_FLAGS=`"
    assert not outside, f"pins outside pyproject.toml's ranges: {outside}; run `make lock`"


def test_pins_in_requirements_pins_in_are_the_lock_s():
    for line in (REPO / "requirements" / "pins.in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert req.specifier.contains(LOCKED[GENERATE.canonical(req.name)]), line


def test_the_image_s_lock_agrees_with_the_development_lock():
    runtime = GENERATE.locked_versions(RUNTIME_LOCK)
    assert runtime, f"{RUNTIME_LOCK.name} pins nothing"
    differ = {n: (v, LOCKED.get(n)) for n, v in runtime.items() if LOCKED.get(n) != v}
    assert not differ, f"runtime.txt vs dev.txt (runtime, dev): {differ}; run `make lock`"


def test_every_pin_carries_a_hash():
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text().split("\n\n", 1)[-1])
    unhashed = [b.split()[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert not unhashed, f"pins without hashes: {unhashed}"


def test_generated_code_grpcio_floor_and_lock_name_one_grpcio_tools_version():
    tools = LOCKED["grpcio-tools"]
    generated = (REPO / "proto" / "rung" / "v1" / "rung_pb2_grpc.py").read_text()
    header = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", generated)
    assert header and header.group(1) == tools, (header and header.group(1), tools)
    grpcio = next(r for r in _requirements([]) if r.name == "grpcio")
    floors = [s.version for s in grpcio.specifier if s.operator == ">="]
    assert floors == [tools], f"pyproject.toml's grpcio floor {floors} != grpcio-tools {tools}"


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (REPO / ".venv").resolve(),
    reason="checks the venv `make setup` made (this run uses another interpreter)",
)
def test_the_venv_holds_exactly_the_lock():
    installed = {
        GENERATE.canonical(d.metadata["Name"]): d.version
        for d in distributions()
        if d.metadata["Name"] and GENERATE.canonical(d.metadata["Name"]) != "rung"
    }
    extra = sorted(f"{n}=={v}" for n, v in installed.items() if n not in LOCKED)
    absent = sorted(f"{n}=={v}" for n, v in LOCKED.items() if n not in installed)
    other = sorted(f"{n}: {installed[n]} != {v}" for n, v in LOCKED.items()
                   if n in installed and installed[n] != v)
    assert not (extra or absent or other), (
        f"not in the lock: {extra}; locked but missing: {absent}; other versions: {other}; "
        "run `make setup`"
    )


def test_the_image_s_torch_index_variant_keeps_every_other_pin_with_its_hashes(tmp_path):
    """deploy/docker/without-torch.awk: what the Dockerfile installs beside another torch."""
    rest = subprocess.run(
        ["awk", "-f", str(REPO / "deploy" / "docker" / "without-torch.awk"), str(RUNTIME_LOCK)],
        check=True, capture_output=True, text=True,
    ).stdout
    (tmp_path / "rest.txt").write_text(rest)
    kept = GENERATE.locked_versions(tmp_path / "rest.txt")
    dropped = set(GENERATE.locked_versions(RUNTIME_LOCK)) - set(kept)
    assert {"torch", "torchvision"} <= dropped
    assert all(re.match(r"(torch|torchvision|triton|nvidia-|cuda-)", name) for name in dropped)
    assert rest.count("--hash=sha256:") == sum(
        block.count("--hash=sha256:")
        for block in re.split(r"\n(?=[A-Za-z0-9])", RUNTIME_LOCK.read_text())
        if block.split("==")[0] in kept
    )
