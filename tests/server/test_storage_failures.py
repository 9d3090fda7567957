"""A journal or checkpoint folder that cannot be written now (a full disk) answers
UNAVAILABLE, which clients retry; once there is room again the retry succeeds and
nothing is lost or doubled."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from rung.core.errors import StorageUnavailable
from rung.server.blobs import BlobKey, BlobStore
from rung.server.rpc import status_for
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from server_support import make_spec

NO_LIMIT = 1_073_741_823  # SQLite's largest max_page_count


def test_a_full_disk_is_unavailable_and_the_same_call_retried_later_succeeds(
    tmp_path: Path,
) -> None:
    journal = SqliteJournal(tmp_path / "rung.db")
    service = StudyService(journal, lease_seconds=60)
    service.create_study(make_spec(trials=10_000))
    pages = journal._writer.execute("PRAGMA page_count").fetchone()[0]
    journal._writer.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk full"
    issued = []
    with pytest.raises(StorageUnavailable, match=r"full \(SQLITE_FULL\)") as info:
        for i in range(10_000):  # until an event needs a page the file may not grow by
            issued.append(service.suggest("s", "w", f"request-{i}"))
    failed = f"request-{len(issued)}"
    assert status_for(info.value, "suggest")[0] is grpc.StatusCode.UNAVAILABLE

    journal._writer.execute(f"PRAGMA max_page_count = {NO_LIMIT}")  # room again
    retried = service.suggest("s", "w", failed)
    assert retried.job.trial_id == len(issued)  # the failed Suggest issued nothing
    assert service.suggest("s", "w", failed) == retried  # and is answered once
    service.close()
    restarted = StudyService(SqliteJournal(tmp_path / "rung.db"), lease_seconds=60)
    assert len(restarted.list_trials("s")) == len(issued) + 1
    restarted.close()


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real "No space left on device" (mounting needs root)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)]
    done = subprocess.run(mount, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _blob(trial_id: int, size: int) -> tuple[BlobKey, bytes]:
    data = os.urandom(size)
    return BlobKey("s", trial_id, 1, hashlib.sha256(data).hexdigest()), data


def test_a_full_checkpoint_folder_is_unavailable_and_keeps_no_partial_upload(
    tiny_filesystem: Path,
) -> None:
    store = BlobStore(tiny_filesystem, max_bytes=10**9)
    key, data = _blob(0, 1024 * 1024)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    with pytest.raises(StorageUnavailable, match="is full") as info:
        store.receive(key, len(data), chunks)
    assert status_for(info.value, "upload")[0] is grpc.StatusCode.UNAVAILABLE
    assert store.stored("s") == []
    assert [f for f in tiny_filesystem.rglob("*") if f.is_file()] == []  # no partial file
    smaller, data = _blob(1, 64 * 1024)  # what the failed upload wrote was given back
    store.receive(smaller, len(data), [data])
    assert store.stored("s") == [smaller]
