"""Model-based promotion: resume the paused trial, or start the new configuration, that
promises the most improvement per unit of resource still to spend.

ASHA promotes by a fixed rule (the top 1/eta of a rung, looked at top rung
first). This scheduler asks the joint (configuration, resource) model of the
`mfgp` searcher instead, in the spirit of freeze-thaw BO, DyHPO and Hyper-Tune:
every paused trial is scored by the expected improvement of its value *at
r_max*, given everything observed of its learning curve and of all others,
divided by the resource it still needs to get there (r_max - its checkpoint);
a new trial by the best expected improvement among fresh candidates divided by
r_max. The highest score wins (only the best 32 paused trials of each rung are
scored, which bounds the cost); the job goes to the next rung level, as in ASHA,
so the model sees the new result before it commits more.

A hedge by design, for benchmarks where the model misleads: once the model is
ready, a share of the decisions (the searcher's `random_fraction`, one in
four by default) follows ASHA's rule instead, promoting by rank and starting
new trials with uniform random configurations. The model alone can starve
part of the space: on the CNN surrogate it soon stopped proposing SGD, whose
good learning rates sit next to the divergence cliff, and 3 to 5 of 700-780
trials were SGD where ASHA with random search tried 150-170 (seeds 1 and 2, 60 full
evaluations of worker time). With the hedge a third or more are; the comparison
(docs/compare.md) measures what it does to the regret on every benchmark.
The coin is the scheduler's own random stream, saved with its state, and a
decision that ends in WAIT leaves it untouched.

Everything else is ASHA's: rung levels, pause/resume jobs, checkpoints, leases,
budgets, lost-trial recovery. Until the model is ready (min_points configs
with results, initial configs used), ASHA's rule decides.
"""

from __future__ import annotations

from itertools import islice

import numpy as np

from ..errors import InvalidArgument
from ..searchers.mfgp import MultiFidelityGPSearcher
from ..types import Job, JobKind
from .asha import ASHA
from .base import TrialState

SCORED_PER_RUNG = 32


class ModelPromotion(ASHA):
    def _setup(self, brackets: int) -> None:
        if not isinstance(self.searcher, MultiFidelityGPSearcher):
            raise InvalidArgument(
                "the model_promotion scheduler needs the mfgp searcher (it ranks paused trials "
                "with that searcher's model)"
            )
        super()._setup(brackets)

    def _next_job(self, now: float) -> Job:
        if not self.searcher.model_ready():
            return super()._next_job(now)
        coin = self._rng.bit_generator.state
        if self._rng.random() < self.searcher.random_fraction:
            job = self._by_rank(now)
        else:
            job = self._by_model(now)
        if job.kind in (JobKind.WAIT, JobKind.DONE):
            self._rng.bit_generator.state = coin  # WAIT leaves no trace: replay never sees it
        return job

    def _by_rank(self, now: float) -> Job:
        """ASHA's decision, with a uniform random configuration if it starts a trial."""
        with self.searcher.uniform_proposals():
            return super()._next_job(now)

    def _by_model(self, now: float) -> Job:
        paused = self._resumable()
        model = self.searcher.surrogate() if paused else None
        if model is None:
            return super()._next_job(now)
        units = np.array([self.searcher.space.to_unit(t.config) for t, _ in paused])
        left = np.array([self.r_max - t.checkpoint_resource for t, _ in paused], dtype=float)
        scores = model.improvement(units) / left
        best = int(np.argmax(scores))
        first_level = self.levels[0][0]
        if self._may_start_trial(first_level):
            proposal = self.searcher.propose(model)
            if proposal is not None and proposal[1] / self.r_max > scores[best]:
                self.searcher.mark_proposed(proposal[0])
                return self._start_trial(0, first_level, now, proposal[0])
        trial, k = paused[best]
        self.rungs[0][k].promote(trial.trial_id)
        return self._promote(trial, self.levels[0][k + 1])

    def _resumable(self) -> list[tuple[TrialState, int]]:
        """Paused trials the budget lets train to their next rung level, with their rung index:
        the best `SCORED_PER_RUNG` of each rung, so a decision's cost does not grow with the
        study (a trial ranked lower in its rung than that has little to expect)."""
        out = []
        for k, rung in enumerate(self.rungs[0][:-1]):
            for trial_id in islice(rung.candidates(1), SCORED_PER_RUNG):
                trial = self.trials[trial_id]
                if (
                    self._is_paused(trial_id)
                    and trial.rung_index == k
                    and trial_id not in rung.promoted
                    and self._may_spend(self.levels[0][k + 1] - trial.checkpoint_resource)
                ):
                    out.append((trial, k))
        return out
