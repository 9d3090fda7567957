"""Helpers of the dashboard tests: HTTP requests, a study driven through the service."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rung.core.space import Categorical, Float, SearchSpace
from rung.core.study import StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.server.http import DashboardServer
from rung.server.service import StudyService

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "dashboard-test-token"


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: Any = None, content_type: str = "application/json") -> Response:
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, err.headers, err.read())


def objective(config: dict[str, Any], epoch: int) -> float:
    """Only the first parameter (lr in the default space) matters; the error falls with epochs."""
    first = next(iter(config.values()))
    return 0.1 + abs(math.log10(first) + 2) / epoch**0.5


def mo_metrics(config: dict[str, Any], epoch: int, names: tuple[str, str, str]) -> dict[str, float]:
    """Two objectives that conflict for lr between 0.001 and 0.01 (the error, minimised, is
    best at lr 0.01; the other, maximised, at lr 0.001) and a constraint metric that grows
    with epochs: with opt = sgd it passes 4500 after epoch 5, so such trials are feasible
    at low rungs and infeasible at the top."""
    error, cost, memory = names
    lr = next(iter(config.values()))
    sgd = "sgd" in config.values()
    return {error: objective(config, epoch), cost: -abs(math.log10(lr) + 3) + 0.01 * epoch,
            memory: (4000.0 + 100 * epoch) if sgd else 3000.0 + epoch}


def run_jobs(service: StudyService, study: str, jobs: int, worker: str = "w1",
             metrics: tuple[str, str, str] | None = None) -> int:
    """Runs up to `jobs` jobs through the service, reporting every epoch (the named metrics
    of `mo_metrics` when `metrics` names them); returns how many ran."""
    for done in range(jobs):
        issued = service.suggest(study, worker, "")
        if issued.job.kind not in (JobKind.START, JobKind.RESUME):
            return done
        for epoch in range(issued.job.resume_from + 1, issued.job.milestone + 1):
            config = dict(issued.job.config)
            decision, _ = service.report(
                study, issued.job.trial_id, issued.lease_id, epoch, objective(config, epoch),
                metrics=mo_metrics(config, epoch, metrics) if metrics else None)
            if decision is not Decision.CONTINUE:
                break
    return jobs


def spec(name: str, params: dict[str, Any] | None = None, metric: str = "error",
         trials: int = 20) -> StudySpec:
    space = SearchSpace(params or {"lr": Float(1e-4, 1.0, log=True),
                                   "opt": Categorical(("sgd", "adam"))})
    return StudySpec(name, space, metric=metric, budget=Budget(max_trials=trials))


@dataclass
class Dash:
    service: StudyService
    server: DashboardServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


