"""Tune a Lightning MLP on scikit-learn's digits: `rung serve & python lightning_digits.py --server
HOST:PORT`. --devices 2 trains each trial with DDP; --checkpoints server needs no shared folder."""

import argparse

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from scipy import stats
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

from rung.client import Client
from rung.integrations.lightning import RungCallback, resume_path, trials

parser = argparse.ArgumentParser()
for flag, default in [("server", "127.0.0.1:50051"), ("study", "lightning-digits"), ("devices", 1),
                      ("checkpoints", "checkpoints"), ("max-trials", 9)]:  # checkpoints: DIR|server
    parser.add_argument(f"--{flag}", default=default, type=type(default))
args, R_MAX = parser.parse_args(), 9


class Digits(L.LightningModule):
    def __init__(self, lr: float, hidden: int):
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                       torch.nn.Dropout(0.2), torch.nn.Linear(hidden, 10))

    def training_step(self, batch, _):
        return torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])

    def validation_step(self, batch, _):
        error = (self.net(batch[0]).argmax(1) != batch[1]).float().mean()
        self.log("val_error", error, sync_dist=True)  # sync_dist: the mean over DDP ranks

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        return [opt], [torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=R_MAX)]  # spans r_max


x, y = (torch.tensor(a) for a in load_digits(return_X_y=True))
train = DataLoader(TensorDataset(x[:1400].float() / 16, y[:1400]), batch_size=100, shuffle=True)
val = DataLoader(TensorDataset(x[1400:].float() / 16, y[1400:]), batch_size=400)

study = Client(args.server).create_study(
    args.study, space={"lr": stats.loguniform(1e-3, 0.3), "hidden": stats.randint(8, 64)},
    metric="val_error", r_min=1, r_max=R_MAX, eta=3, max_trials=args.max_trials)
upload = args.checkpoints == "server"  # no shared folder: checkpoints go through the server
for trial in trials(study, checkpoint_dir="scratch" if upload else args.checkpoints):
    with trial:  # heartbeats; an exception fails the trial, SIGTERM hands it back
        L.seed_everything(0, verbose=False)
        trainer = L.Trainer(
            max_epochs=trial.milestone, accelerator="cpu", devices=args.devices,
            strategy="ddp" if args.devices > 1 else "auto", logger=False, enable_progress_bar=False,
            enable_model_summary=False, callbacks=[RungCallback(trial, "val_error", upload=upload)])
        trainer.fit(Digits(**trial.config), train, val, ckpt_path=resume_path(trial))
if rank_zero_only.rank == 0:
    print("best:", study.info().incumbent)
