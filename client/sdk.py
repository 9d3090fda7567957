"""Client, Study and Trial: thin wrappers over the rung.v1 stubs.

The connection and its retries are in connection.py, the plain study calls in
admin.py, Study and Trial in study.py; this module is where `Client` makes
studies, and the names it always offered are still importable from here.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rung import wire
from rung.core.objectives import Constraint, Objective
from rung.core.space import SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Mode
from rung.v1 import rung_pb2 as pb

from .admin import StudyAdmin
from .connection import FIRST_RETRY_DELAY, MAX_RETRY_DELAY, RECONNECT_OPTIONS, RETRYABLE
from .results import StudyInfo
from .study import DECISIONS, TRANSFER_TIMEOUT, Study, Trial, TrialLost, default_worker_id

__all__ = [
    "DECISIONS", "FIRST_RETRY_DELAY", "MAX_RETRY_DELAY", "RECONNECT_OPTIONS", "RETRYABLE",
    "TRANSFER_TIMEOUT", "Client", "Study", "StudyInfo", "Trial", "TrialLost", "default_worker_id",
]


class Client(StudyAdmin):
    """A connection to a rung server.

    `retry_seconds` bounds how long a call keeps retrying while the server is
    unreachable (for example while it restarts). `address` may list several
    servers sharing one database ("host1:50051,host2:50051"): calls go to one,
    and move on to the next whenever it is unavailable or a standby, so the
    client follows whichever is active. `token` (default: $RUNG_TOKEN)
    is sent with every call; `ca_file` (default: $RUNG_CA_FILE) turns on TLS and
    is the CA certificate the server's certificate must be signed by.
    """

    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        *,
        metric: str = "error",
        mode: str = "min",
        scheduler: str = "asha",
        r_min: int = 1,
        r_max: int = 9,
        eta: int = 3,
        brackets: int = 0,
        searcher: str = "random",
        initial_configs: Sequence[Mapping[str, Any]] = (),
        max_trials: int = 0,
        max_resource: int = 0,
        max_wall_seconds: float = 0.0,
        seed: int = 0,
        objectives: Mapping[str, str] | None = None,
        constraints: Sequence[str | Constraint] = (),
        conditions: Mapping[str, Any] | None = None,
        reference_point: Sequence[float] = (),
    ) -> "Study":
        """Creates a study, or opens it if one with the same definition exists.

        `space` values may be rung domains, scipy.stats distributions
        (`stats.loguniform(1e-3, 1)`, `stats.randint(16, 256)`) or lists of choices.
        Several objectives: `objectives={"error": "min", "latency_ms": "min"}` (instead of
        `metric`/`mode`); constraints: `["memory_mb <= 4000"]`; conditional parameters:
        `conditions={"momentum": {"parent": "optimizer", "equals": "sgd"}}`.
        """
        spec = StudySpec(
            name=name,
            space=SearchSpace(space, conditions),
            objectives=tuple(Objective(n, Mode(m)) for n, m in (objectives or {}).items()),
            constraints=tuple(
                c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints
            ),
            reference_point=tuple(reference_point),
            metric=metric,
            mode=Mode(mode),
            scheduler=SchedulerSettings(scheduler, r_min, r_max, eta, brackets),
            searcher=searcher,
            initial_configs=tuple(initial_configs),
            budget=Budget(max_trials, max_resource, max_wall_seconds),
            seed=seed,
        )
        self.call("CreateStudy", pb.CreateStudyRequest(spec=wire.spec_to_pb(spec)))
        return Study(self, name)

    def study(self, name: str) -> "Study":
        """Opens an existing study (NOT_FOUND if there is none)."""
        self.get_study(name)
        return Study(self, name)
