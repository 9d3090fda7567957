"""`rung status` and `rung studies`: studies, running jobs and their leases, rungs
and the incumbent, as text."""

from __future__ import annotations

import time
from collections import Counter
from typing import Sequence

from rung import wire
from rung.client import Client
from rung.pareto_view import pareto_lines
from rung.v1 import rung_pb2 as pb

STATES = {v: k for k, v in wire.STUDY_STATES.items()}
TRIAL_STATES = {v: k.value for k, v in wire.TRIAL_STATUSES.items()}


def format_config(config: pb.Config) -> str:
    values = wire.config_from_pb(config)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def segment_progress(trial: pb.Trial) -> list[tuple[pb.Segment, int]]:
    """Each job of a trial with the highest resource reported during it."""
    out = []
    for i, seg in enumerate(trial.segments):
        end = trial.segments[i + 1].seq if i + 1 < len(trial.segments) else float("inf")
        reported = [o.resource for o in trial.observations if seg.seq < o.seq < end]
        out.append((seg, max(reported, default=seg.resume_from)))
    return out


def format_lease(trial: pb.Trial, now: float) -> str:
    if not trial.lease_deadline:
        return "no lease"
    left = trial.lease_deadline - now
    return f"lease expires in {left:.0f}s" if left >= 0 else f"lease expired {-left:.0f}s ago"


def format_study(study: pb.Study, trials: Sequence[pb.Trial], now: float) -> str:
    spec = study.spec
    s = spec.scheduler
    lines = [
        f"study {spec.name}: {STATES[study.state]}, scheduler {s.kind} "
        f"(r_min={s.r_min}, r_max={s.r_max}, eta={s.eta}), searcher {spec.searcher.kind}",
        f"  trials started {study.trials_started}, running {study.trials_running}, "
        f"promotions {study.promotions}, resource spent {study.resource_spent}",
    ]
    statuses = Counter(TRIAL_STATES[t.status] for t in trials)
    if statuses:
        lines.append("  trials: " + ", ".join(f"{n} {k}" for k, n in sorted(statuses.items())))
    reached = Counter(
        seg.milestone for t in trials for seg, done in segment_progress(t) if done == seg.milestone
    )
    if reached:
        lines.append("  rungs: " + ", ".join(f"r={r}: {n}" for r, n in sorted(reached.items())))
    for t in trials:
        if t.status == pb.RUNNING and t.segments:
            seg, done = segment_progress(t)[-1]
            lines.append(
                f"  running: trial {t.id} {seg.resume_from}->{seg.milestone} at {done} "
                f"on {seg.worker_id}, {format_lease(t, now)} ({format_config(t.config)})"
            )
    if study.has_incumbent:
        inc = study.incumbent
        lines.append(
            f"  incumbent: trial {inc.trial_id} {spec.metric.name}={inc.value:.4f} "
            f"at r={inc.resource} ({format_config(inc.config)})"
        )
    lines += pareto_lines(study)
    return "\n".join(lines)


def format_study_list(studies: Sequence[pb.Study]) -> str:
    """One line per study, for `rung studies`."""
    lines = []
    for s in studies:
        best = f"{s.spec.metric.name}={s.incumbent.value:.4g}" if s.has_incumbent else "-"
        lines.append(
            f"{s.spec.name}\t{STATES[s.state]}\t{s.spec.scheduler.kind}\t"
            f"trials {s.trials_started} (running {s.trials_running})\tbest {best}"
        )
    return "\n".join(lines) or "no studies"


def show_status(client: Client, study: str | None, watch: float) -> int:
    with client:
        while True:
            studies = [client.get_study(study)] if study else client.list_studies()
            now = time.time()
            text = "\n".join(
                format_study(s, client.list_trials(s.spec.name), now) for s in studies
            )
            if watch:
                print("\033[2J\033[H" + time.strftime("%H:%M:%S ") + client.address, flush=True)
            print(text or "no studies", flush=True)
            if not watch:
                return 0
            try:
                time.sleep(watch)
            except KeyboardInterrupt:
                return 0
