"""The dashboard in Debian's headless chromium, against `rung serve --http-port` with SDK workers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
from dashboard_support import TOKEN, mo_metrics, objective
from scipy import stats

from rung import wire
from rung.client import Client, Decision, Study
from rung.core.objectives import Constraint
from rung.v1 import rung_pb2 as pb
from support import ServerProcess

LEVELS = (1, 3, 9)


def _serve(tmp_path: Path, token: bool) -> Iterator[tuple[ServerProcess, str]]:
    """`rung serve` with the dashboard on (port 0); yields the server and the dashboard's URL."""
    args = ["--http-port", "0"]
    if token:
        (tmp_path / "token").write_text(TOKEN)
        args += ["--token-file", str(tmp_path / "token")]
    server = ServerProcess(tmp_path / "rung.db", args, lease_seconds=600).start()
    assert server.proc is not None and server.proc.stdout is not None
    line = server.proc.stdout.readline().strip()
    assert line.startswith("rung dashboard on http://127.0.0.1:"), line
    yield server, line.rsplit(" ", 1)[1]
    server.terminate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    yield from _serve(tmp_path, token=False)


@pytest.fixture
def served_with_token(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    yield from _serve(tmp_path, token=True)


def run_workers(
    study: Study, jobs: int, workers: int = 2,
    result: Callable[[dict[str, Any], int], float | Mapping[str, float]] = objective,
) -> None:
    """SDK workers in threads, reporting `result(config, epoch)` every epoch, until `jobs`
    jobs have finished."""
    finished: list[int] = []

    def work(i: int) -> None:
        for trial in study.trials(worker_id=f"worker-{i}", max_wait=0.2,
                                  stop=lambda: len(finished) >= jobs):
            for epoch in trial.epochs():
                if trial.report(epoch, result(trial.config, epoch)) is not Decision.CONTINUE:
                    break
            finished.append(trial.trial_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def expected_points(trials: list[pb.Trial]) -> dict[str, int]:
    """What each chart must draw, computed here from ListTrials, independently of the dashboard."""
    results = sorted((o.seq, o.resource, o.value) for t in trials for o in t.observations
                     if o.resource in LEVELS)
    best, changes = None, 0
    for _, resource, value in results:
        if best is None or (-resource, value) < best:
            best, changes = (-resource, value), changes + 1
    return {
        "curves": sum(len(t.observations) for t in trials),
        "rungs": len(results),
        "parallel": sum(1 for t in trials if t.observations),
        "anytime-wall": changes,
        "anytime-resource": changes,
    }


def drawn_pixels(page: Any, canvas_id: str) -> int:
    return page.evaluate("""(id) => {
        const c = document.getElementById(id);
        const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) { if (data[i]) { n++; } }
        return n;
    }""", canvas_id)


def wait_for(page: Any, condition: str) -> None:
    """Waits (without a time assertion) for a JS condition; the page's CSP forbids eval'd strings."""
    page.wait_for_function(f"() => {condition}", timeout=60_000)


def post_status(page: Any, path: str) -> int:
    return page.evaluate("""async (path) => (await fetch(path, {method: "POST",
        headers: {"Content-Type": "application/json"}, body: "{}"})).status""", path)


def test_live_study_login_and_stop(
    chromium: Any, served_with_token: tuple[ServerProcess, str]
) -> None:
    server, url = served_with_token
    with Client(server.address, token=TOKEN) as client:
        study = client.create_study(
            "live", {"lr": stats.loguniform(1e-4, 1), "opt": ["sgd", "adam"]},
            r_max=9, max_trials=12,
        )
        held = next(study.trials(worker_id="held-worker"))  # reports later, while we watch
        run_workers(study, jobs=8)
        context = chromium.new_context(viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)

        # Without the token: a login form, no study, and the action is refused.
        page.wait_for_selector("#login:not([hidden])")
        assert page.locator("#studies").count() == 0
        assert "token" in page.inner_text("#message")
        assert post_status(page, "/api/studies/live/stop") == 401
        page.fill("#token", "not-the-token")
        page.click("#login button")
        wait_for(page, "document.getElementById('message').textContent.includes('refused')")

        page.fill("#token", TOKEN)
        page.click("#login button")
        page.wait_for_selector("#studies tr[data-study=live]")
        row = page.inner_text("#studies tr[data-study=live]")
        assert "running" in row and "asha" in row

        page.click("#studies a:text('live')")
        wait_for(page, "document.body.dataset.chartsSeq !== undefined")
        trials = client.list_trials("live")
        expected = expected_points(trials)
        for canvas, points in expected.items():
            assert page.get_attribute(f"#{canvas}", "data-points") == str(points), canvas
            assert drawn_pixels(page, canvas) > 500, canvas
        assert page.get_attribute("#curves", "data-trials") == str(expected["parallel"])
        assert page.locator("#trials tbody tr[data-trial]").count() == len(trials)

        # A new report shows up without reloading the page.
        page.evaluate("() => { window.stillTheSamePage = true; }")
        assert held.report(1, 0.05) is not None
        wait_for(page, f"document.getElementById('curves').dataset.points === '{expected['curves'] + 1}'")
        assert page.evaluate("() => window.stillTheSamePage") is True

        # Sorted by value on the server: the first row holds the lowest last result.
        page.click("th[data-sort=value]")
        wait_for(page, "document.body.dataset.tableReady.startsWith('0:value:asc:')")
        last = {t.id: max(t.observations, key=lambda o: (o.resource, o.seq)).value
                for t in client.list_trials("live") if t.observations}
        first_row = int(page.get_attribute("#trials tbody tr[data-trial]", "data-trial"))
        assert last[first_row] == min(last.values())

        # One trial: its segments name the worker that trained them.
        page.click(f"#trials tbody tr[data-trial='{first_row}'] a")
        page.wait_for_selector("#trial-curve[data-points]")
        assert "worker-" in page.inner_text("main") or "held-worker" in page.inner_text("main")
        page.go_back()
        wait_for(page, "document.body.dataset.chartsSeq !== undefined")

        # Logged in, the study can be stopped.
        page.on("dialog", lambda dialog: dialog.accept())
        wait_for(page, "!document.getElementById('stop').disabled")
        page.click("#stop")
        wait_for(page, "document.getElementById('study-state').textContent === 'stopped'")
        assert client.get_study("live").state == pb.STUDY_STOPPED
        assert errors == []
        context.close()


HOSTILE_PARAM = '<img src=x onerror="window.pwned = 1">'
HOSTILE_CHOICE = "<script>window.pwned = 2</script>"


def test_read_only_without_a_token_and_hostile_names_stay_text(
    chromium: Any, served: tuple[ServerProcess, str]
) -> None:
    server, url = served
    with Client(server.address) as client:
        study = client.create_study(
            "evil", {HOSTILE_PARAM: stats.uniform(0.1, 0.9), "opt": [HOSTILE_CHOICE, "b"]},
            metric="<b>loss</b>", r_max=3, max_trials=6,
        )
        run_workers(study, jobs=4, workers=1)
        page = chromium.new_context().new_page()
        page.goto(url + "#/study/evil")
        wait_for(page, "document.body.dataset.chartsSeq !== undefined")
        headers = page.locator("#trials th").all_inner_texts()
        assert HOSTILE_PARAM in headers
        if any(wire.config_from_pb(t.config)["opt"] == HOSTILE_CHOICE
               for t in client.list_trials("evil")):
            assert HOSTILE_CHOICE in page.inner_text("#trials tbody")
        assert "<b>loss</b>" in page.inner_text("#summary")
        page.click("#trials tbody tr[data-trial] a")
        page.wait_for_selector("#trial-curve[data-points]")
        assert HOSTILE_PARAM in page.inner_text("main")
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("main img, main script").count() == 0
        page.go_back()
        wait_for(page, "document.body.dataset.chartsSeq !== undefined")

        # One objective: no Pareto views.
        assert page.is_hidden("#pareto-card") and page.is_hidden("#front-card")

        # No token on the server: the dashboard reads, but cannot act.
        assert page.is_disabled("#stop")
        assert post_status(page, "/api/studies/evil/stop") == 403
        assert client.get_study("evil").state == pb.STUDY_RUNNING
        page.context.close()


MO_NAMES = ("<b>error</b>", "cost<img src=x onerror=\"window.pwned = 3\">", "memory")


def expected_front(trials: list[pb.Trial]) -> tuple[set[int], int]:
    """The front computed here from ListTrials: each trial's latest report at the highest
    resource reached, feasible ones only (memory <= 4500), not dominated (min error, max
    cost); and how many trials were infeasible there."""
    error, cost, memory = MO_NAMES
    top = max(o.resource for t in trials for o in t.observations)
    latest = {t.id: max((o for o in t.observations if o.resource == top), key=lambda o: o.seq)
              for t in trials if any(o.resource == top for o in t.observations)}
    keys = {i: (o.metrics[error], -o.metrics[cost]) for i, o in latest.items()
            if o.metrics[memory] <= 4500}
    front = {i for i, k in keys.items()
             if not any(all(a <= b for a, b in zip(o, k)) and o != k for o in keys.values())}
    return front, len(latest) - len(keys)


def test_multi_objective_study_shows_its_front_and_hypervolume(
    chromium: Any, served: tuple[ServerProcess, str]
) -> None:
    server, url = served
    error, cost, memory = MO_NAMES
    with Client(server.address) as client:
        study = client.create_study(
            "pareto", {"lr": stats.loguniform(1e-4, 1), "opt": ["sgd", "adam"]},
            objectives={error: "min", cost: "max"}, constraints=[Constraint(memory, "<=", 4500)],
            r_max=9, max_trials=30,
        )

        def result(config: dict[str, Any], epoch: int) -> Mapping[str, float]:
            return mo_metrics(config, epoch, MO_NAMES)

        run_workers(study, jobs=30, result=result)
        info = study.info()
        front, _ = expected_front(client.list_trials("pareto"))
        assert {p.trial_id for p in info.pareto_front} == front

        page = chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "#/study/pareto")
        wait_for(page, "document.body.dataset.chartsSeq !== undefined")
        assert page.get_attribute("#pareto", "data-points") == str(len(front))
        assert page.get_attribute("#hypervolume", "data-points") == str(len(info.hypervolume))
        assert len(info.hypervolume) >= 2
        for canvas in ("pareto", "hypervolume"):
            assert drawn_pixels(page, canvas) > 500, canvas
        rows = page.locator("#front-body tr[data-trial]")
        assert {int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.trial)")} == front
        heads = page.locator("#front th").all_inner_texts()
        assert f"{error} (min)" in heads and f"{cost} (max)" in heads and "memory <= 4500" in heads
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("main img, main script").count() == 0

        # More reports: the front and the curve follow without a reload.
        page.evaluate("() => { window.stillTheSamePage = true; }")
        run_workers(study, jobs=50, result=result)
        final = study.info()
        front, infeasible = expected_front(client.list_trials("pareto"))
        assert {p.trial_id for p in final.pareto_front} == front and len(front) >= 2
        assert infeasible > 0  # the constraint kept some results at the top off the front
        assert len(final.hypervolume) > len(info.hypervolume)
        wait_for(page, f"document.getElementById('hypervolume').dataset.points === "
                       f"'{len(final.hypervolume)}' && document.getElementById('pareto')"
                       f".dataset.points === '{len(front)}'")
        assert {int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.trial)")} == front
        assert page.evaluate("() => window.stillTheSamePage") is True

        # Each front row opens its trial, whose observations list every named metric.
        first = min(front)
        page.click(f"#front-body tr[data-trial='{first}'] a")
        page.wait_for_selector("#trial-curve[data-points]")
        assert error in page.inner_text("main") and memory in page.inner_text("main")
        assert errors == []
        page.context.close()
