"""The server subprocess answers the SDK: create, suggest, report, list."""

from scipy import stats

from rung.client import Client, Decision


def test_one_trial_through_the_sdk(server):
    with Client(server.address) as client:
        study = client.create_study(
            "smoke", space={"lr": stats.loguniform(1e-3, 1)}, r_max=3, eta=3, max_trials=1
        )
        trial = next(study.trials())
        assert (trial.resume_from, trial.milestone) == (0, 1)
        assert trial.report(1, 0.5) is Decision.PAUSE
        info = study.info()
        assert info.trials_started == 1 and info.incumbent.value == 0.5
