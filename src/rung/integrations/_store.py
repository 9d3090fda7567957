"""What both callbacks do with rung's checkpoint store: fetch the checkpoint a trial
resumes from, store the one it saves, and pack a checkpoint folder into one file.

A checkpoint reference is a path in a folder the workers share, or a "server:"
reference to a blob the server keeps (`Trial.upload_checkpoint`,
`Study.download_checkpoint`); the SDK does the transfers, this module only picks.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from rung.client import Trial
from rung.client.transfer import is_server_ref


def resume_file(trial: Trial, suffix: str) -> Path | None:
    """The checkpoint `trial` resumes from as a local file; None for a trial starting at 0.

    A server-side checkpoint is downloaded once, beside `checkpoint_out`, under a name
    with its digest, so calling this again (or from another process on the same machine)
    finds exactly that checkpoint there.
    """
    if not trial.resume_from:
        return None
    if not trial.checkpoint_in:
        raise ValueError(f"trial {trial.trial_id} resumes at {trial.resume_from}, no checkpoint")
    if not is_server_ref(trial.checkpoint_in):
        return Path(trial.checkpoint_in)
    digest = trial.checkpoint_in.rsplit("@", 1)[-1][:16]
    name = f"resume-r{trial.resume_from}-{digest}{suffix}"
    local = trial.checkpoint_path(trial.resume_from).with_name(name)
    if not local.exists():
        trial.study.download_checkpoint(trial.checkpoint_in, local)  # verified, written atomically
    return local


def store(trial: Trial, path: Path, upload: bool, resource: int | None = None) -> str:
    """The reference to report for the checkpoint saved at `path`: with `upload` (workers
    without a shared folder) the server's, and the local file is deleted (the server keeps
    the checkpoint); else the path itself."""
    if not upload:
        return str(path)
    ref = trial.upload_checkpoint(path, resource)
    path.unlink(missing_ok=True)
    return ref


def pack(folder: Path, archive: Path) -> Path:
    """Writes `folder`'s files into the tar file `archive` (atomically: temporary file, rename)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
            for path in sorted(folder.rglob("*")):
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    raise ValueError(f"{path}: a checkpoint holds only files and folders")
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return archive


def unpack(archive: Path, folder: Path) -> Path:
    """Extracts a `pack`ed archive into `folder` (replacing it), trusting no member's path.

    The archive may have come from another machine: every member must be a plain
    file or folder whose relative path stays inside `folder` (no absolute paths,
    no "..", no links or devices), or nothing is extracted.
    """
    with tarfile.open(archive, mode="r:") as tar:
        members = tar.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            if not (member.isfile() or member.isdir()):
                raise ValueError(f"{archive}: {member.name!r} is not a plain file or folder")
            if name.is_absolute() or ".." in name.parts or "\\" in member.name:
                raise ValueError(f"{archive}: member path {member.name!r} leaves the folder")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            root = tmp.resolve()
            for member in members:
                target = (root / member.name).resolve()
                if not target.is_relative_to(root):
                    raise ValueError(f"{archive}: member path {member.name!r} leaves the folder")
            # The "data" filter (Python >= 3.10.12) checks again, and drops modes and owners.
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **safe)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder
