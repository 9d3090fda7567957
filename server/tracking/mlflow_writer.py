"""MLflow runs of a study: a parent run per study, a child run per trial.

Experiment: the study's name, or one named by the caller for every study.
Parent run (tags `rung.study`, `rung.role=study`): the study's settings as
parameters; tags `rung.state`, `rung.incumbent_trial`, `rung.incumbent_value`,
`rung.incumbent_resource`, and `rung.mirror_seq`, the journal position the
mirror has written up to. Child runs (`mlflow.parentRunId`, `rung.trial_id`,
named `trial-<id>`): the configuration as parameters, every metric by step =
resource, tags `rung.status`, `rung.bracket`, `rung.promotions`,
`rung.failures` (a count) and `rung.last_failure`, and `rung.incumbent` true on
the best trial (false on the one it replaced). A trial that ends ends its run
(FINISHED, or FAILED); the rest end with the study.

No duplicates through crashes and outages: runs are created with their
identifying tags in the same call and found by them again; opening a study
reads every child run's latest step per metric (search pages of 1,000 runs,
not a call per run), and a write skips what is not past it. A write whose
answer was lost is therefore harmless: after any failure the study is opened
again. Writes go in `log_batch` calls, one per run touched in a batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .model import TERMINAL, Batch, Incumbent, StudyInfo, TrialChange

log = logging.getLogger("rung.server.tracking")

MAX_PARAM, MAX_TAG = 6000, 5000  # MLflow's longest param and tag values (characters)
SEARCH_PAGE = 1000
CONCURRENT_CALLS = 8  # a batch's runs are written this many at a time (one HTTP call each)
# The mirror retries on its own, with backoff, off the workers' path: one try per call,
# and a call that hangs gives up soon (MLflow's defaults: 7 retries, 120 s).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@dataclass
class _Child:
    run_id: str
    last: dict[str, int] = field(default_factory=dict)  # metric -> last step written
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    ended: bool = False


@dataclass
class _Parent:
    experiment_id: str
    run_id: str
    tags: dict[str, str]
    children: dict[int, _Child]
    ended: bool = False


class MlflowWriter:
    kind = "mlflow"
    interval = 1.0
    batch_events = 1000  # a batch of new trials is ~1,000 calls: the position moves every few s
    wants_view = True

    def __init__(self, uri: str, experiment: str | None = None):
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self.uri, self.experiment = uri, experiment
        self._client: Any = None
        self._studies: dict[str, _Parent] = {}

    def warm_up(self) -> None:
        self.client  # noqa: B018 - the import, before the first study needs it

    @property
    def client(self) -> Any:
        if self._client is None:  # imported on the mirror's thread: mlflow takes seconds
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    # ------------------------------------------------------------------ Writer

    def open(self, info: StudyInfo) -> int:
        c = self.client
        name = self.experiment or info.name
        experiment = c.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else _create_experiment(c, name)
        found = c.search_runs(
            [experiment_id], _tags(**{"rung.study": info.name, "rung.role": "study"}),
            max_results=10, order_by=["attributes.start_time ASC"],
        )
        if found:
            run = found[0]
        else:
            run = c.create_run(experiment_id, run_name=info.name, tags={
                "rung.study": info.name, "rung.role": "study", "rung.mirror_seq": "0",
            })
        parent = _Parent(experiment_id, run.info.run_id, dict(run.data.tags), {},
                         ended=run.info.status != "RUNNING")
        missing = {k: v for k, v in info.settings.items() if k not in run.data.params}
        if missing:
            c.log_batch(parent.run_id, params=_params(missing))
        parent.children = self._children(experiment_id, parent.run_id)
        self._studies[info.name] = parent
        return int(parent.tags.get("rung.mirror_seq", "0"))

    def _children(self, experiment_id: str, parent_id: str) -> dict[int, _Child]:
        children: dict[int, _Child] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id], _tags(**{"mlflow.parentRunId": parent_id}),
                max_results=SEARCH_PAGE, order_by=["attributes.start_time ASC"], page_token=token,
            )
            for run in page:
                trial_id = int(run.data.tags["rung.trial_id"])
                if trial_id in children:  # a create whose answer was lost, then made again
                    if not run.data.metrics:
                        self.client.delete_run(run.info.run_id)
                    log.warning("mlflow: trial %d has two runs; keeping %s", trial_id,
                                children[trial_id].run_id)
                    continue
                children[trial_id] = _Child(
                    run.info.run_id,
                    {m.key: m.step for m in run.data._metric_objs},
                    dict(run.data.params), dict(run.data.tags), run.info.status != "RUNNING",
                )
            token = page.token
            if not token:
                return children

    def write(self, batch: Batch) -> None:
        parent = self._studies[batch.study]
        # Runs first (in parallel: a call each), the parent's position last, once all landed.
        # The first failure fails the batch; what landed is skipped the next time.
        _in_parallel([lambda c=change: self._write_trial(batch.study, parent, c)
                      for change in batch.trials.values()])
        tags: dict[str, str] = {}
        if batch.incumbent is not None:
            self._mark_incumbent(parent, batch.incumbent, tags)
        if batch.state is not None:
            tags["rung.state"] = batch.state
        if batch.seq > int(parent.tags.get("rung.mirror_seq", "0")):
            tags["rung.mirror_seq"] = str(batch.seq)
        self._set_tags(parent.run_id, parent.tags, tags)
        if batch.state in ("done", "stopped"):
            open_runs = [child for child in parent.children.values() if not child.ended]
            _in_parallel([lambda c=child: self.client.set_terminated(c.run_id, "FINISHED")
                          for child in open_runs])
            for child in open_runs:
                child.ended = True
            if not parent.ended:
                self.client.set_terminated(parent.run_id, "FINISHED")
                parent.ended = True

    def reset(self, study: str) -> None:
        self._studies.pop(study, None)

    def close(self) -> None:
        self._studies.clear()

    # ------------------------------------------------------------------ runs

    def _write_trial(self, study: str, parent: _Parent, change: TrialChange) -> None:
        from mlflow.entities import Metric

        child = parent.children.get(change.trial_id)
        if child is None:
            if change.config is None and not change.points:
                return
            start = change.points[0].at if change.points else time.time()
            run = self.client.create_run(
                parent.experiment_id, start_time=int(start * 1000),
                run_name=f"trial-{change.trial_id}", tags={
                    "mlflow.parentRunId": parent.run_id, "rung.study": study,
                    "rung.trial_id": str(change.trial_id), "rung.role": "trial",
                },
            )
            child = parent.children[change.trial_id] = _Child(run.info.run_id,
                                                              tags=dict(run.data.tags))
        metrics, last = [], dict(child.last)
        for point in change.points:
            for key, value in point.metrics.items():
                if point.resource > last.get(key, -1):
                    metrics.append(Metric(key, value, int(point.at * 1000), point.resource))
                    last[key] = point.resource
        params = {k: str(v) for k, v in (change.config or {}).items() if k not in child.params}
        tags = _trial_tags(change)
        tags = {k: v for k, v in tags.items() if child.tags.get(k) != v}
        if metrics or params or tags:
            self._log(child.run_id, metrics, params, tags)
            child.last, child.params = last, {**child.params, **params}
            child.tags.update(tags)
        if change.status in TERMINAL and not child.ended:
            self.client.set_terminated(
                child.run_id, "FAILED" if change.status == "failed" else "FINISHED"
            )
            child.ended = True

    def _mark_incumbent(self, parent: _Parent, best: Incumbent, tags: dict[str, str]) -> None:
        new = parent.children.get(best.trial_id)
        if new is None:  # its run comes with a later batch, and the marks with it
            return
        before = parent.tags.get("rung.incumbent_trial")
        if before is not None and before != str(best.trial_id):
            old = parent.children.get(int(before))
            if old is not None:
                self._set_tags(old.run_id, old.tags, {"rung.incumbent": "false"})
        self._set_tags(new.run_id, new.tags, {"rung.incumbent": "true"})
        tags.update({
            "rung.incumbent_trial": str(best.trial_id),
            "rung.incumbent_value": repr(best.value),
            "rung.incumbent_resource": str(best.resource),
        })

    def _set_tags(self, run_id: str, have: dict[str, str], want: dict[str, str]) -> None:
        want = {k: v for k, v in want.items() if have.get(k) != v}
        if want:
            self._log(run_id, [], {}, want)
            have.update(want)

    def _log(self, run_id: str, metrics: list[Any], params: dict[str, str],
             tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(
            run_id, metrics=metrics, params=_params(params),
            tags=[RunTag(k, v[:MAX_TAG]) for k, v in tags.items()],
        )


def _in_parallel(calls: list[Callable[[], None]]) -> None:
    """Runs the calls CONCURRENT_CALLS at a time; raises the first failure. Daemon threads
    (not a pool's): a call hanging on a dead server must not hold the process at exit."""
    pending, errors, lock = iter(calls), [], threading.Lock()

    def work() -> None:
        while not errors:
            with lock:
                call = next(pending, None)
            if call is None:
                return
            try:
                call()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)

    threads = [threading.Thread(target=work, daemon=True, name="rung-mlflow")
               for _ in range(min(CONCURRENT_CALLS, len(calls)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _trial_tags(change: TrialChange) -> dict[str, str]:
    tags = {}
    if change.status is not None:
        tags["rung.status"] = change.status
    if change.bracket is not None:
        tags["rung.bracket"] = str(change.bracket)
    if change.promotions is not None:
        tags["rung.promotions"] = str(change.promotions)
    if change.failures is not None:
        tags["rung.failures"] = str(len(change.failures))
        if change.failures:
            tags["rung.last_failure"] = change.failures[-1]
    return tags


def _params(params: dict[str, str]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)[:MAX_PARAM]) for k, v in params.items()]


def _tags(**tags: str) -> str:
    """A search filter on tags (rung's names hold only letters, digits, '_', '-', '.')."""
    return " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())


def _create_experiment(client: Any, name: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.create_experiment(name))
    except MlflowException:  # made meanwhile (another server of the same journal)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)
