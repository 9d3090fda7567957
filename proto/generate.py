"""Regenerates the committed gRPC/protobuf code from the .proto files.

Usage: python proto/generate.py [OUT_DIR]   (default: proto/, next to the sources)

The .proto tree mirrors the Python package (proto/rung/v1/rung.proto ->
rung.v1.rung_pb2), so the generated imports resolve without edits.
tests/packaging/test_proto_fresh.py regenerates into a temporary folder and
fails when the committed files differ.

The generated code records the grpcio-tools version that made it and refuses
older grpcio runtimes, so it is made only by the version the lock pins
(requirements/dev.txt): upgrade grpcio-tools with `make lock`, then regenerate.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_FILES = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
LOCK = PROTO_ROOT.parent / "requirements" / "dev.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def canonical(name: str) -> str:
    """PEP 503's normalized name: `grpcio_tools` and `GRPCIO-Tools` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """Every `name==version` pin in a pip-compile lock, by normalized name."""
    return {canonical(name): ver for name, ver in _PIN.findall(lock.read_text())}


def check_generator_is_locked() -> None:
    """Refuse to generate with any grpcio-tools but the locked one."""
    locked, installed = locked_versions()["grpcio-tools"], version("grpcio-tools")
    if installed != locked:
        raise SystemExit(
            f"grpcio-tools {installed} is installed but {LOCK.name} pins {locked}: "
            "run `make setup` (or `make lock` to move the pin), then regenerate"
        )


def generate(out_dir: Path) -> None:
    check_generator_is_locked()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in PROTO_FILES:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"--python_out={out_dir}",
                f"--pyi_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                name,
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed on {name} with exit code {code}")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT)
