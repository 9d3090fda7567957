"""The committed generated code is exactly what proto/generate.py makes now."""

from __future__ import annotations

from proto_generator import REPO, load_generator


def test_generated_code_is_fresh(tmp_path):
    load_generator().generate(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh, "protoc generated nothing"
    for rel in fresh:
        committed = REPO / "proto" / rel
        assert committed.exists(), f"{rel} is not committed: run python proto/generate.py"
        assert committed.read_bytes() == (tmp_path / rel).read_bytes(), (
            f"{rel} is stale: run python proto/generate.py and commit the result"
        )
