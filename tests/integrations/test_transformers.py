"""rung.integrations.transformers against a real `rung serve`: the example's study with
promotions, resumed trials equal to trials trained straight (epochs and steps), hand-back
on SIGTERM, and archives that cannot write outside their folder."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback
from transformers import TrainingArguments

from rung.client import Client, Study
from rung.integrations._store import pack, unpack
from rung.integrations.transformers import RungCallback, resume_path
from rung.v1 import rung_pb2 as pb
from support import REPO, ServerProcess, subprocess_env

EXAMPLE = REPO / "examples" / "transformers_tiny_bert.py"


def check_history(t: pb.Trial, every: int = 1) -> None:
    """Contiguous segments from 0, one report per `every`, the checkpoint of the last milestone."""
    assert [s.resume_from for s in t.segments] == [0] + [s.milestone for s in t.segments[:-1]]
    last = t.segments[-1].milestone
    assert [o.resource for o in t.observations] == list(range(every, last + 1, every))
    assert t.checkpoint_resource == last


def test_example_promotes_and_resumes_from_server_checkpoints(server: ServerProcess, tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--server", server.address, "--checkpoints", "server"],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    assert [line for line in out.stdout.splitlines() if line.startswith("best: Incumbent(")]
    with Client(server.address) as client:
        study = client.get_study("tiny-bert")
        trials = client.list_trials("tiny-bert")
    assert study.state == pb.STUDY_DONE and study.trials_started == 9 and study.promotions >= 2
    for t in trials:
        check_history(t)
        assert t.checkpoint.startswith("server:tiny-bert/")
    resumed = [(t.id, s.resume_from) for t in trials for s in t.segments if s.resume_from > 0]
    assert any(r == 3 for _, r in resumed)  # promoted twice: 1 -> 3 -> 9
    for trial_id, r in resumed:  # each resumed job unpacked the Trainer checkpoint it downloaded
        trial_dir = tmp_path / "scratch" / "tiny-bert" / f"trial-{trial_id}"
        (folder,) = trial_dir.glob(f"resume-r{r}-*-unpacked")
        state = json.loads((folder / "trainer_state.json").read_text())
        assert state["epoch"] == r and (folder / "optimizer.pt").exists()
    # Uploaded archives and the Trainer's folders packed into them leave the scratch folder.
    assert not list((tmp_path / "scratch").rglob("r[0-9]*.tar"))
    assert not list((tmp_path / "scratch").rglob("checkpoint-*"))
    assert study.incumbent.value < 0.4  # the synthetic task is learnable


# ------------------------------------------------------------ resumed == straight

VOCAB, LENGTH = 30, 10
GOOD, BAD = {"learning_rate": 3e-3}, {"learning_rate": 1e-5}
SPACE = {"learning_rate": [1e-5, 3e-3]}


def datasets() -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(1, VOCAB, (320, LENGTH), generator=g)
    labels = ((tokens < VOCAB // 2).sum(1) > LENGTH // 2).long()
    data = [{"input_ids": t, "labels": y} for t, y in zip(tokens, labels, strict=True)]
    return data[:256], data[256:]  # 8 steps of 32 per epoch


def tiny_bert() -> BertForSequenceClassification:
    return BertForSequenceClassification(BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=LENGTH, num_labels=2,
    ))  # dropout 0.1 in every layer: the RNG state must be restored too


def train_study(study: Study, root: Path, unit: str, horizon: int, *extra: TrainerCallback) -> None:
    """The user's loop, in this process: the schedule spans the study's r_max (`horizon`)."""
    train, val = datasets()
    for trial in study.trials(checkpoint_dir=root / "ckpt"):
        with trial:
            transformers.set_seed(0)
            per_unit = {"num_train_epochs": horizon, "eval_strategy": "epoch"} if unit == "epochs" \
                else {"max_steps": horizon, "eval_strategy": "steps", "eval_steps": 4}
            args = TrainingArguments(
                str(root / f"out-{trial.trial_id}"), save_strategy="no", seed=0, use_cpu=True,
                per_device_train_batch_size=32, report_to="none", disable_tqdm=True,
                logging_strategy="no", **per_unit, **trial.config,
            )
            trainer = Trainer(tiny_bert(), args, train_dataset=train, eval_dataset=val,
                              callbacks=[RungCallback(trial), *extra])
            trainer.train(resume_from_checkpoint=resume_path(trial))


@pytest.mark.parametrize("unit, r_min, r_max", [("epochs", 2, 4), ("steps", 4, 8)])
def test_a_resumed_trial_reports_what_a_trial_trained_straight_reports(
    server: ServerProcess, tmp_path: Path, unit: str, r_min: int, r_max: int
):
    every = 1 if unit == "epochs" else 4
    with Client(server.address) as client:
        # ASHA with eta=2 over two configurations: GOOD trains to r_min, pauses, resumes.
        # In steps, r_min = 4 is half an epoch: the Trainer resumes mid-epoch.
        paused = client.create_study(
            "paused", SPACE, scheduler="asha", r_min=r_min, r_max=r_max, eta=2,
            initial_configs=[GOOD, BAD], max_trials=2, metric="eval_loss")
        straight = client.create_study(  # FIFO: one job from 0 to r_max
            "straight", SPACE, scheduler="fifo", r_min=r_min, r_max=r_max, eta=2,
            initial_configs=[GOOD], max_trials=1, metric="eval_loss")
        train_study(paused, tmp_path / "paused", unit, r_max)
        train_study(straight, tmp_path / "straight", unit, r_max)
        (resumed,) = [t for t in client.list_trials("paused") if len(t.segments) > 1]
        (whole,) = client.list_trials("straight")
    assert [(s.resume_from, s.milestone) for s in resumed.segments] == [(0, r_min), (r_min, r_max)]
    assert [(s.resume_from, s.milestone) for s in whole.segments] == [(0, r_max)]
    check_history(resumed, every)
    check_history(whole, every)
    archive = tmp_path / "paused" / "ckpt" / "paused" / f"trial-{resumed.id}" / f"r{r_max}.tar"
    assert resumed.checkpoint == str(archive) and tarfile.is_tarfile(archive)
    a = [o.value for o in resumed.observations]
    b = [o.value for o in whole.observations]
    differences = [abs(u - v) for u, v in zip(a, b, strict=True)]
    print(f"resumed - straight, per report ({unit}):", differences)
    assert max(differences) <= 1e-6, (a, b)


@pytest.mark.parametrize("settings, reason", [
    ({"eval_strategy": "no"}, "needs eval_strategy='epoch'"),
    ({"num_train_epochs": 1}, "before the trial's milestone 2"),
    ({"save_strategy": "best", "metric_for_best_model": "eval_loss"}, "not 'best'"),
])
def test_a_trainer_that_would_miss_the_milestone_fails_the_trial_saying_why(
    server: ServerProcess, tmp_path: Path, settings: dict[str, Any], reason: str
):
    train, val = datasets()
    with Client(server.address) as client:
        study = client.create_study("misconfigured", SPACE, scheduler="fifo", r_min=1, r_max=2,
                                    eta=2, initial_configs=[GOOD], max_trials=1)
        trial = next(study.trials(checkpoint_dir=tmp_path))
        args = TrainingArguments(str(tmp_path / "out"), **{
            "num_train_epochs": 2, "eval_strategy": "epoch", "save_strategy": "no",
            "use_cpu": True, "report_to": "none", "disable_tqdm": True, **settings})
        with pytest.raises(ValueError, match=reason), trial:
            Trainer(tiny_bert(), args, train_dataset=train, eval_dataset=val,
                    callbacks=[RungCallback(trial)]).train()
        (t,) = client.list_trials("misconfigured")
    assert t.status == pb.FAILED and reason in t.failures[-1] and not t.observations


# ------------------------------------------------------------------------ SIGTERM


class SigtermAt(TrainerCallback):
    """Sends this process SIGTERM after optimizer step `step`, as a scheduler would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_hands_the_job_back_and_the_trial_resumes_from_its_checkpoint(
    server: ServerProcess, tmp_path: Path
):
    with Client(server.address) as client:
        # Two trials to epoch 1 (8 steps each), the better promoted to 2: SIGTERM comes at
        # step 10, in the promoted job.
        study = client.create_study("handed-back", SPACE, scheduler="asha", r_min=1, r_max=2,
                                    eta=2, initial_configs=[GOOD, BAD], max_trials=2)
        before = signal.getsignal(signal.SIGTERM)
        with pytest.raises(SystemExit):
            train_study(study, tmp_path, "epochs", 2, SigtermAt(10))
        assert signal.getsignal(signal.SIGTERM) is before  # the callback put its handler back
        (t,) = [t for t in client.list_trials("handed-back") if len(t.segments) > 1]
        assert t.lease_deadline == 0 and t.failures[-1].startswith("released by its worker")
        assert [o.resource for o in t.observations] == [1] and t.checkpoint_resource == 1
        train_study(study, tmp_path, "epochs", 2)  # the next worker resumes it at epoch 1
        (t,) = [t for t in client.list_trials("handed-back") if len(t.segments) > 1]
    assert [(s.resume_from, s.milestone) for s in t.segments] == [(0, 1), (1, 2), (1, 2)]
    assert [o.resource for o in t.observations] == [1, 2] and t.status == pb.COMPLETED


# ----------------------------------------------------------------------- archives


def test_pack_and_unpack_keep_a_checkpoint_folder(tmp_path: Path):
    folder = tmp_path / "checkpoint-8"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"\x00weights")
    (folder / "sub" / "state.json").write_text("{}")
    out = unpack(pack(folder, tmp_path / "r1.tar"), tmp_path / "restored")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "model.safetensors", "sub", "sub/state.json"]
    assert (out / "model.safetensors").read_bytes() == b"\x00weights"


def hostile_archive(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize("name, kind", [
    ("../escaped.txt", tarfile.REGTYPE),
    ("/tmp/absolute.txt", tarfile.REGTYPE),
    ("a/../../escaped.txt", tarfile.REGTYPE),
    ("link", tarfile.SYMTYPE),
    ("hard", tarfile.LNKTYPE),
    ("fifo", tarfile.FIFOTYPE),
])
def test_unpack_refuses_members_that_leave_the_folder_or_are_not_plain(
    tmp_path: Path, name: str, kind: bytes
):
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = 1 if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        member.linkname = "/etc/passwd"
    archive = hostile_archive(tmp_path / "hostile.tar", member)
    with pytest.raises(ValueError):
        unpack(archive, tmp_path / "work" / "restored")
    assert not (tmp_path / "work" / "restored").exists()
    assert not (tmp_path / "escaped.txt").exists() and not list((tmp_path / "work").glob("*/*"))
