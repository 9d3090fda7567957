"""Regenerates the committed gRPC/protobuf code from the .proto files.

Usage: python proto/generate.py [OUT_DIR]   (default: proto/, next to the sources)

The .proto tree mirrors the Python package (proto/rung/v1/rung.proto ->
rung.v1.rung_pb2), so the generated imports resolve without edits.
tests/test_proto_fresh.py regenerates into a temporary folder and fails when
the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_FILES = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> None:
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
