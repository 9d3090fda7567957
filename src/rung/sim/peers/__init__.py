"""Other tuners driven through rung's simulator, for the comparison in benchmarks/compare.py.

Each adapter wraps a peer library's own scheduler and answers the Simulator's
questions (`suggest(now)`, `report(trial_id, resource, value)`, `incumbent()`,
`trials[id].config/.bracket`, `r_min/r_max/eta`) the way rung's schedulers do,
so peers run on the same benchmarks, workers, rung levels and budget. The peer
libraries are imported only by their own adapter module: Syne Tune lives in its
own virtual environment (it pins an old numpy).
"""

PEERS = {
    "synetune:bayesopt": ("rung.sim.peers.synetune", "Syne Tune MOBSTER"),
    "synetune:random": ("rung.sim.peers.synetune", "Syne Tune ASHA + random"),
    "optuna:tpe_hyperband": ("rung.sim.peers.optuna_peer", "Optuna TPE + Hyperband pruner"),
    "optuna:gp": ("rung.sim.peers.optuna_peer", "Optuna GP, no pruning"),
}
