"""Checkpoint blobs kept by the server, so workers need no shared filesystem.

A worker uploads the checkpoint of each milestone (UploadCheckpoint) and
reports the reference it gets back; whichever worker resumes the trial later
downloads it (DownloadCheckpoint). Blobs are opaque bytes here: the server
never unpickles them.

Layout: ``<root>/<study>/<trial_id>/r<resource>-<sha256>.pt``. Every component
comes from a validated study name, integers and a hex digest, never from a path
a client sent. Names are content-addressed: two uploads for the same
(trial, resource) with different bytes (a worker that lost its lease and the
one that took the trial over) land in different files, and a reference, which
carries the digest, always names the exact bytes that were reported.

A blob is written to a temporary file, fsynced, renamed into place and its
folder fsynced before the upload is acknowledged, so a reported reference
never names a blob a crash can lose. Leftover temporary files of a crashed
upload are removed when the store opens.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from rung.durable import fsync_dir
from rung.core.errors import InvalidArgument, NotFound, RungError, StorageUnavailable
from rung.core.study import check_study_name

SERVER_REF_PREFIX = "server:"
CHUNK_BYTES = 1 << 20
_REF = re.compile(r"server:([^/]+)/(\d{1,18})/(\d{1,18})@([0-9a-f]{64})")
_BLOB_NAME = re.compile(r"r(\d{1,18})-([0-9a-f]{64})\.pt")
_TMP_SUFFIX = ".upload"


@dataclass(frozen=True)
class CheckpointSettings:
    """How `rung serve` keeps checkpoint blobs."""

    directory: Path | None = None  # None: "<db>.checkpoints" next to the database
    max_bytes: int = 512 << 20
    sweep_seconds: float = 30.0  # how often unreachable checkpoints are deleted

    def folder(self, db: Path) -> Path:
        return self.directory or db.with_name(db.name + ".checkpoints")


class ResourceExhausted(RungError):
    """A request needs more than the server gives one caller: a blob larger than it
    accepts, or a stream beyond its limit of concurrent streams."""


class DataLoss(RungError):
    """The bytes received do not match the checksum the sender declared."""


class NoBlobStore(RungError):
    """This server was started without a place for checkpoints."""


@dataclass(frozen=True)
class BlobKey:
    """Names one stored checkpoint; `ref` is what reports and jobs carry."""

    study: str
    trial_id: int
    resource: int
    sha256: str

    def __post_init__(self) -> None:
        check_study_name(self.study)
        for what, value in (("trial_id", self.trial_id), ("resource", self.resource)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"checkpoint {what} must be an integer >= 0, got {value!r}")
        if not isinstance(self.sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise InvalidArgument("checkpoint sha256 must be 64 lowercase hex digits")

    @property
    def ref(self) -> str:
        return f"{SERVER_REF_PREFIX}{self.study}/{self.trial_id}/{self.resource}@{self.sha256}"

    @classmethod
    def parse(cls, ref: str) -> "BlobKey":
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise InvalidArgument(
                f"not a server checkpoint reference: {ref!r} "
                "(expected server:<study>/<trial_id>/<resource>@<sha256>)"
            )
        study, trial_id, resource, sha256 = match.groups()
        return cls(study, int(trial_id), int(resource), sha256)


def check_report_ref(ref: str, study: str, trial_id: int, resource: int) -> None:
    """A server reference in a report must name a blob of that very trial and resource.

    Retention keeps blobs by what reports recorded; a reference to another
    trial's or resource's blob would let it delete what a resume needs.
    """
    if not ref.startswith(SERVER_REF_PREFIX):
        return
    key = BlobKey.parse(ref)
    if (key.study, key.trial_id, key.resource) != (study, trial_id, resource):
        raise InvalidArgument(
            f"checkpoint {ref!r} belongs to {key.study}#{key.trial_id} at resource "
            f"{key.resource}, not to this report ({study}#{trial_id} at {resource})"
        )


class BlobStore:
    """Checkpoint blobs in a folder (by default next to the server's database)."""

    def __init__(self, root: Path, max_bytes: int):
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob(f"*/*/.*{_TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)

    def path(self, key: BlobKey) -> Path:
        return self.root / key.study / str(key.trial_id) / f"r{key.resource}-{key.sha256}.pt"

    def receive(
        self,
        key: BlobKey,
        size: int,
        data: Iterable[bytes],
        before_commit: Callable[[], None] = lambda: None,
    ) -> BlobKey:
        """Streams `data` to disk, checking the declared size and digest; stores it atomically.

        `before_commit` runs after the last byte and before the blob becomes
        visible (the server checks there that the uploader still holds its lease).
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidArgument(f"checkpoint size must be a positive integer, got {size!r}")
        if size > self.max_bytes:
            raise ResourceExhausted(
                f"checkpoint of {size} bytes exceeds this server's limit of {self.max_bytes} "
                "bytes (rung serve --max-checkpoint-mb)"
            )
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=_TMP_SUFFIX
        )
        try:
            with os.fdopen(fd, "wb") as f:
                _write_checked(f, data, size, key.sha256)
            before_commit()
            os.replace(tmp_name, target)
        except BaseException as exc:
            Path(tmp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageUnavailable(  # retention or an operator may make room: retry
                    f"the server's checkpoint folder {self.root} is full "
                    f"({os.strerror(exc.errno)}); the upload can be retried once there is room"
                ) from exc
            raise
        for folder in (target.parent, target.parent.parent, self.root):
            fsync_dir(folder)
        return key

    def open(self, key: BlobKey) -> tuple[BinaryIO, int]:
        """The blob, opened for reading (it stays readable if retention deletes it meanwhile)."""
        try:
            f = self.path(key).open("rb")
        except FileNotFoundError:
            raise NotFound(
                f"checkpoint {key.ref} is not stored on this server (never uploaded, or "
                "deleted because its trial can no longer resume)"
            ) from None
        return f, os.fstat(f.fileno()).st_size

    def studies(self) -> list[str]:
        """Names of the studies that have a blob folder."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _is_study_name(p.name))

    def stored(self, study: str) -> list[BlobKey]:
        """Every complete blob of a study (temporary files of running uploads excluded)."""
        keys = []
        for trial_dir in (self.root / check_study_name(study)).glob("*"):
            if not trial_dir.name.isdigit():
                continue
            for blob in trial_dir.iterdir():
                match = _BLOB_NAME.fullmatch(blob.name)
                if match:
                    keys.append(BlobKey(study, int(trial_dir.name), int(match[1]), match[2]))
        return sorted(keys, key=lambda k: (k.trial_id, k.resource, k.sha256))

    def delete(self, keys: Iterable[BlobKey]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def delete_study(self, study: str) -> None:
        """Removes every blob of a deleted study."""
        shutil.rmtree(self.root / check_study_name(study), ignore_errors=True)


def _write_checked(f: BinaryIO, data: Iterable[bytes], size: int, sha256: str) -> None:
    """Writes the stream to `f` and fsyncs it if it has exactly `size` bytes with that digest."""
    digest = hashlib.sha256()
    received = 0
    for chunk in data:
        received += len(chunk)
        if received > size:
            raise InvalidArgument(f"checkpoint stream is longer than the declared {size} bytes")
        digest.update(chunk)
        f.write(chunk)
    if received != size:
        raise InvalidArgument(f"checkpoint stream ended after {received} of {size} bytes")
    if digest.hexdigest() != sha256:
        raise DataLoss(
            f"checkpoint checksum mismatch: received sha256 {digest.hexdigest()}, "
            f"declared {sha256}"
        )
    f.flush()
    os.fsync(f.fileno())


def _is_study_name(name: str) -> bool:
    try:
        check_study_name(name)
    except InvalidArgument:
        return False
    return True
