// The rung dashboard: a single page that reads the JSON API and redraws on server-sent events.
// User-supplied strings (study, parameter and categorical names, failure reasons) only ever
// enter the page as text nodes or canvas text, never as markup.
"use strict";

const PROMOTED = "#e8590c", OTHER = "#9aa5b5", ACCENT = "#2f6fdb";
const state = { route: null, refresh: null, busy: false, again: false, session: null };

// ---------------------------------------------------------------- DOM and API helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") { node.className = v; }
    else if (k.startsWith("on")) { node.addEventListener(k.slice(2), v); }
    else if (k === "dataset") { Object.assign(node.dataset, v); }
    else if (k === "style") { Object.assign(node.style, v); }  // CSSOM: allowed by the page's CSP
    else { node.setAttribute(k, v); }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) { continue; }
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function num(v, digits = 4) {
  if (v === null || v === undefined) { return "–"; }
  return typeof v === "number" && !Number.isInteger(v) ? Charts.format(+v.toPrecision(digits)) : String(v);
}

function configText(config) {
  return Object.entries(config).map(([k, v]) => `${k}=${num(v)}`).join(", ");
}

function studyHref(name) { return "#/study/" + encodeURIComponent(name); }
function trialHref(name, id) { return studyHref(name) + "/trial/" + id; }
function apiStudy(name) { return "/api/studies/" + encodeURIComponent(name); }

class Unauthorized extends Error {}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (response.status === 401) { showLogin(true); throw new Unauthorized(body.error); }
  if (!response.ok) { throw new Error(body.error || response.statusText); }
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

function message(text, info) {
  const box = document.getElementById("message");
  box.hidden = !text;
  box.className = "message" + (info ? " info" : "");
  box.textContent = text || "";
}

function showLogin(needed) {
  document.getElementById("login").hidden = !needed;
  document.getElementById("logout").hidden = needed || !(state.session && state.session.auth_required);
  if (needed) { message("This server needs its token: log in to see the studies.", true); }
}

// ---------------------------------------------------------------- routing and live updates

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "study" && parts[1]) {
    return parts[2] === "trial" ? { page: "trial", study: parts[1], trial: +parts[3] } : { page: "study", study: parts[1] };
  }
  return { page: "list" };
}

async function render() {
  state.route = parseRoute();
  for (const key of Object.keys(document.body.dataset)) { delete document.body.dataset[key]; }
  const main = document.getElementById("main");
  main.replaceChildren();
  message("");
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(el("a", { href: "#/" }, "studies"));
  if (state.route.study) { crumbs.append(" / ", el("a", { href: studyHref(state.route.study) }, state.route.study)); }
  if (state.route.page === "trial") { crumbs.append(" / trial " + state.route.trial); }
  const pages = { list: listPage, study: studyPage, trial: trialPage };
  state.refresh = pages[state.route.page](main, state.route);
  await refresh();
}

async function refresh() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  try {
    await state.refresh();
  } catch (err) {
    if (!(err instanceof Unauthorized)) { message(err.message); }
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; setTimeout(refresh, 50); }
  }
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  events.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  events.addEventListener("change", (e) => {
    const change = JSON.parse(e.data);
    if (state.route.page === "list" || change.study === state.route.study) { refresh(); }
  });
}

// ---------------------------------------------------------------- study list

function listPage(main) {
  const body = el("tbody");
  main.append(el("h1", {}, "Studies"), el("div", { class: "card table-scroll" }, el("table", { id: "studies" },
    el("thead", {}, el("tr", {}, ["Study", "Scheduler", "Searcher", "State", "Trials", "Running", "Promoted", "Best", "Budget"].map(h => el("th", {}, h)))),
    body)));
  return async () => {
    const { studies } = await api("/api/studies");
    body.replaceChildren(...studies.map(s => el("tr", { class: "link", dataset: { study: s.name }, onclick: () => { location.hash = studyHref(s.name).slice(1); } },
      el("td", {}, el("a", { href: studyHref(s.name) }, s.name)),
      el("td", {}, s.scheduler), el("td", {}, s.searcher),
      el("td", {}, el("span", { class: "state " + s.state }, s.state)),
      el("td", { class: "num" }, s.trials_started), el("td", { class: "num" }, s.trials_running),
      el("td", { class: "num" }, s.promotions),
      el("td", { class: "num" }, s.best ? `${s.metric} ${num(s.best.value)}` : "–"),
      el("td", {}, el("div", { class: "bar", title: Math.round(s.progress * 100) + "%" }, el("div", { style: { width: `${(s.progress * 100).toFixed(1)}%` } }))))));
    if (!studies.length) { body.append(el("tr", {}, el("td", { colspan: 9 }, "No studies yet: create one with `rung create` or the SDK."))); }
  };
}

// ---------------------------------------------------------------- steering a study

// Budget, retries of failed trials and imports: actions like Stop, allowed with the server's
// token only. Each click sends one request id, so a resent request changes the study once.
function steeringButtons(name, base) {
  const requestId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
  const budget = el("button", { id: "budget", disabled: "" }, "Budget…");
  const retry = el("button", { id: "retry", disabled: "" }, "Retry failed");
  const file = el("input", { type: "file", id: "import-file", accept: ".csv,.json", hidden: "" });
  const upload = el("button", { id: "import", disabled: "" }, "Import results…");
  let current = null;
  budget.addEventListener("click", async () => {
    const b = current.budget, fields = {};
    for (const [key, label] of [["max_trials", "Max trials"], ["max_resource", "Max resource"], ["max_wall_seconds", "Max wall seconds"]]) {
      const answer = prompt(`${label} (0: unlimited; now ${b[key] || "unlimited"})`, String(b[key]));
      if (answer === null) { return; }
      if (answer.trim() !== String(b[key])) { fields[key] = Number(answer); }
    }
    if (!Object.keys(fields).length) { return; }
    try { await post(base + "/budget", Object.assign(fields, { request_id: requestId() })); message("Budget changed.", true); refresh(); }
    catch (err) { message("Budget not changed: " + err.message); }
  });
  retry.addEventListener("click", async () => {
    if (!confirm(`Run the failed trials of ${name} again from their last checkpoints?`)) { return; }
    try {
      const r = await post(base + "/retry", { request_id: requestId() });
      message(r.trial_ids.length ? `Trials ${r.trial_ids.join(", ")} run again.` : "No failed trials.", true); refresh();
    } catch (err) { message("Not retried: " + err.message); }
  });
  upload.addEventListener("click", () => file.click());
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    file.value = "";
    if (!chosen) { return; }
    try {
      const r = await post(base + "/import", { text: await chosen.text(), filename: chosen.name, request_id: requestId() });
      message(`Imported ${r.trial_ids.length} trials` + (r.skipped ? `; ${r.skipped} imported before` : "") + (r.empty ? `; ${r.empty} without results` : "") + ".", true);
      refresh();
    } catch (err) { message("Not imported: " + err.message); }
  });
  return {
    buttons: [budget, retry, upload, file],
    update(s) {
      current = s;
      const allowed = !!(state.session && state.session.actions) && s.state !== "stopped";
      budget.disabled = upload.disabled = !allowed;
      retry.disabled = !allowed || !(s.statuses && s.statuses.failed);
      for (const b of [budget, retry, upload]) { b.title = state.session && state.session.actions ? "" : "This server has no token: the dashboard is read-only."; }
    },
  };
}

// ---------------------------------------------------------------- one study

function card(title, ...content) { return el("div", { class: "card" }, el("h2", {}, title), ...content); }
function chart(id) { return el("canvas", { class: "chart", id }); }

function studyPage(main, route) {
  const name = route.study, base = apiStudy(name);
  const head = el("div", { class: "summary", id: "summary" });
  const stop = el("button", { class: "danger", id: "stop", disabled: "" }, "Stop study");
  stop.addEventListener("click", async () => {
    if (!confirm(`Stop study ${name}? Running trials stop at their next report.`)) { return; }
    try { await post(base + "/stop"); message("Study stopped.", true); refresh(); }
    catch (err) { message("Not stopped: " + err.message); }
  });
  const steering = steeringButtons(name, base);
  const notes = {};
  const note = id => (notes[id] = el("div", { class: "note", id: id + "-note" }));
  const runningBody = el("tbody"), importance = el("div", { class: "imp", id: "importance" });
  const rungTable = el("tbody");
  const table = trialTable(name);
  const pareto = paretoCards(name, note);
  const charts = chartLoader(base, notes, rungTable, importance, pareto);
  main.append(
    el("div", { class: "toolbar" }, el("h1", { id: "title" }, name), ...steering.buttons, stop),
    head,
    el("div", { class: "grid" },
      ...pareto.cards,
      card("Best so far against wall time", chart("anytime-wall"), note("anytime-wall")),
      card("Best so far against resource trained", chart("anytime-resource"), note("anytime-resource")),
      card("Learning curves", chart("curves"), el("div", { class: "legend" },
        el("span", {}, el("span", { class: "swatch", style: { background: PROMOTED } }), "promoted"),
        el("span", {}, el("span", { class: "swatch", style: { background: OTHER } }), "not promoted")), note("curves")),
      card("Rungs: results per level", chart("rungs"), el("table", {}, el("thead", {}, el("tr", {},
        ["Bracket", "Level", "Results", "Promoted", "Best"].map(h => el("th", {}, h)))), rungTable)),
      card("Running jobs", el("div", { class: "table-scroll" }, el("table", { id: "running" }, el("thead", {}, el("tr", {},
        ["Trial", "Worker", "Segment", "Epoch", "Lease left", "Config"].map(h => el("th", {}, h)))), runningBody))),
      card("Parameter importance", importance, note("importance")),
      el("div", { class: "card wide" }, el("h2", {}, "Parallel coordinates"), chart("parallel"), note("parallel")),
      el("div", { class: "card wide" }, el("h2", {}, "Trials"), table.node)));

  // The summary and the table page come first; each chart draws when its data arrives.
  return async () => {
    const s = await api(base);
    document.body.dataset.seq = s.seq;
    stop.disabled = !(state.session && state.session.actions) || s.state !== "running";
    stop.title = state.session && state.session.actions ? "" : "This server has no token: the dashboard is read-only.";
    steering.update(s);
    head.replaceChildren(...[
      ["state", el("span", { class: "state " + s.state, id: "study-state" }, s.state)],
      ["scheduler / searcher", `${s.scheduler} / ${s.searcher}`],
      ["trials started", s.trials_started], ["running", s.trials_running], ["promotions", s.promotions],
      ["resource spent", s.resource_spent],
      [`best ${s.metric} (${s.mode})`, s.best ? num(s.best.value) : "–"],
      ...(s.multi_objective ? [["objectives", s.objectives.map(objectiveLabel).join(", ")]] : []),
      ...(s.constraints.length ? [["constraints", s.constraints.map(constraintLabel).join(", ")]] : []),
      ...(priorsLabel(s.space) ? [["priors", el("span", { id: "priors" }, priorsLabel(s.space))]] : []),
      ["budget used", Math.round(s.progress * 100) + "%"],
      ...(s.trials_imported ? [["trials imported", s.trials_imported]] : []),
    ].map(([label, value]) => el("div", {}, el("b", {}, value), el("span", {}, label))));
    performance.mark("rung:summary");  // user timing marks, read by benchmarks/dashboard_load.py
    charts.load(s);  // in the background: the summary and the table never wait for charts
    await Promise.all([
      table.refresh(),
      api(base + "/running").then(running => {
        runningBody.replaceChildren(...running.jobs.map(j => el("tr", { class: "link", onclick: () => { location.hash = trialHref(name, j.trial_id).slice(1); } },
          el("td", {}, j.trial_id), el("td", {}, j.worker_id), el("td", {}, `${j.resume_from}→${j.milestone}`),
          el("td", { class: "num" }, j.epoch), el("td", { class: "num" }, j.lease_seconds_left === null ? "–" : j.lease_seconds_left + " s"),
          el("td", {}, configText(j.config)))));
        if (!running.jobs.length) { runningBody.append(el("tr", {}, el("td", { colspan: 6 }, "No job is running."))); }
      }),
    ]);
  };
}

// Loads every chart of a study; one round at a time, the latest summary wins.
function chartLoader(base, notes, rungTable, importance, pareto) {
  const loader = { busy: false, next: null };
  loader.load = async (s) => {
    if (loader.busy) { loader.next = s; return; }
    loader.busy = true;
    try {
      // One after the other: the server computes a study's charts one at a time anyway, and
      // parallel requests would take the browser's few connections from the summary and table.
      const seqs = [];
      for (const [path, paint] of [
        ...(s.multi_objective ? [["/pareto", p => pareto.draw(p, s)]] : []),
        ["/anytime", a => drawAnytime(a, s)],
        ["/curves", c => drawCurves(c, notes.curves)],
        ["/rungs", r => drawRungs(r, rungTable)],
        ["/importance", imp => drawImportance(imp, importance, notes.importance)],
        ["/parallel", p => drawParallel(p, notes.parallel)],
      ]) {
        const data = await api(base + path);
        paint(data);
        seqs.push(data.seq);
      }
      document.body.dataset.chartsSeq = Math.min(...seqs);
      performance.mark("rung:charts");
      // Charts of a large study may lag the journal a little (see docs): ask again shortly.
      if (Math.min(...seqs) < s.seq && !loader.next) { setTimeout(refresh, 1000); }
    } catch (err) {
      if (!(err instanceof Unauthorized)) { message(err.message); }
    } finally {
      loader.busy = false;
      if (loader.next) { const s2 = loader.next; loader.next = null; loader.load(s2); }
    }
  };
  return loader;
}

function drawAnytime(a, s) {
  const now = Math.max(0, Date.now() / 1000 - s.created_at);
  Charts.plot(document.getElementById("anytime-wall"), {
    series: [{ points: a.wall, step: true, dots: true, color: ACCENT, extendTo: s.state === "running" ? Math.max(now, a.wall.length ? a.wall[a.wall.length - 1][0] : 0) : undefined }],
    xLabel: "seconds since the study was created", yLabel: a.metric });
  Charts.plot(document.getElementById("anytime-resource"), {
    series: [{ points: a.resource, step: true, dots: true, color: ACCENT }],
    xLabel: "resource trained (epochs, all trials)", yLabel: a.metric });
}

// ---------------------------------------------------------------- several objectives

function objectiveLabel(o) { return `${o.name} (${o.mode})`; }
function constraintLabel(c) { return `${c.metric} ${c.op} ${num(c.bound)}`; }
// The user's priors ("lr = 0.003 (high)"), from the spec's space; "" when there are none.
function priorsLabel(space) {
  return Object.entries(space || {}).filter(([, p]) => p.prior !== undefined)
    .map(([name, p]) => `${name} = ${num(p.prior)} (${p.confidence})`).join(", ");
}

// The Pareto front, the hypervolume curve and the front's trials: hidden unless the study
// has several objectives or constraints.
function paretoCards(name, note) {
  const frontHead = el("tr"), frontBody = el("tbody", { id: "front-body" });
  const cards = [
    el("div", { class: "card", id: "pareto-card", hidden: "" }, el("h2", {}, "Pareto front (feasible results)"),
      chart("pareto"), note("pareto")),
    el("div", { class: "card", id: "hypervolume-card", hidden: "" }, el("h2", {}, "Hypervolume against wall time"),
      chart("hypervolume"), note("hypervolume")),
    el("div", { class: "card", id: "front-card", hidden: "" }, el("h2", {}, "Trials on the front"),
      el("div", { class: "table-scroll" }, el("table", { id: "front" }, el("thead", {}, frontHead), frontBody))),
  ];
  function draw(p, s) {
    for (const c of cards) { c.hidden = !p.multi_objective; }
    if (!p.multi_objective) { return; }
    const front = p.front, objs = p.objectives;
    const notes = document.getElementById("pareto-note"), hvNote = document.getElementById("hypervolume-note");
    const ref = p.reference_point ? ` Reference point: ${p.reference_point.map(v => num(v)).join(", ")}.` : "";
    notes.textContent = front.length
      ? `${front.length} trial${front.length > 1 ? "s" : ""} at resource ${front[0].resource}, the highest any trial reached.${ref}`
      : "No feasible result yet.";
    if (objs.length >= 2) {
      // Best first on the first objective; with two objectives the staircase through the
      // points bounds what the front dominates, whatever the modes.
      const [a, b] = objs, sign = a.mode === "min" ? 1 : -1;
      const points = front.map(f => [f.metrics[a.name], f.metrics[b.name]]).sort((u, v) => sign * (u[0] - v[0]));
      Charts.plot(document.getElementById("pareto"), {
        series: [{ points, dots: true, radius: 3.5, step: true, line: objs.length === 2 && points.length > 1, color: PROMOTED }],
        xLabel: objectiveLabel(a), yLabel: objectiveLabel(b), xFit: true, empty: "no feasible result yet" });
    } else {
      const points = front.map(f => [f.trial_id, f.metrics[objs[0].name]]);
      Charts.plot(document.getElementById("pareto"), {
        series: [{ points, dots: true, radius: 3.5, line: false, color: PROMOTED }],
        xLabel: "trial", yLabel: objectiveLabel(objs[0]), xFit: true, empty: "no feasible result yet" });
    }
    const now = Math.max(0, Date.now() / 1000 - s.created_at), hv = p.hypervolume;
    Charts.plot(document.getElementById("hypervolume"), {
      series: [{ points: hv.map(h => [h[0], h[1]]), step: true, dots: true, color: ACCENT,
        extendTo: s.state === "running" ? Math.max(now, hv.length ? hv[hv.length - 1][0] : 0) : undefined }],
      xLabel: "seconds since the study was created", yLabel: "hypervolume", empty: "no feasible result yet" });
    hvNote.textContent = "The volume the front of each moment dominates, up to the reference point; it restarts when a trial first reaches a higher resource.";
    const metrics = [...objs.map(o => [o.name, objectiveLabel(o)]), ...p.constraints.map(c => [c.metric, constraintLabel(c)])];
    const columns = [...new Map(metrics).entries()];  // a metric both objective and constrained: once
    frontHead.replaceChildren(...["Trial", "Resource", ...columns.map(c => c[1]), "Config"].map(h => el("th", {}, h)));
    frontBody.replaceChildren(...front.map(f => el("tr", { class: "link", dataset: { trial: f.trial_id }, onclick: () => { location.hash = trialHref(name, f.trial_id).slice(1); } },
      el("td", {}, el("a", { href: trialHref(name, f.trial_id) }, f.trial_id)), el("td", { class: "num" }, f.resource),
      ...columns.map(([m]) => el("td", { class: "num" }, num(f.metrics[m]))), el("td", {}, configText(f.config)))));
    if (!front.length) { frontBody.append(el("tr", {}, el("td", { colspan: columns.length + 3 }, "No feasible result yet."))); }
  }
  return { cards, draw };
}

function drawCurves(c, note) {
  const series = c.trials.map(t => ({
    points: t.resource.map((r, i) => [r, t.value[i]]), color: t.promoted ? PROMOTED : OTHER,
    alpha: t.promoted ? 0.9 : 0.45, width: t.promoted ? 1.6 : 1, dots: t.resource.length === 1,
  }));
  series.sort((a, b) => (a.color === PROMOTED) - (b.color === PROMOTED));  // promoted on top
  const canvas = document.getElementById("curves");
  Charts.plot(canvas, { series, xLabel: "epoch (resource)", yLabel: c.metric, xLog: c.levels.length > 2, xTicks: c.levels.length > 2 ? c.levels : undefined });
  canvas.dataset.trials = String(c.trials.length);
  note.textContent = c.trials.length < c.total ? `The ${c.trials.length} best of ${c.total} trials.` : `${c.trials.length} trials.`;
}

function drawRungs(r, body) {
  const promoted = [], other = [];
  const rows = [];
  for (const b of r.brackets) {
    for (const rung of b.rungs) {
      for (const [, value, up] of rung.points) {
        (up ? promoted : other).push([rung.level, value, (Math.random() - 0.5) * 14 + (b.bracket - (r.brackets.length - 1) / 2) * 18]);
      }
      rows.push(el("tr", {}, el("td", {}, b.bracket), el("td", {}, rung.level), el("td", { class: "num" }, rung.results),
        el("td", { class: "num" }, rung.promoted), el("td", { class: "num" }, num(rung.best))));
    }
  }
  body.replaceChildren(...rows);
  const levels = r.brackets.flatMap(b => b.rungs.map(x => x.level));
  Charts.plot(document.getElementById("rungs"), {
    series: [{ points: other, dots: true, line: false, color: OTHER, alpha: 0.7 }, { points: promoted, dots: true, line: false, color: PROMOTED }],
    xLabel: "rung level (resource)", yLabel: r.metric, xLog: levels.length > 1, xTicks: [...new Set(levels)],
    xRange: [Math.min(...levels) / 1.5, Math.max(...levels) * 1.5] });
}

function drawImportance(imp, box, note) {
  box.replaceChildren(...imp.params.flatMap(p => [
    el("span", {}, p.name),
    el("div", { class: "bar" }, el("div", { style: { width: `${(p.importance * 100).toFixed(1)}%` } })),
    el("span", { class: "num" }, p.importance.toFixed(2))]));
  note.textContent = imp.n ? `Share of the variance of ${imp.n} results at resource ${imp.level} explained by each parameter alone (binned correlation ratio, adjusted for chance).` : "No results yet.";
}

function axisTicks(p) {
  if (p.type === "Categorical") { return p.choices.map((c, i) => [(i + 0.5) / p.choices.length, String(c)]); }
  if (p.type === "FiniteRange") { return [[0.5 / p.size, num(p.low)], [1 - 0.5 / p.size, num(p.high)]]; }
  return [[0, num(p.low)], [1, num(p.high) + (p.log ? " (log)" : "")]];
}

function drawParallel(p, note) {
  const names = Object.keys(p.params);
  const values = p.trials.map(t => t.value);
  const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  const better = v => (p.mode === "min" ? (v - lo) / span : (hi - v) / span);
  const lines = p.trials.map(t => ({ unit: [...t.unit, (t.value - lo) / span], color: Charts.ramp(better(t.value)) }));
  lines.sort((a, b) => b.color.localeCompare(a.color));
  Charts.parallel(document.getElementById("parallel"), {
    axes: [...names.map(n => ({ name: n, ticks: axisTicks(p.params[n]) })),
      { name: p.metric, ticks: values.length ? [[0, num(lo)], [1, num(hi)]] : [] }],
    lines });
  note.textContent = (p.trials.length < p.total ? `${p.trials.length} of ${p.total} trials, evenly spread over the ranking. ` : "") +
    "Each trial's result at the highest resource it reached; darker is better.";
}

// ---------------------------------------------------------------- the trial table (paged on the server)

function trialTable(name) {
  const t = { offset: 0, limit: 50, sort: "id", order: "asc", status: "", q: "" };
  const head = el("tr"), body = el("tbody"), info = el("span", { class: "note", id: "page-info" });
  const filter = el("input", { type: "search", placeholder: "filter: e.g. lr=0.01 optimizer=adam", id: "filter", size: 36 });
  const status = el("select", { id: "status-filter" }, ["", "running", "paused", "completed", "stopped", "failed"].map(s => el("option", { value: s }, s || "any status")));
  const prev = el("button", { id: "prev" }, "‹ prev"), next = el("button", { id: "next" }, "next ›");
  let timer = null;
  filter.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { t.q = filter.value; t.offset = 0; t.refresh(); }, 250); });
  status.addEventListener("change", () => { t.status = status.value; t.offset = 0; t.refresh(); });
  prev.addEventListener("click", () => { t.offset = Math.max(0, t.offset - t.limit); t.refresh(); });
  next.addEventListener("click", () => { t.offset += t.limit; t.refresh(); });
  t.node = el("div", {}, el("div", { class: "toolbar" }, filter, status, prev, next, info),
    el("div", { class: "table-scroll" }, el("table", { id: "trials" }, el("thead", {}, head), body)));
  function header(label, key) {
    const cls = "sortable" + (t.sort === key ? " sorted-" + t.order : "");
    return el("th", { class: cls, dataset: { sort: key }, onclick: () => {
      t.order = t.sort === key && t.order === "asc" ? "desc" : "asc"; t.sort = key; t.offset = 0; t.refresh();
    } }, label);
  }
  t.refresh = async () => {
    const query = new URLSearchParams({ offset: t.offset, limit: t.limit, sort: t.sort, order: t.order, status: t.status, q: t.q });
    const page = await api(apiStudy(name) + "/trials?" + query);
    head.replaceChildren(header("Trial", "id"), header("Status", "status"), header("Bracket", "bracket"),
      header("Resource", "resource"), header("Value", "value"), header("Reports", "observations"),
      ...page.params.map(p => header(p, "param:" + p)));
    body.replaceChildren(...page.rows.map(r => el("tr", { class: "link", dataset: { trial: r.id }, onclick: () => { location.hash = trialHref(name, r.id).slice(1); } },
      el("td", {}, el("a", { href: trialHref(name, r.id) }, r.id)), el("td", {}, el("span", { class: "state " + r.status }, r.status)),
      el("td", { class: "num" }, r.bracket), el("td", { class: "num" }, r.resource), el("td", { class: "num" }, num(r.value)),
      el("td", { class: "num" }, r.observations), ...page.params.map(p => el("td", {}, num(r.config[p]))))));
    const last = Math.min(page.total, page.offset + page.rows.length);
    info.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "no trials match";
    prev.disabled = page.offset === 0;
    next.disabled = last >= page.total;
    document.body.dataset.tableReady = `${page.offset}:${page.sort}:${page.order}:${page.total}:${t.q}`;
    performance.mark("rung:table");
  };
  return t;
}

// ---------------------------------------------------------------- one trial

function trialPage(main, route) {
  const box = el("div", { class: "grid" });
  main.append(el("h1", {}, `Trial ${route.trial} of ${route.study}`), box);
  return async () => {
    const t = await api(apiStudy(route.study) + "/trials/" + route.trial);
    const kv = pairs => el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const rows = (heads, items) => el("table", {}, el("thead", {}, el("tr", {}, heads.map(h => el("th", {}, h)))),
      el("tbody", {}, items.map(cells => el("tr", {}, cells.map(c => el("td", {}, c))))));
    const curve = chart("trial-curve");
    const named = [...new Set(t.observations.flatMap(o => Object.keys(o.metrics || {})))];
    box.replaceChildren(
      card("Configuration", kv(Object.entries(t.config).map(([k, v]) => [k, num(v, 6)]))),
      card("State", kv([["status", t.status], ["bracket", t.bracket],
        ["checkpoint", t.checkpoint ? `${t.checkpoint} (at ${t.checkpoint_resource})` : "none"],
        ["failures", t.failures.length ? t.failures.join("; ") : "none"]])),
      card("Learning curve", curve),
      card("Segments: which worker trained which epochs", rows(["Journal #", "Worker", "Epochs", "Outcome"],
        t.segments.map(s => [s.seq, s.worker_id, `${s.resume_from}→${s.milestone}`, s.lost ? "lost / handed back" : "kept"]))),
      el("div", { class: "card wide" }, el("h2", {}, "Observations"), rows(["Journal #", "Resource", ...(named.length ? named : [t.metric]), "Seconds since creation"],
        t.observations.map(o => [o.seq, o.resource, ...(named.length ? named.map(m => num((o.metrics || {})[m], 6)) : [num(o.value, 6)]), o.at]))));
    Charts.plot(curve, { series: [{ points: t.observations.map(o => [o.resource, o.value]), dots: true, color: ACCENT }],
      xLabel: "epoch (resource)", yLabel: t.metric });
  };
}

// ---------------------------------------------------------------- start

async function start() {
  document.getElementById("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    try {
      await post("/api/login", { token: input.value });
      input.value = "";
      state.session = await api("/api/session");
      showLogin(false);
      message("Logged in.", true);
      if (!state.listening) { state.listening = true; listen(); }
      render();
    } catch (err) { message("Login refused: " + err.message); }
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/api/logout");
    location.reload();
  });
  window.addEventListener("hashchange", render);
  state.session = await api("/api/session");
  const needLogin = state.session.auth_required && !state.session.logged_in;
  showLogin(needLogin);
  if (needLogin) { return; }
  state.listening = true;
  listen();
  render();
}

start();
