"""Other tuners driven through rung's simulator, for the comparison in benchmarks/compare.py.

Each adapter wraps a peer library's own scheduler and answers the Simulator's
questions (`suggest(now)`, `report(trial_id, resource, value)`, `incumbent()`,
`trials[id].config/.bracket`, `r_min/r_max/eta`) the way rung's schedulers do,
so peers run on the same benchmarks, workers, rung levels and budget. The peer
libraries are imported only by their own adapter module: Syne Tune lives in its
own virtual environment (it pins an old numpy), and so do NePS (.venv-neps), SMAC3
(.venv-smac) and DEHB (.venv-dehb); `PEER_VENVS` names each peer family's venv.
"""

PEERS = {
    "synetune:bayesopt": ("rung.sim.peers.synetune", "Syne Tune MOBSTER"),
    "synetune:random": ("rung.sim.peers.synetune", "Syne Tune ASHA + random"),
    "optuna:tpe_hyperband": ("rung.sim.peers.optuna_peer", "Optuna TPE + Hyperband pruner"),
    "optuna:gp": ("rung.sim.peers.optuna_peer", "Optuna GP, no pruning"),
    "optuna:gp_hyperband": ("rung.sim.peers.optuna_peer", "Optuna GP + Hyperband pruner"),
    "neps:priorband": ("rung.sim.peers.neps_peer", "NePS PriorBand"),
    "neps:priorband_bo": ("rung.sim.peers.neps_peer", "NePS PriorBand + BO"),
    "neps:asha": ("rung.sim.peers.neps_peer", "NePS ASHA"),
    "neps:default": ("rung.sim.peers.neps_peer", "NePS default (Hyperband)"),
    "neps:ifbo": ("rung.sim.peers.neps_peer", "NePS ifBO (freeze-thaw)"),
    "smac:hyperband_rf": ("rung.sim.peers.smac_peer", "SMAC3 Hyperband + random forest"),
    "dehb": ("rung.sim.peers.dehb_peer", "DEHB"),
}
# The virtual environment each peer family runs in (by the part of its name before ":");
# families not named here run in rung's own.
PEER_VENVS = {"synetune": ".venv-synetune", "neps": ".venv-neps", "smac": ".venv-smac",
              "dehb": ".venv-dehb"}
