"""The dashboard's steering actions (budget, retry, import): token-protected like Stop,
journaled once per request id, refusals answered with their status and message."""

from __future__ import annotations

from dashboard_support import TOKEN, Dash, request, run_jobs, spec

from rung.core.types import Budget, TrialStatus

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _finished_study(dash: Dash, name: str = "s1") -> str:
    dash.service.create_study(spec(name, trials=3))
    run_jobs(dash.service, name, 100)
    assert dash.service.get_study(name).state == "done"
    return dash.url + f"/api/studies/{name}"


def test_steering_needs_the_token(secured: Dash) -> None:
    base = _finished_study(secured)
    for action, body in [("budget", {"max_trials": 9}), ("retry", {}), ("import", {"text": ""})]:
        assert request(f"{base}/{action}", "POST", body=body).status == 401, action
        assert request(f"{base}/{action}", "POST", {"Authorization": "Bearer x"},
                       body=body).status == 401
        form = request(f"{base}/{action}", "POST", AUTH, body=b"max_trials=9",
                       content_type="application/x-www-form-urlencoded")
        assert form.status == 415
        assert request(f"{base}/{action}").status in (401, 404)  # no GET of an action
    assert secured.service.get_study("s1").budget == Budget(max_trials=3)


def test_without_a_token_steering_is_refused(dash: Dash) -> None:
    read_only = _finished_study(dash)
    refused = request(read_only + "/budget", "POST", body={"max_trials": 9})
    assert refused.status == 403 and "rung budget" in refused.json()["error"]
    assert dash.service.get_study("s1").budget == Budget(max_trials=3)


def test_a_raised_budget_reopens_the_study_once_per_request(secured: Dash) -> None:
    base = _finished_study(secured)
    for _ in range(2):  # a resent request: one change
        answer = request(base + "/budget", "POST", AUTH, body={"max_trials": 6, "request_id": "r"})
        assert answer.status == 200 and answer.json()["state"] == "running"
        assert answer.json()["budget"]["max_trials"] == 6
    assert sum(e.kind == "budget" for e in secured.service.journal.events("s1")) == 1
    summary = request(base, headers=AUTH).json()
    assert summary["budget"]["max_trials"] == 6 and summary["state"] == "running"

    low = request(base + "/budget", "POST", AUTH, body={"max_trials": 1})
    assert low.status == 409 and "below the 3 trials already started" in low.json()["error"]
    bad = request(base + "/budget", "POST", AUTH, body={"max_resource": -2})
    assert bad.status == 400 and "budget max_resource must be" in bad.json()["error"]
    assert request(base + "/budget", "POST", AUTH, body={}).status == 400


def test_failed_trials_run_again_and_refusals_name_the_trial(secured: Dash) -> None:
    secured.service.create_study(spec("s1", trials=5))
    issued = secured.service.suggest("s1", "w", "")
    secured.service.fail("s1", issued.job.trial_id, issued.lease_id, "oom")
    base = secured.url + "/api/studies/s1"
    assert request(base, headers=AUTH).json()["statuses"]["failed"] == 1
    again = request(base + "/retry", "POST", AUTH, body={"request_id": "x"})
    assert again.status == 200 and again.json()["trial_ids"] == [issued.job.trial_id]
    assert secured.service.list_trials("s1")[0].status is TrialStatus.RUNNING
    not_failed = request(base + "/retry", "POST", AUTH, body={"trial_ids": [0]})
    assert not_failed.status == 409
    assert "trial 0 is running, not failed" in not_failed.json()["error"]
    unknown = request(base + "/retry", "POST", AUTH, body={"trial_ids": [42]})
    assert unknown.status == 404 and "no trial 42" in unknown.json()["error"]
    assert request(base + "/retry", "POST", AUTH, body={"trial_ids": "all"}).status == 400


def test_an_uploaded_file_is_imported_and_a_bad_row_is_named(secured: Dash) -> None:
    secured.service.create_study(spec("s1", trials=5))
    base = secured.url + "/api/studies/s1"
    text = "config.lr,config.opt,resource,value\n0.01,adam,1,0.4\n0.1,sgd,1,0.3\n"
    body = {"text": text, "filename": "runs.csv", "request_id": "up"}
    first = request(base + "/import", "POST", AUTH, body=body)
    assert first.status == 200 and first.json()["trial_ids"] == [0, 1]
    assert request(base + "/import", "POST", AUTH, body=body).json()["trial_ids"] == [0, 1]
    summary = request(base, headers=AUTH).json()
    assert summary["trials_imported"] == 2 and summary["best"]["value"] == 0.3
    assert summary["trials_started"] == 0
    bad = request(base + "/import", "POST", AUTH, body={
        "text": text + "0.1,rmsprop,1,0.2\n", "filename": "runs.csv"})
    assert bad.status == 400
    assert "runs.csv row 4: parameter 'opt': 'rmsprop' is not one of" in bad.json()["error"]
    assert secured.service.get_study("s1").trials_imported == 2
