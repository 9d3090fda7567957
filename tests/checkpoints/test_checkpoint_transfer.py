"""Checkpoint upload and download through a real `rung serve` subprocess.

The server limits checkpoints to 4 MiB here, so a 2.5 MiB blob travels in
three chunks and a 4 MiB + 1 byte one is refused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from rung.client import Client, Decision, Trial, TrialLost
from rung.client.transfer import ChecksumError
from rung.v1 import rung_pb2 as pb
from support import ServerProcess, rung_command

LIMIT = 4 << 20


@pytest.fixture
def blob_server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "rung.db", ["--max-checkpoint-mb", "4"]).start()
    yield proc
    proc.terminate()


@pytest.fixture
def client(blob_server: ServerProcess) -> Iterator[Client]:
    with Client(blob_server.address, retry_seconds=10) as c:
        yield c


def _first_trial(client: Client, name: str = "blobs") -> Trial:
    study = client.create_study(name, space={"x": [1, 2, 3]}, r_max=3, eta=3, max_trials=3)
    return next(study.trials(worker_id="w1"))


def _write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def _upload(client: Client, header: pb.CheckpointHeader, data: bytes) -> pb.CheckpointRef:
    """A raw UploadCheckpoint call, for requests the SDK would never send."""
    step = 1 << 20
    chunks = [pb.CheckpointChunk(header=header)]
    chunks += [pb.CheckpointChunk(data=data[i : i + step]) for i in range(0, len(data), step)]
    return client._stub.UploadCheckpoint(iter(chunks), timeout=30)


def _header(trial: Trial, data: bytes, **overrides: object) -> pb.CheckpointHeader:
    fields = {
        "study": trial.study.name,
        "trial_id": trial.trial_id,
        "lease_id": trial.lease_id,
        "resource": trial.milestone,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **overrides,
    }
    return pb.CheckpointHeader(**fields)


def _stored_files(server: ServerProcess) -> list[Path]:
    root = Path(f"{server.db}.checkpoints")
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_round_trip_in_chunks_and_resume_gets_the_reference(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    trial = _first_trial(client)
    data = _write(tmp_path / "ckpt.pt", (5 << 20) // 2)
    ref = trial.upload_checkpoint(tmp_path / "ckpt.pt")
    assert ref == f"server:blobs/{trial.trial_id}/1@{hashlib.sha256(data).hexdigest()}"
    assert trial.report(1, 0.5, checkpoint=ref) is Decision.PAUSE
    (stored,) = _stored_files(blob_server)
    assert stored.read_bytes() == data  # next to the database, as opaque bytes
    (listed,) = [t for t in client.list_trials("blobs") if t.id == trial.trial_id]
    assert (listed.checkpoint, listed.checkpoint_resource) == (ref, 1)

    out = client.study("blobs").download_checkpoint(ref, tmp_path / "down" / "r1.pt")
    assert out.read_bytes() == data
    assert not list((tmp_path / "down").glob(".*"))  # no temporary file left behind


def test_checksum_mismatch_is_rejected_and_nothing_is_stored(
    client: Client, blob_server: ServerProcess
) -> None:
    trial = _first_trial(client)
    data = os.urandom(1000)
    with pytest.raises(grpc.RpcError) as err:
        _upload(client, _header(trial, data, sha256=hashlib.sha256(b"other").hexdigest()), data)
    assert err.value.code() == grpc.StatusCode.DATA_LOSS
    assert "checksum mismatch" in err.value.details()
    assert _stored_files(blob_server) == []


def test_oversized_upload_is_refused_with_resource_exhausted(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    trial = _first_trial(client)
    _write(tmp_path / "big.pt", LIMIT + 1)
    with pytest.raises(grpc.RpcError) as err:
        trial.upload_checkpoint(tmp_path / "big.pt")
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-checkpoint-mb" in err.value.details()
    assert _stored_files(blob_server) == []


def test_a_stream_longer_or_shorter_than_declared_is_refused(client: Client) -> None:
    trial = _first_trial(client)
    data = os.urandom(3000)
    for declared in (len(data) - 1, len(data) + 1):
        with pytest.raises(grpc.RpcError) as err:
            _upload(client, _header(trial, data, size=declared), data)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_upload_without_an_active_lease_fails_precondition(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    trial = _first_trial(client)
    data = _write(tmp_path / "ckpt.pt", 1000)
    with pytest.raises(grpc.RpcError) as err:
        _upload(client, _header(trial, data, lease_id="not-a-lease"), data)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    assert trial.report(1, 0.5) is Decision.PAUSE  # the job ends, and its lease with it
    with pytest.raises(grpc.RpcError) as err:
        _upload(client, _header(trial, data), data)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(TrialLost):  # what the SDK makes of it
        trial.upload_checkpoint(tmp_path / "ckpt.pt")
    assert _stored_files(blob_server) == []


def test_upload_outside_the_segment_and_foreign_references_are_invalid(
    client: Client, tmp_path: Path
) -> None:
    trial = _first_trial(client)
    other = next(client.study("blobs").trials(worker_id="w2"))
    data = _write(tmp_path / "ckpt.pt", 1000)
    with pytest.raises(grpc.RpcError) as err:
        _upload(client, _header(trial, data, resource=2), data)  # segment is 0 -> 1
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    foreign = other.upload_checkpoint(tmp_path / "ckpt.pt")
    with pytest.raises(grpc.RpcError) as err:
        trial.report(1, 0.5, checkpoint=foreign)  # names trial `other`'s blob
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert other.report(1, 0.4, checkpoint=foreign) is Decision.PAUSE


def test_download_refuses_bad_references_and_detects_corruption(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    trial = _first_trial(client)
    _write(tmp_path / "ckpt.pt", 5000)
    ref = trial.upload_checkpoint(tmp_path / "ckpt.pt")
    trial.report(1, 0.5, checkpoint=ref)
    study = client.study("blobs")
    zeros = "0" * 64
    for bad in (f"server:../../etc/1/1@{zeros}", f"server:a..b/0/1@{zeros}", "server:blobs/0/1",
                "/etc/passwd"):
        with pytest.raises(grpc.RpcError) as err:
            next(client._stub.DownloadCheckpoint(pb.CheckpointRequest(ref=bad)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    with pytest.raises(grpc.RpcError) as err:
        study.download_checkpoint(f"server:blobs/{trial.trial_id}/2@{zeros}", tmp_path / "x")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    (stored,) = _stored_files(blob_server)
    stored.write_bytes(b"flipped" + stored.read_bytes()[7:])  # bit rot on the server's disk
    with pytest.raises(ChecksumError):
        study.download_checkpoint(ref, tmp_path / "rotten.pt")
    assert not (tmp_path / "rotten.pt").exists()


def _export(server: ServerProcess, study: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rung_command("export-checkpoint", study, "--server", server.address, "-o", str(out)),
        capture_output=True, text=True, timeout=60,
    )


def test_export_checkpoint_writes_the_incumbents_checkpoint(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    """Server-stored and shared-folder references both export; the incumbent's is chosen."""
    study = client.create_study("exp", space={"x": [1, 2, 3]}, r_max=3, eta=3, max_trials=2)
    empty = _export(blob_server, "exp", tmp_path / "none.pt")
    assert empty.returncode == 1 and "no results yet" in empty.stderr

    contents = {}
    for value, on_server in ((0.3, True), (0.2, False)):
        trial = next(study.trials(worker_id="w", checkpoint_dir=tmp_path / "shared"))
        trial.checkpoint_out.parent.mkdir(parents=True)
        contents[trial.trial_id] = _write(trial.checkpoint_out, 2000)
        ref = trial.upload_checkpoint(trial.checkpoint_out) if on_server else True
        trial.report(1, value, checkpoint=ref)
        done = _export(blob_server, "exp", tmp_path / "best.pt")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "best.pt").read_bytes() == contents[trial.trial_id]
        assert f"trial {trial.trial_id}" in done.stdout


def test_deleting_a_study_removes_its_checkpoints(
    client: Client, blob_server: ServerProcess, tmp_path: Path
) -> None:
    trial = _first_trial(client, "doomed")
    keep = _first_trial(client, "kept")
    for t in (trial, keep):
        _write(tmp_path / f"{t.study.name}.pt", 1000)
        t.report(1, 0.5, checkpoint=t.upload_checkpoint(tmp_path / f"{t.study.name}.pt"))
    assert {p.parts[-3] for p in _stored_files(blob_server)} == {"doomed", "kept"}
    client.delete_study("doomed")
    assert {p.parts[-3] for p in _stored_files(blob_server)} == {"kept"}
