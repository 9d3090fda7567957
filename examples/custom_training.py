"""Tune your own training code with rung's SDK: a small MLP on a synthetic task.

    rung serve --db rung.db &               # or any running rung server
    python examples/custom_training.py --server 127.0.0.1:50051
"""

import argparse

import torch
from scipy import stats

from rung.client import Client, Decision

parser = argparse.ArgumentParser()
parser.add_argument("--server", default="127.0.0.1:50051")
parser.add_argument("--study", default="custom-mlp")
args = parser.parse_args()

torch.manual_seed(0)
x = torch.randn(2048, 8)
y = (x[:, :4].sum(1) > 0).long()  # learnable: the sign of a sum
train_x, train_y, val_x, val_y = x[:1536], y[:1536], x[1536:], y[1536:]

study = Client(args.server).create_study(
    args.study,
    space={"lr": stats.loguniform(1e-3, 1.0), "hidden": stats.randint(4, 64)},
    r_min=1, r_max=9, eta=3, max_trials=12,
)
for trial in study.trials(checkpoint_dir="checkpoints"):
    with trial:  # heartbeats; an exception marks the trial failed
        model = torch.nn.Sequential(
            torch.nn.Linear(8, trial.config["hidden"]), torch.nn.ReLU(),
            torch.nn.Linear(trial.config["hidden"], 2),
        )
        opt = torch.optim.SGD(model.parameters(), lr=trial.config["lr"])
        if trial.resume_from:  # a promoted trial: continue where its last rung ended
            state = torch.load(trial.checkpoint_in, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
        for epoch in trial.epochs():
            for i in range(0, len(train_x), 64):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(train_x[i:i + 64]), train_y[i:i + 64]).backward()
                opt.step()
            error = (model(val_x).argmax(1) != val_y).float().mean().item()
            if epoch == trial.milestone:  # save before the last report: the trial may be promoted
                trial.checkpoint_out.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, trial.checkpoint_out)
            if trial.report(epoch, error, checkpoint=epoch == trial.milestone) is not Decision.CONTINUE:
                break
print("best:", study.info().incumbent)
