"""Peer adapters in the Simulator: Optuna (if installed here); Syne Tune, NePS, SMAC3 and DEHB
in their own venvs, each test skipped when its venv is missing.

None is needed by the default test run: `make peers-venv` installs them.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from rung.sim.benchmarks import make_benchmark
from rung.sim.cache import RunCache
from rung.sim.runner import BenchSettings
from rung.sim.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
SYNETUNE_PYTHON = REPO / ".venv-synetune" / "bin" / "python"
NEPS_PYTHON = REPO / ".venv-neps" / "bin" / "python"
SMAC_PYTHON = REPO / ".venv-smac" / "bin" / "python"
DEHB_PYTHON = REPO / ".venv-dehb" / "bin" / "python"
LEVELS = [1, 3, 9, 27]


def levels_by_trial(rungs: list) -> dict[int, list[int]]:
    reached: dict[int, list[int]] = defaultdict(list)
    for trial_id, _, resource, _ in rungs:
        reached[trial_id].append(resource)
    return dict(reached)


def optuna_run(method: str, budget: float) -> tuple[Simulator, dict[int, list[int]]]:
    from rung.sim.peers.optuna_peer import make

    bench = make_benchmark("branin", 27, 0, 1)
    peer = make(method, bench.space, 1, 27, 3, seed=0)
    sim = Simulator(peer, bench, n_workers=2, max_time=budget * bench.full_cost / 2)
    sim.run()
    return sim, levels_by_trial(sim.result.rungs)


def test_optuna_hyperband_pruner_stops_trials_at_rung_levels() -> None:
    pytest.importorskip("optuna")
    sim, reached = optuna_run("optuna:tpe_hyperband", budget=10)
    assert sim.result.jobs == len(sim.scheduler.trials) == len(reached) > 10  # one job each
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]  # reports at every rung level, in order
    assert any(len(levels) < 4 for levels in reached.values())  # pruned
    assert any(len(levels) == 4 for levels in reached.values())  # completed
    best = sim.scheduler.incumbent()
    assert best is not None and best.resource == 27
    finals = {t: v for t, _, r, v in sim.result.rungs if r == 27}
    assert best.value == min(finals.values()) and finals[best.trial_id] == best.value


def test_optuna_without_pruning_trains_every_trial_to_the_end() -> None:
    pytest.importorskip("optuna")
    sim, reached = optuna_run("optuna:gp", budget=6)
    finished = [t for t, levels in reached.items() if levels == LEVELS]
    assert finished and len(reached) - len(finished) <= 2  # only the running ones at the horizon
    # like rung's FIFO, only completed trials count: one incumbent change at most per completion
    assert sim.scheduler.incumbent().resource == 27
    assert 1 <= len(sim.result.regrets) <= len(finished)


@pytest.mark.skipif(not SYNETUNE_PYTHON.exists(), reason="no .venv-synetune (make peers-venv)")
def test_synetune_promotion_pauses_and_resumes_like_asha(tmp_path: Path) -> None:
    """MOBSTER's scheduler with the random searcher: trials pause at rung levels and resume."""
    script = (
        "import json, sys\n"
        "from rung.sim.benchmarks import make_benchmark\n"
        "from rung.sim.peers.synetune import make\n"
        "from rung.sim.simulator import Simulator\n"
        "b = make_benchmark('branin', 27, 0, 1)\n"
        "peer = make('synetune:random', b.space, 1, 27, 3, seed=0)\n"
        "sim = Simulator(peer, b, n_workers=2, max_time=10 * b.full_cost / 2)\n"
        "r = sim.run()\n"
        "best = peer.incumbent()\n"
        "json.dump({'jobs': r.jobs, 'rungs': r.rungs, 'trials': len(peer.trials),\n"
        "           'best': [best.trial_id, best.resource, best.value]}, sys.stdout)\n"
    )
    out = subprocess.run([str(SYNETUNE_PYTHON), "-c", script], check=False, capture_output=True,
                         text=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "src")}, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    reached = levels_by_trial(data["rungs"])
    assert 10 < len(reached) <= data["trials"] <= len(reached) + 2  # 2 jobs may run at the end
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]
    # a job per segment: each trial started once and resumed once per further level
    assert 0 <= data["jobs"] - sum(len(levels) for levels in reached.values()) <= 2
    counts = [sum(1 for levels in reached.values() if len(levels) > k) for k in range(4)]
    # promotions happen, to fewer trials at each level: Syne Tune promotes results at or
    # below the rung's 1/eta quantile (interpolated), a little more than rung's top n // eta
    assert counts[0] > counts[1] > counts[2] > 0
    assert counts[1] < counts[0] / 2
    _, best_resource, best_value = data["best"]
    top = max(len(levels) for levels in reached.values())
    assert best_resource == LEVELS[top - 1]
    at_top = {t: v for t, _, r, v in data["rungs"] if r == best_resource}
    assert best_value == min(at_top.values())


@pytest.mark.skipif(not SYNETUNE_PYTHON.exists(), reason="no .venv-synetune (make peers-venv)")
def test_peer_runs_land_in_the_shared_cache(tmp_path: Path) -> None:
    settings = BenchSettings(workers=2, budget=4.0, r_max=9, rung_seeds=0)
    settings_json = json.dumps({**vars(settings), "methods": [], "benchmarks": []})
    command = [str(SYNETUNE_PYTHON), "-m", "rung.sim.peers.run", "--cache", str(tmp_path),
               "--settings", settings_json, "--tasks", json.dumps([["synetune:random", "cnn", 1]])]
    out = subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO, timeout=600,
                         env={"PYTHONPATH": str(REPO / "src")})
    assert out.returncode == 0, out.stderr[-3000:]
    run = RunCache(tmp_path, vars(settings)).load("synetune:random", "cnn", 1)
    assert run is not None and run["seed"] == 1 and run["method"] == "synetune:random"
    bench = make_benchmark("cnn", 9, 1, 1)
    assert run["horizon"] == pytest.approx(4.0 * bench.full_cost / 2)
    assert run["regrets"] and run["trials"] > 0 and run["wall_seconds"] > 0


def test_optuna_runs_repeat_exactly() -> None:
    pytest.importorskip("optuna")
    first, _ = optuna_run("optuna:tpe_hyperband", budget=4)
    again, _ = optuna_run("optuna:tpe_hyperband", budget=4)
    assert first.result.rungs == again.result.rungs


def test_optuna_gp_with_the_hyperband_pruner_prunes_and_completes() -> None:
    pytest.importorskip("optuna")
    sim, reached = optuna_run("optuna:gp_hyperband", budget=6)
    assert sim.result.jobs == len(reached) > 6
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]
    assert any(len(levels) < 4 for levels in reached.values())
    best = sim.scheduler.incumbent()
    assert best is not None and best.resource == LEVELS[max(map(len, reached.values())) - 1]


def peer_run(python: Path, method: str, budget: float) -> dict:
    """One seed of `method` on branin (2 workers, r 1..27, eta 3) inside `python`'s venv."""
    script = (
        "import json, sys\n"
        "from rung.sim.benchmarks import make_benchmark\n"
        "from rung.sim.peers.run import PEERS\n"
        "import importlib\n"
        f"method = {method!r}\n"
        "b = make_benchmark('branin', 27, 0, 1)\n"
        "peer = importlib.import_module(PEERS[method][0]).make(method, b.space, 1, 27, 3, 0)\n"
        "from rung.sim.simulator import Simulator\n"
        f"sim = Simulator(peer, b, n_workers=2, max_time={budget} * b.full_cost / 2)\n"
        "r = sim.run()\n"
        "best = peer.incumbent()\n"
        "json.dump({'jobs': r.jobs, 'rungs': r.rungs, 'trials': len(peer.trials),\n"
        "           'regrets': r.regrets, 'best': [best.trial_id, best.resource, best.value]},\n"
        "          sys.stdout)\n"
    )
    return json.loads(venv_stdout(python, script).strip().splitlines()[-1])


def venv_stdout(python: Path, script: str) -> str:
    """What `script` prints, run by `python` (a peer's venv) with rung's sources on its path."""
    out = subprocess.run([str(python), "-c", script], check=False, capture_output=True, text=True,
                         cwd=REPO, timeout=600,
                         env={"PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def check_incumbent(data: dict) -> None:
    """The incumbent is the best result at the highest resource any trial reached."""
    reached = levels_by_trial(data["rungs"])
    best_id, best_resource, best_value = data["best"]
    assert best_resource == LEVELS[max(len(levels) for levels in reached.values()) - 1]
    at_top = {t: v for t, _, r, v in data["rungs"] if r == best_resource}
    assert best_value == min(at_top.values()) and at_top[best_id] == best_value
    assert data["regrets"] and data["regrets"][-1] < data["regrets"][0] * 2


@pytest.mark.skipif(not NEPS_PYTHON.exists(), reason="no .venv-neps (make peers-venv)")
@pytest.mark.parametrize("method", ["neps:priorband", "neps:asha"])
def test_neps_promotions_resume_the_same_trial(method: str) -> None:
    data = peer_run(NEPS_PYTHON, method, budget=8)
    reached = levels_by_trial(data["rungs"])
    assert len(reached) > 8
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]  # a resumed job reports only its new levels
    # promotions continue a trial: more jobs than trials, and trials past their first level
    assert data["jobs"] > data["trials"]
    assert any(len(levels) > 1 for levels in reached.values())
    check_incumbent(data)


@pytest.mark.skipif(not SMAC_PYTHON.exists(), reason="no .venv-smac (make peers-venv)")
def test_smac_hyperband_trains_each_evaluation_from_scratch() -> None:
    data = peer_run(SMAC_PYTHON, "smac:hyperband_rf", budget=8)
    reached = levels_by_trial(data["rungs"])
    assert data["jobs"] == data["trials"] and len(reached) > 8  # one job per evaluation
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]  # 0 -> its budget, reporting on the way
    assert len({len(levels) for levels in reached.values()}) > 1  # several budgets
    check_incumbent(data)


@pytest.mark.skipif(not DEHB_PYTHON.exists(), reason="no .venv-dehb (make peers-venv)")
def test_dehb_trains_each_evaluation_from_scratch() -> None:
    data = peer_run(DEHB_PYTHON, "dehb", budget=8)
    reached = levels_by_trial(data["rungs"])
    assert data["jobs"] == data["trials"] and len(reached) > 8
    for levels in reached.values():
        assert levels == LEVELS[: len(levels)]
    assert len({len(levels) for levels in reached.values()}) > 1
    check_incumbent(data)


@pytest.mark.skipif(not NEPS_PYTHON.exists(), reason="no .venv-neps (make peers-venv)")
def test_neps_receives_rung_s_priors_and_samples_around_them() -> None:
    """The adapter's translation of rung's priors reaches PriorBand: with a confident prior
    in a corner, its first 40 jobs lie closer to it than without one (without the translation
    both would be uniform draws)."""
    script = (
        "import json, sys\n"
        "from rung.core.space import Float, SearchSpace\n"
        "from rung.sim.peers.neps_peer import NePSPeer\n"
        "out = {}\n"
        "for label, kw in (('none', {}), ('prior', {'prior': 0.9, 'confidence': 'high'})):\n"
        "    space = SearchSpace({'x': Float(0.0, 1.0, **kw), 'y': Float(0.0, 1.0, **kw)})\n"
        "    peer = NePSPeer(space, 'priorband', 1, 27, 3, seed=0)\n"
        "    gaps = []\n"
        "    for _ in range(40):\n"
        "        job = peer.suggest(0.0)\n"
        "        gaps.append(abs(job.config['x'] - 0.9) + abs(job.config['y'] - 0.9))\n"
        "        peer.report(job.trial_id, job.milestone, (job.config['x'] - 0.9) ** 2)\n"
        "    out[label] = sum(gaps) / len(gaps)\n"
        "json.dump(out, sys.stdout)\n"
    )
    gaps = json.loads(venv_stdout(NEPS_PYTHON, script).strip().splitlines()[-1])
    assert gaps["prior"] < 0.8 * gaps["none"], gaps  # 0.54 against 0.76 at seed 0


@pytest.mark.skipif(not SMAC_PYTHON.exists(), reason="no .venv-smac (make peers-venv)")
def test_smac_running_out_of_configurations_ends_its_run_for_every_worker() -> None:
    """SMAC's ask() raises once its selector finds nothing untried, and StopIteration from
    then on (its trial generator has ended): both end the run, for every worker asking."""
    script = (
        "from rung.core.space import Float, SearchSpace\n"
        "from rung.sim.peers.smac_peer import SMACPeer\n"
        "from smac.main.exceptions import ConfigurationSpaceExhaustedException\n"
        "kinds = []\n"
        "for error in (ConfigurationSpaceExhaustedException, StopIteration):\n"
        "    peer = SMACPeer(SearchSpace({'x': Float(0.0, 1.0)}), 1, 9, 3, seed=0)\n"
        "    kinds.append(peer.suggest(0.0).kind.value)\n"
        "    def exhausted():\n"
        "        raise error\n"
        "    peer.smac.ask = exhausted\n"
        "    kinds += [peer.suggest(0.0).kind.value, peer.suggest(0.0).kind.value]\n"
        "print(' '.join(kinds))\n"
    )
    assert venv_stdout(SMAC_PYTHON, script).split() == ["start", "done", "done"] * 2
