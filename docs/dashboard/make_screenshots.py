"""Draws the screenshots in docs/dashboard/ from studies run in-process (seeded, no GPU).

    .venv/bin/python docs/dashboard/make_screenshots.py
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from rung.core.objectives import Constraint, Objective
from rung.core.space import Categorical, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.server.http import start_dashboard
from rung.server.service import IssuedJob, StudyService
from rung.server.storage import MemoryJournal

OUT = Path(__file__).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SPACE = SearchSpace({"lr": Float(1e-5, 1.0, log=True), "width": Int(16, 512),
                     "optimizer": Categorical(("sgd", "adam", "rmsprop")),
                     "dropout": Float(0.0, 0.6)})


def error(config: dict, epoch: int, rng: np.random.Generator) -> float:
    """A CNN-like learning curve: a floor set by the config, approached with epochs."""
    lr_gap = abs(math.log10(config["lr"]) + (1.0 if config["optimizer"] == "sgd" else 3.0))
    floor = 0.08 + 0.06 * lr_gap + 0.1 * abs(config["dropout"] - 0.25) + 2 / config["width"]
    return floor + (0.3 + 0.15 * lr_gap) / epoch**0.6 + rng.normal(0, 0.005)


def model_metrics(config: dict, value: float) -> dict[str, float]:
    """Error, parameter count and latency of a width: wider nets err less but cost more."""
    width = config["width"]
    return {"error": value, "params_m": round(0.002 * width**2 / 16, 3),
            "latency_ms": round(1.5 + width / 40, 2)}


def run(service: StudyService, name: str, jobs: int, held: int = 0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    named = not service.get_study(name).spec.is_scalar

    def report(issued: IssuedJob, epoch: int) -> Decision:
        config = dict(issued.job.config)
        value = error(config, epoch, rng)
        return service.report(name, issued.job.trial_id, issued.lease_id, epoch, value,
                              metrics=model_metrics(config, value) if named else None)[0]

    for i in range(jobs + held):
        issued = service.suggest(name, f"gpu-node-{i % 4}:cuda:{i % 2}", "")
        if issued.job.kind not in (JobKind.START, JobKind.RESUME):
            return
        if i >= jobs:  # left running (one epoch in, when it has more), for the running-jobs table
            epoch = issued.job.resume_from + 1
            if epoch < issued.job.milestone:
                report(issued, epoch)
            continue
        for epoch in range(issued.job.resume_from + 1, issued.job.milestone + 1):
            if report(issued, epoch) is not Decision.CONTINUE:
                break


def main() -> None:
    service = StudyService(MemoryJournal(), lease_seconds=600)
    service.create_study(StudySpec("cnn-fmnist-asha", SPACE, scheduler=SchedulerSettings(
        "asha", 1, 27, 3), budget=Budget(max_trials=400), seed=1))
    run(service, "cnn-fmnist-asha", 330, held=4, seed=1)
    service.create_study(StudySpec("cnn-hyperband", SPACE, scheduler=SchedulerSettings(
        "hyperband", 1, 27, 3), searcher="bohb", budget=Budget(max_trials=120), seed=2))
    run(service, "cnn-hyperband", 10_000, seed=2)
    service.create_study(StudySpec("quick-try", SPACE, budget=Budget(max_trials=50), seed=3))
    run(service, "quick-try", 12, seed=3)
    service.stop_study("quick-try")
    service.create_study(StudySpec(
        "cnn-pareto", SPACE, scheduler=SchedulerSettings("asha", 1, 27, 3),
        objectives=(Objective("error"), Objective("params_m")),
        constraints=(Constraint("latency_ms", "<=", 12.0),), budget=Budget(max_trials=200), seed=4))
    run(service, "cnn-pareto", 10_000, seed=4)
    server = start_dashboard(service)
    url = f"http://127.0.0.1:{server.port}/"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#studies tr[data-study]")
        page.screenshot(path=OUT / "studies.png")
        page.goto(url + "#/study/cnn-fmnist-asha")
        page.wait_for_function("() => document.body.dataset.chartsSeq !== undefined")
        page.screenshot(path=OUT / "study.png", full_page=True)
        page.goto(url + "#/study/cnn-pareto")
        page.wait_for_function("() => document.body.dataset.chartsSeq !== undefined")
        page.screenshot(path=OUT / "study_pareto.png")  # the viewport: the top of the page
        page.goto(url + "#/study/cnn-fmnist-asha/trial/3")
        page.wait_for_selector("#trial-curve[data-points]")
        page.screenshot(path=OUT / "trial.png", full_page=True)
        browser.close()
    server.stop()
    # 256 colours: a quarter of the bytes
    for png in ("studies.png", "study.png", "study_pareto.png", "trial.png"):
        Image.open(OUT / png).convert("RGB").quantize(256).save(OUT / png, optimize=True)


if __name__ == "__main__":
    main()
