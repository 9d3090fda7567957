"""The dashboard's JSON API over a real HTTP server and a SQLite-journaled service."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import replace

from dashboard_support import TOKEN, Dash, request, run_jobs, spec

from rung.core.objectives import Constraint, Objective
from rung.core.space import Categorical, Float
from rung.core.types import Mode
from rung.server.dashboard.model import ModelCache

STUDY_VIEWS = ["", "/trials", "/trials/0", "/anytime", "/curves", "/rungs", "/running",
               "/parallel", "/importance", "/pareto"]


def _study(dash: Dash, name: str = "s1", jobs: int = 40, trials: int = 20) -> None:
    dash.service.create_study(spec(name, trials=trials))
    run_jobs(dash.service, name, jobs)


def test_every_endpoint_answers_with_its_shape(dash: Dash) -> None:
    _study(dash)
    held = dash.service.suggest("s1", "held-worker", "")  # budget spent: a promotion or WAIT
    studies = request(dash.url + "/api/studies").json()["studies"]
    assert [s["name"] for s in studies] == ["s1"]
    row = studies[0]
    assert {"scheduler", "searcher", "state", "trials_started", "trials_running", "promotions",
            "best", "progress", "budget"} <= set(row)
    assert row["trials_started"] == 20 and 0 <= row["progress"] <= 1
    assert set(row["best"]) == {"value", "trial_id", "resource"}

    base = dash.url + "/api/studies/s1"
    summary = request(base).json()
    assert summary["levels"] == [[1, 3, 9]] and sum(summary["statuses"].values()) == 20
    trials = dash.service.list_trials("s1")
    observations = sum(len(t.record.observations) for t in trials)

    curves = request(base + "/curves").json()
    assert curves["total"] == 20 and len(curves["trials"]) == 20
    assert sum(len(t["value"]) for t in curves["trials"]) == observations
    assert all(len(t["resource"]) == len(t["value"]) for t in curves["trials"])
    assert any(t["promoted"] for t in curves["trials"])

    rungs = request(base + "/rungs").json()["brackets"][0]["rungs"]
    assert [r["level"] for r in rungs] == [1, 3, 9]
    assert rungs[0]["results"] == 20 and rungs[0]["promoted"] >= rungs[1]["results"] - 1
    assert all(len(r["points"]) == r["results"] for r in rungs)

    anytime = request(base + "/anytime").json()
    assert anytime["wall"] and len(anytime["wall"]) == len(anytime["resource"])
    values = [v for _, v, _ in anytime["wall"]]
    spent = [r for r, _, _ in anytime["resource"]]
    assert spent == sorted(spent) and spent[-1] <= observations
    best = summary["best"]["value"]
    assert values[-1] == best

    running = request(base + "/running").json()["jobs"]
    if held.lease_id:
        assert [j["trial_id"] for j in running] == [held.job.trial_id]
        assert running[0]["worker_id"] == "held-worker" and running[0]["lease_seconds_left"] > 0

    parallel = request(base + "/parallel").json()
    assert set(parallel["params"]) == {"lr", "opt"} and len(parallel["trials"]) == 20
    assert all(len(t["unit"]) == 2 and all(0 <= u <= 1 for u in t["unit"])
               for t in parallel["trials"])

    importance = request(base + "/importance").json()
    assert {p["name"] for p in importance["params"]} == {"lr", "opt"}
    assert all(0 <= p["importance"] <= 1 for p in importance["params"])
    # lr alone decides the objective (see conftest.objective), opt does nothing.
    assert importance["params"][0]["name"] == "lr"

    trial = request(base + "/trials/0").json()
    assert {"config", "segments", "observations", "checkpoint", "failures"} <= set(trial)
    assert trial["segments"][0]["worker_id"] == "w1"
    assert [o["resource"] for o in trial["observations"]] == list(
        range(1, len(trial["observations"]) + 1))


def test_trial_table_pages_sorts_and_filters_on_the_server(dash: Dash) -> None:
    _study(dash, jobs=200, trials=40)
    base = dash.url + "/api/studies/s1/trials"
    first = request(base + "?limit=15").json()
    assert first["total"] == 40 and [r["id"] for r in first["rows"]] == list(range(15))
    last = request(base + "?limit=15&offset=30").json()
    assert [r["id"] for r in last["rows"]] == list(range(30, 40))

    by_value = request(base + "?sort=value&limit=500").json()["rows"]
    assert [r["value"] for r in by_value] == sorted(r["value"] for r in by_value)
    desc = request(base + "?sort=value&order=desc&limit=500").json()["rows"]
    assert [r["id"] for r in desc] == [r["id"] for r in sorted(by_value, key=lambda r: (-r["value"], r["id"]))]

    by_lr = request(base + "?sort=param:lr&limit=500").json()["rows"]
    assert [r["config"]["lr"] for r in by_lr] == sorted(r["config"]["lr"] for r in by_lr)

    paused = request(base + "?status=paused&limit=500").json()
    assert paused["total"] == sum(1 for r in by_value if r["status"] == "paused") > 0
    assert {r["status"] for r in paused["rows"]} == {"paused"}
    adam = request(base + "?q=opt%3Dadam&limit=500").json()
    assert adam["total"] == sum(1 for r in by_value if r["config"]["opt"] == "adam")
    assert {r["config"]["opt"] for r in adam["rows"]} == {"adam"}

    for bad in ("sort=nope", "sort=param:nope", "order=up", "status=sleeping", "limit=0",
                "limit=501", "offset=-1", "offset=x"):
        answer = request(f"{base}?{bad}")
        assert answer.status == 400, bad
        assert "error" in answer.json()


def test_a_maximised_metric_ranks_high_values_first(dash: Dash) -> None:
    study = spec("acc", metric="accuracy", trials=12)
    dash.service.create_study(replace(study, mode=Mode.MAX))
    run_jobs(dash.service, "acc", 40)
    base = dash.url + "/api/studies/acc"
    wall = [v for _, v, _ in request(base + "/anytime").json()["wall"]]
    best = request(base).json()["best"]["value"]
    assert wall[-1] == best
    results = [(r, v) for r, v in zip(*(
        (o.resource for t in dash.service.list_trials("acc") for o in t.record.observations),
        (o.value for t in dash.service.list_trials("acc") for o in t.record.observations)))]
    top = max(r for r, _ in results)
    assert best == max(v for r, v in results if r == top)
    curves = request(base + "/curves?limit=1").json()["trials"]
    assert best in curves[0]["value"]  # limit=1 shows the incumbent's own curve
    rows = request(base + "/trials?sort=value&order=desc&limit=500").json()["rows"]
    assert [r["value"] for r in rows] == sorted((r["value"] for r in rows), reverse=True)


def test_a_large_page_request_is_capped_and_unknown_things_are_404(dash: Dash) -> None:
    _study(dash)
    assert request(dash.url + "/api/studies/nope").status == 404
    assert request(dash.url + "/api/studies/s1/trials/999").status == 404
    assert request(dash.url + "/api/studies/s1/secrets").status == 404
    assert request(dash.url + "/static/../../service.py").status == 404
    assert request(dash.url + "/api/studies/bad%20name").status == 400


HOSTILE_PARAM = "<script>alert('param')</script>"
HOSTILE_CHOICE = "<img src=x onerror=alert('choice')>"
HOSTILE_METRIC = "</script><b>metric</b>"


def test_hostile_strings_are_escaped_in_every_response(dash: Dash) -> None:
    params = {HOSTILE_PARAM: Float(0.1, 1.0), "opt": Categorical((HOSTILE_CHOICE, "&amp;"))}
    dash.service.create_study(spec("evil", params, metric=HOSTILE_METRIC, trials=6))
    job = dash.service.suggest("evil", "<b>worker</b>", "")
    dash.service.fail("evil", job.job.trial_id, job.lease_id, "<script>reason</script>")
    run_jobs(dash.service, "evil", 10)
    seen = set()
    for view in STUDY_VIEWS + ["/trials?sort=param:" + HOSTILE_PARAM.replace("'", "%27")]:
        answer = request(dash.url + "/api/studies/evil" + view.replace(" ", "%20"))
        assert answer.status == 200, (view, answer.body)
        assert b"<" not in answer.body and b">" not in answer.body, view
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        seen.add(json.dumps(answer.json()))
    text = "".join(seen)
    for hostile in (HOSTILE_PARAM, HOSTILE_CHOICE, HOSTILE_METRIC, "<script>reason</script>"):
        assert json.dumps(hostile)[1:-1] in text  # decoded, the original string is intact
    assert b"<" not in request(dash.url + "/api/studies").body
    # A study cannot be named <script>: the service refuses such names outright.
    assert request(dash.url + "/api/studies/%3Cscript%3E").status == 400


def test_pages_carry_a_strict_content_security_policy(dash: Dash) -> None:
    page = request(dash.url + "/")
    assert page.status == 200 and b"<main id=\"main\">" in page.body
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert request(dash.url + "/static/app.js").headers["Content-Type"].startswith("text/javascript")


def test_with_a_token_nothing_is_read_or_done_without_it(secured: Dash) -> None:
    _study(secured, jobs=10)
    base = secured.url + "/api/studies/s1"
    for path in ["/api/studies", "/api/events"] + [f"/api/studies/s1{v}" for v in STUDY_VIEWS]:
        answer = request(secured.url + path)
        assert answer.status == 401, path
        assert b"s1" not in answer.body or path.startswith("/api/studies/s1")
        assert "objective" not in answer.body.decode()
    assert request(base + "/stop", "POST", body={}).status == 401
    assert request(base + "/stop", "POST", {"Authorization": "Bearer wrong"}, body={}).status == 401
    assert request(secured.url + "/api/session").json() == {
        "auth_required": True, "logged_in": False, "actions": True}

    assert request(secured.url + "/api/login", "POST", body={"token": "wrong"}).status == 401
    assert request(secured.url + "/api/login", "POST", body=b"{not json").status == 400
    assert request(secured.url + "/api/login", "POST", body=b"[]").status == 400
    assert request(secured.url + "/api/login", "POST", body=b"x" * 70_000).status == 413
    login = request(secured.url + "/api/login", "POST", body={"token": TOKEN})
    assert login.status == 200
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert request(secured.url + "/api/studies", headers=session).status == 200
    assert request(base, headers={"Authorization": f"Bearer {TOKEN}"}).status == 200

    # A form post (what a hostile page can send cross-site) is refused before anything else.
    form = request(base + "/stop", "POST", session, body=b"x=1",
                   content_type="application/x-www-form-urlencoded")
    assert form.status == 415
    assert secured.service.get_study("s1").state == "running"
    stopped = request(base + "/stop", "POST", session, body={})
    assert stopped.status == 200 and stopped.json()["state"] == "stopped"
    assert secured.service.get_study("s1").state == "stopped"


def test_without_a_token_the_dashboard_is_read_only(dash: Dash) -> None:
    _study(dash, jobs=10)
    refused = request(dash.url + "/api/studies/s1/stop", "POST", body={})
    assert refused.status == 403 and "read-only" in refused.json()["error"]
    assert dash.service.get_study("s1").state == "running"
    assert request(dash.url + "/api/login", "POST", body={"token": "x"}).status == 403


def test_events_stream_announces_each_change(dash: Dash) -> None:
    dash.service.create_study(spec("live"))
    conn = http.client.HTTPConnection("127.0.0.1", dash.server.port, timeout=30)
    conn.request("GET", "/api/events")
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.readline() == b"retry: 1000\n"
    response.readline()
    threading.Thread(target=run_jobs, args=(dash.service, "live", 1)).start()
    seen = []
    while not seen or seen[-1]["kind"] != "report":
        line = response.readline()
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
    assert seen[-1]["study"] == "live" and seen[-1]["seq"] >= 3
    conn.close()


def test_a_model_kept_up_to_date_equals_one_built_afresh(dash: Dash) -> None:
    """The dashboard refreshes only the trials touched since it last looked."""
    service = dash.service
    service.create_study(spec("inc", trials=30))
    kept = ModelCache(service)
    views = ["summary", "anytime", "curves", "rungs", "parallel", "importance"]

    def everything(cache: ModelCache) -> list:
        def read(m):
            pages = [m.page(0, 500, key, False, "", "") for key in ("id", "value", "status")]
            charts = [m.summary(0)] + [getattr(m.chart_data(), v)() for v in views[1:]]
            return pages, charts
        return cache.read("inc", read)

    held = []
    for step in range(12):
        run_jobs(service, "inc", 3, worker=f"w{step % 2}")
        issued = service.suggest("inc", "slow", "")
        if issued.lease_id:
            held.append(issued)
        if step == 5 and held:  # a failure, and a job handed back
            failing = held.pop()
            service.fail("inc", failing.job.trial_id, failing.lease_id, "boom")
        if step == 8 and held:
            back = held.pop()
            service.release("inc", back.job.trial_id, back.lease_id)
        assert everything(kept) == everything(ModelCache(service)), step
    service.stop_study("inc")
    assert everything(kept) == everything(ModelCache(service))


# Objective and constraint names a user chose: markup must come back as text.
MO_ERROR, MO_COST, MO_MEMORY = "<b>error</b>", "cost<script>x</script>", "<img src=x>&mem"


def test_pareto_front_and_hypervolume_of_a_multi_objective_study(dash: Dash) -> None:
    """Two objectives (one minimised, one maximised) and a constraint, through the service."""
    study = replace(
        spec("mo", trials=30),
        objectives=(Objective(MO_ERROR, Mode.MIN), Objective(MO_COST, Mode.MAX)),
        constraints=(Constraint(MO_MEMORY, "<=", 4500.0),),
    )
    dash.service.create_study(study)
    run_jobs(dash.service, "mo", 80, metrics=(MO_ERROR, MO_COST, MO_MEMORY))
    answer = request(dash.url + "/api/studies/mo/pareto")
    assert answer.status == 200
    assert b"<" not in answer.body and b">" not in answer.body and b"&" not in answer.body
    got = answer.json()
    assert set(got) == {"seq", "multi_objective", "objectives", "constraints", "front",
                        "hypervolume", "reference_point"}
    assert got["multi_objective"] is True
    assert got["objectives"] == [{"name": MO_ERROR, "mode": "min"},
                                 {"name": MO_COST, "mode": "max"}]
    assert got["constraints"] == [{"metric": MO_MEMORY, "op": "<=", "bound": 4500.0}]

    view = dash.service.get_study("mo")
    assert view.pareto is not None and len(view.pareto.front) >= 2
    assert [(p["trial_id"], p["resource"], p["metrics"]) for p in got["front"]] == [
        (p.trial_id, p.resource, dict(p.metrics)) for p in view.pareto.front]
    assert all(p["config"] == view.trial_configs[p["trial_id"]] for p in got["front"])
    assert got["reference_point"] == list(view.pareto.reference_point)
    assert [[round(at - view.created_at, 3), v, seq] for seq, at, v in view.pareto.hypervolume] == (
        got["hypervolume"])
    assert len(got["hypervolume"]) >= 2

    # Infeasible results never reach the front, though some trials at its resource are infeasible.
    top = got["front"][0]["resource"]
    at_top = {t.trial_id: [o for o in t.record.observations if o.resource == top]
              for t in dash.service.list_trials("mo")}
    last_at_top = {i: max(obs, key=lambda o: o.seq) for i, obs in at_top.items() if obs}
    infeasible = {i for i, o in last_at_top.items() if o.metrics[MO_MEMORY] > 4500.0}
    assert infeasible and len(infeasible) < len(last_at_top)
    front_ids = {p["trial_id"] for p in got["front"]}
    assert not front_ids & infeasible and all(p["metrics"][MO_MEMORY] <= 4500 for p in got["front"])
    # The front is the non-dominated part of the feasible results at that resource.
    feasible = {i: o.metrics for i, o in last_at_top.items() if i not in infeasible}

    def dominates(a: dict, b: dict) -> bool:
        keys = lambda m: (m[MO_ERROR], -m[MO_COST])  # noqa: E731
        return all(x <= y for x, y in zip(keys(a), keys(b))) and keys(a) != keys(b)

    assert front_ids == {i for i, m in feasible.items()
                         if not any(dominates(n, m) for n in feasible.values())}

    summary = request(dash.url + "/api/studies/mo").json()
    assert summary["multi_objective"] is True and summary["objectives"] == got["objectives"]
    trial = request(dash.url + f"/api/studies/mo/trials/{got['front'][0]['trial_id']}").json()
    assert set(trial["observations"][-1]["metrics"]) == {MO_ERROR, MO_COST, MO_MEMORY}


def test_a_single_objective_study_has_no_front(dash: Dash) -> None:
    _study(dash, jobs=10)
    got = request(dash.url + "/api/studies/s1/pareto").json()
    assert got["multi_objective"] is False and got["constraints"] == []
    assert got["objectives"] == [{"name": "error", "mode": "min"}]
    assert got["front"] is None and got["hypervolume"] is None and got["reference_point"] is None
    assert request(dash.url + "/api/studies/s1").json()["multi_objective"] is False


def test_a_study_shows_its_priors(dash: Dash) -> None:
    params = {"lr": Float(1e-4, 1.0, log=True, prior=3e-3, confidence="high"),
              "opt": Categorical(("sgd", "adam"))}
    dash.service.create_study(spec("p1", params))
    run_jobs(dash.service, "p1", 5)
    space = request(dash.url + "/api/studies/p1").json()["space"]
    assert space["lr"]["prior"] == 3e-3 and space["lr"]["confidence"] == "high"
    assert "prior" not in space["opt"]  # the dashboard shows priors only where set
