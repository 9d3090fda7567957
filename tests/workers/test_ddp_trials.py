"""`rung worker --gpus-per-trial 2 --device cpu`: trials on two gloo processes, real server.

Checked: the built-in CNN in an ASHA study (promoted trials resume from their
checkpoints on both ranks, one report per resource), a DDP-aware plugin (the
ranks train disjoint halves of each batch and keep equal weights), a rank
SIGKILLed mid-trial (the job is handed back, a fresh group finishes the study),
and a plugin that is not DDP-aware (refused, saying what to do).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from rung.workers.checkpoint import read_checkpoint
from rung.workers.ddp_supervisor import GroupEnd, Supervisor, watch
from rung.workers.launcher import group_gpus
from support import rung_command, subprocess_env, verify_asha_history

pytestmark = pytest.mark.timeout(240)

PLUGIN = textwrap.dedent("""
    import json
    import os
    import time
    from pathlib import Path

    import torch
    from torch import nn

    from rung.workers.objective import EpochStats, Objective, Trainer


    class LinearTrainer(Trainer):
        def __init__(self, objective, config, context):
            self.objective, self.context = objective, context
            self.model = nn.Linear(4, 1)
            self.trained = context.wrap_model(self.model)
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=float(config["lr"]))

        def train_epoch(self, epoch, advance):
            o, ctx = self.objective, self.context
            folder = Path(o.settings.options["folder"])
            pid = folder / "pid"
            time.sleep(float(o.settings.options.get("epoch_seconds", 0)))
            if o.settings.options.get("hang") and ctx.rank == 1 and epoch == 2 and not pid.exists():
                (folder / "pid.tmp").write_text(str(os.getpid()))
                os.replace(folder / "pid.tmp", pid)
                time.sleep(600)  # the test kills this rank here
            if ctx.rank == 1 and epoch == 1 and ctx.trial_seed == 2:
                raise RuntimeError("boom on rank 1")
            order = torch.randperm(len(o.y), generator=ctx.epoch_generator(epoch))
            seen, total = [], 0.0
            for batch in order.split(8):
                mine = ctx.shard(batch)
                loss = ((self.trained(o.x[mine]) - o.y[mine]) ** 2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                total += loss.item()
                seen += mine.tolist()
                advance(len(mine))
            weights = [p.detach().sum().item() for p in self.model.parameters()]
            with open(folder / f"rank{ctx.rank}.jsonl", "a") as f:
                line = {"trial": ctx.trial_seed, "epoch": epoch, "seen": seen, "weights": weights}
                f.write(json.dumps(line) + "\\n")
            return EpochStats(loss=total, examples=len(seen))

        @torch.no_grad()
        def evaluate(self):
            o = self.objective
            return float(((self.model(o.x) - o.y) ** 2).mean())

        def state_dict(self):
            return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

        def load_state_dict(self, state):
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])


    class LinearObjective(Objective):
        supports_ddp = True

        def __init__(self, settings):
            super().__init__(settings)
            self.x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
            self.y = self.x.sum(dim=1, keepdim=True)

        def build(self, config, context):
            return LinearTrainer(self, config, context)


    class SingleProcessObjective(LinearObjective):
        supports_ddp = False


    def make(settings):
        return LinearObjective(settings)


    def make_single(settings):
        return SingleProcessObjective(settings)
""")


def start_worker(
    address: str, study: str, cwd: Path, max_epochs: int, *flags: str, device: str = "cpu"
) -> subprocess.Popen[str]:
    """`rung worker --gpus-per-trial 2` on `study`, its output (all ranks') on stdout."""
    fixed = f"--gpus-per-trial 2 --device {device} --threads 1 --progress off --worker-id box"
    return subprocess.Popen(
        rung_command(
            "worker",
            "--server",
            address,
            "--study",
            study,
            "--max-epochs",
            str(max_epochs),
            "--checkpoints",
            str(cwd / "ckpt"),
            *fixed.split(),
            *flags,
        ),  # fmt: skip
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=200)
    assert proc.returncode == 0, out
    return out


def plugin_flags(tmp_path: Path, factory: str = "make", **options: str) -> list[str]:
    (tmp_path / "linear_plugin.py").write_text(PLUGIN)
    flags = ["--objective", f"linear_plugin:{factory}", "--objective-option", f"folder={tmp_path}"]
    for key, value in options.items():
        flags += ["--objective-option", f"{key}={value}"]
    return flags


def rank_lines(tmp_path: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / f"rank{rank}.jsonl").read_text().splitlines()]


def test_gpu_groups():
    assert group_gpus(["0", "1", "2", "3"], 2) == [["0", "1"], ["2", "3"]]
    assert group_gpus([str(i) for i in range(8)], 2) == [
        ["0", "1"],
        ["2", "3"],
        ["4", "5"],
        ["6", "7"],
    ]
    with pytest.raises(ValueError, match="does not divide the 3 GPU"):
        group_gpus(["0", "1", "2"], 2)


def test_the_supervisor_kills_the_rest_of_a_group_when_one_rank_exits_abnormally():
    sleeper = subprocess.Popen(["sleep", "60"])
    failing = subprocess.Popen(["sh", "-c", "exit 3"])
    end = watch([sleeper, failing])
    assert end.codes == [-signal.SIGKILL, 3] and end.killed == {0}


def test_a_crash_hands_the_job_back_once_and_an_exception_fails_the_trial(tmp_path):
    settled: list[tuple[int, str | None]] = []
    supervisor = Supervisor(
        lambda r, f: [], 2, lambda job, reason: settled.append((job["trial_id"], reason))
    )

    def group_end(codes: list[int], errors: dict[int, tuple[float, bool]], killed=()) -> bool:
        for path in tmp_path.glob("error-*.json"):
            path.unlink()
        (tmp_path / "job.json").write_text(
            json.dumps({"trial_id": 7, "lease_id": "l", "study": "s"})
        )
        for rank, (when, configuration) in errors.items():
            error = {
                "rank": rank,
                "reason": f"E{rank}",
                "configuration": configuration,
                "time": when,
            }
            (tmp_path / f"error-{rank}.json").write_text(json.dumps(error))
        return supervisor._settle(GroupEnd(codes, set(killed)), tmp_path)

    assert not group_end([3, -9], {0: (1.0, False)})  # rank 1 SIGKILLed, rank 0 saw its peer go
    assert settled == [(7, None)]  # handed back
    assert not group_end([-9, -9], {}, killed=[0])  # the same trial crashes a group again
    assert settled[-1] == (7, "its ranks died twice on this worker: rank 1 was killed by SIGKILL")
    assert group_end([3, 3], {0: (2.0, False), 1: (1.0, True)})  # rank 1 raised first (e.g. OOM)
    assert settled[-1] == (7, "rank 1: E1")


def test_cnn_trials_on_two_ranks_are_promoted_and_resume_from_their_checkpoints(
    server, fake_fmnist_dir, tmp_path
):
    with Client(server.address) as client:
        client.create_study(
            "ddp",
            space={"learning_rate": [0.1, 0.05, 0.02], "batch_size": [32, 64]},
            r_max=4,
            eta=2,
            max_trials=4,
        )
        data = ["--data-dir", str(fake_fmnist_dir), "--n-train", "256", "--n-val", "64"]
        out = finish(start_worker(server.address, "ddp", tmp_path, 4, *data, "--log-level", "info"))
        assert client.get_study("ddp").state == pb.STUDY_DONE
        trials = client.list_trials("ddp")
    assert "trial group 0 started: rank 0 pid" in out and "trial group 1" not in out
    assert verify_asha_history(trials, eta=2, levels=[1, 2, 4]) >= 1  # segments contiguous from 0
    resumed = [(t, s) for t in trials for s in t.segments if s.resume_from > 0]
    assert resumed
    for t in trials:
        resources = [o.resource for o in t.observations]
        assert resources == list(range(1, max(resources) + 1)), t.id  # one report per resource
        last = max(s.milestone for s in t.segments)
        saved = tmp_path / "ckpt" / "ddp" / f"trial-{t.id}" / f"r{last}.pt"
        assert read_checkpoint(saved)["epoch"] == last
    for t, segment in resumed:  # rank 1 loaded the same checkpoint rank 0 resumed from
        assert f"rank 1: trial {t.id} resumes from " in out
        assert f"r{segment.resume_from}.pt at epoch {segment.resume_from}" in out
    skipped = sum(s.resume_from for _, s in resumed)
    assert f"{skipped} epochs skipped by resuming" in out
    assert not list((tmp_path / "ckpt").rglob("rank-*"))  # checkpoints come from rank 0 alone


def test_a_plugin_under_ddp_and_ranks_that_die_or_raise_mid_trial(server, tmp_path):
    """Rank 1 is SIGKILLed in trial 0 (handed back, resumed) and raises in trial 2 (failed)."""
    with Client(server.address) as client:
        client.create_study(
            "plugin", space={"lr": [0.05, 0.1]}, scheduler="fifo", r_max=3, max_trials=3
        )
        proc = start_worker(
            server.address, "plugin", tmp_path, 3, *plugin_flags(tmp_path, hang="1")
        )
        pid_file = tmp_path / "pid"
        while not pid_file.exists():  # rank 1 is in epoch 2 of trial 0; rank 0 waits on it
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        out = finish(proc)  # the worker went on: a fresh group trained the other jobs
        assert client.get_study("plugin").state == pb.STUDY_DONE
        trials = sorted(client.list_trials("plugin"), key=lambda t: t.id)
    assert "trial 0: rank 1 was killed by SIGKILL; handing the job back" in out
    assert "trial group 2 started" in out and "trial group 3" not in out
    assert [t.status for t in trials] == [pb.COMPLETED, pb.COMPLETED, pb.FAILED]
    killed, plain, raised = trials
    assert [s.lost for s in killed.segments] == [True, False]
    assert any(f.startswith("released by its worker") for f in killed.failures)
    assert [o.resource for o in plain.observations] == [1, 2, 3] and not plain.failures
    assert raised.failures == ["rank 1: RuntimeError: boom on rank 1"]
    zero, one = rank_lines(tmp_path, 0), rank_lines(tmp_path, 1)
    assert len(zero) == len(one) == 1 + 3 + 3  # trial 0 epoch 1 twice (before and after the kill)
    for a, b in zip(zero, one, strict=True):
        assert (a["trial"], a["epoch"]) == (b["trial"], b["epoch"])
        assert not set(a["seen"]) & set(b["seen"]) and sorted(a["seen"] + b["seen"]) == list(
            range(64)
        )
        assert a["weights"] == b["weights"]  # DDP averaged the gradients: the replicas agree


def test_sigterm_hands_the_job_back_and_the_next_worker_resumes_from_the_server(server, tmp_path):
    """With --checkpoints server: rank 0 uploads the hand-back checkpoint, the next worker's
    rank 0 downloads it and both of its ranks resume from it."""
    with Client(server.address) as client:
        client.create_study("term", space={"lr": [0.05]}, scheduler="fifo", r_max=9, max_trials=1)
        flags = [*plugin_flags(tmp_path, epoch_seconds="0.2"), "--checkpoints", "server"]
        proc = start_worker(server.address, "term", tmp_path, 9, *flags)
        log = tmp_path / "rank1.jsonl"
        while not log.exists() or not log.read_text().count("\n") >= 2:  # both ranks training
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out = finish(proc)
        assert client.get_study("term").state == pb.STUDY_RUNNING  # stopped early
        (stopped,) = client.list_trials("term")
        again = finish(
            start_worker(server.address, "term", tmp_path, 9, *flags, "--log-level", "info")
        )
        assert client.get_study("term").state == pb.STUDY_DONE
        (trial,) = client.list_trials("term")
        # The same trial (seed = trial id 0) trained straight through, for comparison.
        client.create_study(
            "straight", space={"lr": [0.05]}, scheduler="fifo", r_max=9, max_trials=1
        )
        (tmp_path / "straight").mkdir()
        folder = ["--objective-option", f"folder={tmp_path / 'straight'}"]
        finish(start_worker(server.address, "straight", tmp_path, 9, *flags, *folder))
        (straight,) = client.list_trials("straight")
    assert "worker done: 1 jobs" in out and "trial group 1" not in out
    (reason,) = stopped.failures
    assert reason.startswith("released by its worker; resumes from the checkpoint at ")
    at = int(reason.rsplit(" ", 1)[1])
    assert at >= 2 and [o.resource for o in stopped.observations] == list(range(1, at + 1))
    assert "rank 1: trial 0 resumes from " in again and f"r{at}.pt at epoch {at}" in again
    assert [(s.resume_from, s.milestone, s.lost) for s in trial.segments] == [
        (0, 9, True),
        (at, 9, False),
    ]
    assert [o.resource for o in trial.observations] == list(range(1, 10))  # one report per epoch
    epochs = [line["epoch"] for line in rank_lines(tmp_path, 1)]
    assert epochs == list(range(1, at + 1)) + list(range(at + 1, 10))  # nothing trained twice
    # Resumed on both ranks from the checkpoint: bit for bit as if trained straight through.
    for rank in (0, 1):
        resumed = [line["weights"] for line in rank_lines(tmp_path, rank)]
        assert resumed == [line["weights"] for line in rank_lines(tmp_path / "straight", rank)]
    assert [o.value for o in trial.observations] == [o.value for o in straight.observations]


def test_a_killed_supervisor_leaves_no_ranks_behind_and_its_job_handed_back(server, tmp_path):
    with Client(server.address) as client:
        client.create_study(
            "orphans", space={"lr": [0.05]}, scheduler="fifo", r_max=30, max_trials=1
        )
        flags = plugin_flags(tmp_path, epoch_seconds="0.2")
        proc = start_worker(server.address, "orphans", tmp_path, 30, *flags)
        log = tmp_path / "rank1.jsonl"
        while not log.exists() or log.read_text().count("\n") < 2:  # both ranks training
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.1)
        proc.kill()  # SIGKILL: the supervisor cannot pass anything on
        out, _ = proc.communicate(timeout=120)  # the ranks share its stdout: they exited
        (trial,) = client.list_trials("orphans")
    started = out.split("started: ", 1)[1].splitlines()[0]
    for pid in (int(part.rsplit(" ", 1)[1]) for part in started.split(", ")):
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z", pid
    assert trial.segments[0].lost
    assert trial.failures[0].startswith("released by its worker; resumes from the checkpoint at ")


def test_a_plugin_that_is_not_ddp_aware_is_refused(tmp_path, monkeypatch):
    from rung.cli import build_parser
    from rung.commands.worker import _worker_objective
    from rung.core.errors import InvalidArgument

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        [
            "worker",
            "--study",
            "s",
            "--max-epochs",
            "2",
            "--device",
            "cpu",
            "--gpus-per-trial",
            "2",
            "--ddp-rank",
            "1",
            "--ddp-dir",
            str(tmp_path),
            *plugin_flags(tmp_path, "make_single"),
        ]
    )
    with pytest.raises(
        InvalidArgument, match="cannot train a trial on 2 processes: its Objective must set"
    ):
        _worker_objective(args)
    args.objective = "linear_plugin:make"
    assert _worker_objective(args)[0].settings.rank == 1


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.device_count() >= 2, reason="needs 2 CUDA devices")
def test_cnn_trials_on_two_gpus_with_nccl(server, fake_fmnist_dir, tmp_path):
    with Client(server.address) as client:
        client.create_study(
            "nccl",
            space={"learning_rate": [0.1, 0.05], "batch_size": [32, 64]},
            r_max=4,
            eta=2,
            max_trials=4,
        )
        data = ["--data-dir", str(fake_fmnist_dir), "--n-train", "256", "--n-val", "64"]
        proc = start_worker(server.address, "nccl", tmp_path, 4, *data, device="cuda")
        finish(proc)
        trials = client.list_trials("nccl")
    assert verify_asha_history(trials, eta=2, levels=[1, 2, 4]) >= 1
