"""The rung client SDK: the ask/tell protocol from custom training code.

    from rung.client import Client, Decision

    study = Client("127.0.0.1:50051").create_study(
        "mnist", space={"lr": stats.loguniform(1e-3, 1)}, r_max=9, max_trials=20)
    for trial in study.trials(checkpoint_dir="ckpt"):
        with trial:                      # heartbeats; an exception fails the trial
            state = load(trial.checkpoint_in) if trial.resume_from else init(trial.config)
            for epoch in trial.epochs():
                error = train_one_epoch(state)
                at_milestone = epoch == trial.milestone
                if at_milestone:
                    save(state, trial.checkpoint_out)
                if trial.report(epoch, error, checkpoint=at_milestone) is not Decision.CONTINUE:
                    break

`create_study(..., **RECOMMENDED)` picks the recommended scheduler and searcher.

Every call is retried with backoff while the server is unreachable (a
restarting server loses nothing: Suggest is idempotent by request id, Report by
(trial, resource)).
"""

from .sdk import Client, Study, Trial, TrialLost
from rung.core.space import Categorical, FiniteRange, Float, Int
from rung.core.study import RECOMMENDED
from rung.core.types import Decision

__all__ = [
    "Categorical",
    "Client",
    "Decision",
    "FiniteRange",
    "Float",
    "Int",
    "RECOMMENDED",
    "Study",
    "Trial",
    "TrialLost",
]
