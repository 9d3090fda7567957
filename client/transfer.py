"""Checkpoint files to and from the server: chunked, checksummed, written atomically.

A reference that starts with "server:" names a blob the server keeps,
"server:<study>/<trial_id>/<resource>@<sha256>"; any other reference is a path
on a filesystem the workers share. The digest in a server reference is checked
against every downloaded byte, so a resumed trial loads exactly the checkpoint
that was reported, or fails loudly.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from rung.v1 import rung_pb2 as pb

SERVER_REF_PREFIX = "server:"
CHUNK_BYTES = 1 << 20


class ChecksumError(Exception):
    """A downloaded checkpoint is incomplete or not the one its reference names."""


def is_server_ref(ref: str) -> bool:
    return ref.startswith(SERVER_REF_PREFIX)


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex digest) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while data := f.read(CHUNK_BYTES):
            digest.update(data)
            size += len(data)
    return size, digest.hexdigest()


def upload_chunks(path: Path, header: pb.CheckpointHeader) -> Iterator[pb.CheckpointChunk]:
    """The request stream of UploadCheckpoint: the header, then the file in chunks."""
    yield pb.CheckpointChunk(header=header)
    with open(path, "rb") as f:
        while data := f.read(CHUNK_BYTES):
            yield pb.CheckpointChunk(data=data)


def save_download(chunks: Iterable[pb.CheckpointChunk], ref: str, path: Path) -> Path:
    """Writes a DownloadCheckpoint stream to `path` once its size and digest check out.

    The file appears complete or not at all (temporary file, fsync, rename).
    """
    expected = ref.rsplit("@", 1)[-1]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".download")
    try:
        digest = hashlib.sha256()
        size = 0
        header: pb.CheckpointHeader | None = None
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                if chunk.WhichOneof("part") == "header":
                    header = chunk.header
                    continue
                digest.update(chunk.data)
                size += len(chunk.data)
                f.write(chunk.data)
            f.flush()
            os.fsync(f.fileno())
        if header is None or size != header.size or digest.hexdigest() != expected:
            raise ChecksumError(
                f"checkpoint {ref}: received {size} bytes with sha256 {digest.hexdigest()}, "
                f"expected {header.size if header else '?'} bytes with sha256 {expected}"
            )
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
