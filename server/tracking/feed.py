"""The mirror thread: follows every study's journal by position and hands batches to a writer.

Beside the service, never inside a call's path: workers' calls only set a flag
(the service's listener hook) and the thread reads durable events itself
(`events_after`, off the study's lock, from the journal). Whatever the writer
does, slow or failing, only delays the thread: the backlog is the distance
between the writer's position and the journal's, not a queue, so it is
bounded by nothing but the journal and costs no memory. One batch holds at
most BATCH_EVENTS events.

Events give the reports (the bulk) as they become durable; a trial's config
is read once, when its first job appears. Status, failures and promotions
change in ways events do not spell out (a rung's decision can stop another
trial), so a sweep over ListTrials' pages brings them: after the writer opens
a study, once it has been caught up for QUIET_SECONDS, and every SWEEP_SECONDS while it is
busy (less often when sweeping costs more: at most ~5 % of the time), a page
of PAGE_TRIALS at a time with a pause between pages, so the study's lock is
never held for long.

A failed write is retried with backoff; then the writer re-opens the study,
re-reading what it had written, so a write that landed but was not
acknowledged is not written twice. Logged once when it starts failing and once
when it recovers, and once when the lag passes BEHIND_EVENTS and when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rung.core.errors import NotFound

from .model import Batch, Incumbent, Point, StudyInfo, change_from_view, report_metrics

log = logging.getLogger("rung.server.tracking")

BATCH_EVENTS = 5000
PAGE_TRIALS = 200  # trials a sweep reads per hold of the study's lock (a few ms)
PAGE_PAUSE = 0.005  # seconds between two pages: the workers' calls go first
SWEEP_SECONDS = 15.0
QUIET_SECONDS = 1.0  # a study with nothing new to write for this long is swept
SWEEP_SHARE = 0.05  # a sweep at most this share of the time: large studies are swept less often
BEHIND_EVENTS = 10_000
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
IDLE_SECONDS = 1.0


class Writer(Protocol):
    """A tracking system. `write` must be idempotent for what it already wrote."""

    kind: str
    interval: float  # least seconds between two writes of one study (coalesces reports)
    batch_events: int  # most events a batch holds (at most BATCH_EVENTS)
    wants_view: bool  # whether batches should carry the incumbent and the study's state

    def warm_up(self) -> None:
        """Slow set-up (imports, connections), on the mirror's thread before the first study."""

    def open(self, info: StudyInfo) -> int:
        """Loads what is written for the study; returns the journal position it covers."""

    def write(self, batch: Batch) -> None: ...

    def reset(self, study: str) -> None:
        """Forgets what it knows of the study (after a failure): the next open re-reads it."""

    def close(self) -> None: ...


@dataclass
class _Followed:
    name: str
    info: StudyInfo | None = None
    pos: int = 0  # written up to here
    opened: bool = False
    known: set[int] = field(default_factory=set)  # trials whose config was handed over
    swept_seq: int = -1
    swept_at: float = 0.0
    sweep_cost: float = 0.0
    due: float = 0.0  # monotonic time of the next write allowed
    written_at: float = 0.0  # monotonic time of the last batch of events written
    behind: bool = False


class Mirror:
    """One writer fed from the service's journal on a thread of its own."""

    def __init__(self, service: Any, writer: Writer):
        self.service, self.writer = service, writer
        self._followed: dict[str, _Followed] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rung-{writer.kind}", daemon=True)
        self._unsubscribe = lambda: None
        self.failed_pushes = 0
        self.failing_since: float | None = None
        self._backoff = BACKOFF_FIRST

    def start(self) -> Mirror:
        self._unsubscribe = self.service.subscribe(lambda study, seq, kind: self._wake.set())
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Writes what is durable by now (for at most `timeout` seconds), then stops."""
        self._unsubscribe()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s mirror still writing after %.0f s; left behind (it catches up at "
                        "the next start)", self.writer.kind, timeout)
            return
        self.writer.close()

    def lags(self) -> dict[str, int]:
        """Events each study's journal holds beyond what is mirrored."""
        lags = {}
        for st in list(self._followed.values()):
            try:
                lags[st.name] = max(0, self.service.journal_position(st.name) - st.pos)
            except NotFound:
                continue
        return lags

    def caught_up(self) -> bool:
        return self.failing_since is None and not any(self.lags().values()) and all(
            st.swept_seq == st.pos for st in self._followed.values()
        )

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self.writer.warm_up()
        except Exception as exc:  # noqa: BLE001 - tried again by the first write
            log.debug("%s mirror warm-up failed: %s", self.writer.kind, exc)
        while True:
            stopping = self._stop.is_set()
            self._wake.clear()
            try:
                wait = self._pass(final=stopping)
            except Exception as exc:  # noqa: BLE001 - any failure is retried, never raised
                self._failed(exc)
                if stopping:
                    return
                self._stop.wait(self._backoff)
                self._backoff = min(BACKOFF_MAX, self._backoff * 2)
                continue
            self._recovered()
            if stopping and wait > 0:
                return  # nothing left that is durable: stopped
            if wait > 0:
                self._wake.wait(wait)

    def _pass(self, final: bool) -> float:
        """One round over the studies; returns how long to sleep (0: more to do now)."""
        names = self.service.study_names()
        for gone in set(self._followed) - set(names):
            del self._followed[gone]
        wait = IDLE_SECONDS
        for name in names:
            st = self._followed.setdefault(name, _Followed(name))
            try:
                wait = min(wait, self._step(st, final))
            except NotFound:  # deleted meanwhile
                self._followed.pop(name, None)
        return wait

    def _step(self, st: _Followed, final: bool) -> float:
        now = time.monotonic()
        if not st.opened:
            st.info = StudyInfo.of(self.service.get_study(st.name).spec)
            st.pos, st.known, st.swept_seq = self.writer.open(st.info), set(), -1
            st.opened = True
        if st.swept_seq < 0:
            self._sweep(st)
            return 0.0
        if now < st.due and not final:
            return st.due - now
        due_sweep = st.swept_seq != st.pos and now - st.swept_at >= st.sweep_cost / SWEEP_SHARE
        if due_sweep and now - st.swept_at >= SWEEP_SECONDS and not final:  # a busy study
            self._sweep(st)
            return 0.0
        head = self.service.journal_position(st.name)
        if head > st.pos:
            limit = min(BATCH_EVENTS, self.writer.batch_events)
            events = self.service.events_after(st.name, st.pos, wait=0.0, limit=limit)
            if events:
                self._write_events(st, events)
                st.written_at = time.monotonic()
                self._watch_lag(st, head)
                full = len(events) == limit
                st.due = now if full else now + self.writer.interval
                return 0.0 if full or final else self.writer.interval
            return 0.05  # not durable yet
        quiet_for = now - st.written_at
        if due_sweep and (quiet_for >= QUIET_SECONDS or final):  # caught up, nothing new
            self._sweep(st)
            return 0.0
        return max(0.05, QUIET_SECONDS - quiet_for) if due_sweep else IDLE_SECONDS

    def _write_events(self, st: _Followed, events: list[Any]) -> None:
        assert st.info is not None
        batch = Batch(st.name, events[-1].seq)
        new: list[int] = []
        for event in events:
            p = event.payload
            trial_id = p.get("trial_id")
            if trial_id is None:
                continue
            change = batch.trial(trial_id)
            if event.kind == "report":
                change.points.append(Point(
                    p["resource"], report_metrics(p["value"], p.get("metrics"), st.info.metric),
                    p["now"],
                ))
            elif event.kind == "suggest" and trial_id not in st.known:
                new.append(trial_id)
        # Trials are numbered in order: the new ones of a batch are one range, read in pages.
        for first in range(min(new), max(new) + 1, PAGE_TRIALS) if new else ():
            last = min(max(new), first + PAGE_TRIALS - 1)
            page = self.service.page_trials(st.name, after=first - 1, limit=last - first + 1)
            for view in page.trials:
                known = change_from_view(view, st.info.metric, upto_seq=0)  # points: from events
                batch.trial(view.trial_id).merge(known)
                st.known.add(view.trial_id)
        if self.writer.wants_view and st.info is not None:
            self._add_view(st, batch)
        self.writer.write(batch)
        st.pos = batch.seq

    def _sweep(self, st: _Followed) -> None:
        """Every trial from ListTrials' pages (reports up to the position only), a batch a page."""
        assert st.info is not None
        started = time.perf_counter()
        after = -1
        while True:
            page = self.service.page_trials(st.name, after=after, limit=PAGE_TRIALS)
            batch = Batch(st.name, st.pos)
            for view in page.trials:
                batch.trials[view.trial_id] = change_from_view(view, st.info.metric, st.pos)
                st.known.add(view.trial_id)
            if page.next_after is None:
                if self.writer.wants_view:
                    self._add_view(st, batch)
                self.writer.write(batch)
                break
            self.writer.write(batch)
            after = page.next_after
            time.sleep(PAGE_PAUSE)
        st.sweep_cost = time.perf_counter() - started
        st.swept_seq, st.swept_at = st.pos, time.monotonic()

    def _add_view(self, st: _Followed, batch: Batch) -> None:
        view = self.service.get_study(st.name)
        batch.state = view.state
        if view.incumbent is not None:
            i = view.incumbent
            batch.incumbent = Incumbent(i.trial_id, i.resource, i.value)

    # ------------------------------------------------------------------ health

    def _failed(self, exc: Exception) -> None:
        self.failed_pushes += 1
        for st in self._followed.values():
            if st.opened:
                st.opened = False
                self.writer.reset(st.name)
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.warning("%s mirror cannot write (%s: %s); retrying with backoff, workers are "
                        "not affected", self.writer.kind, type(exc).__name__, str(exc)[:300])
        else:
            log.debug("%s mirror still failing: %s", self.writer.kind, exc)

    def _recovered(self) -> None:
        self._backoff = BACKOFF_FIRST
        if self.failing_since is not None:
            log.warning("%s mirror writing again after %.1f s; catching up %d events",
                        self.writer.kind, time.monotonic() - self.failing_since,
                        sum(self.lags().values()))
            self.failing_since = None

    def _watch_lag(self, st: _Followed, head: int) -> None:
        lag = head - st.pos
        if lag > BEHIND_EVENTS and not st.behind:
            st.behind = True
            log.warning("%s mirror is %d events behind study %s", self.writer.kind, lag, st.name)
        elif st.behind and lag < BEHIND_EVENTS // 10:
            st.behind = False
            log.warning("%s mirror has caught up with study %s", self.writer.kind, st.name)


class MirrorCollector(Collector):
    """rung_tracking_lag_events{mirror,study}, rung_tracking_failed_pushes_total{mirror} and
    rung_tracking_up{mirror} (0 while writes fail), computed at scrape time."""

    def __init__(self, mirrors: Iterable[Mirror]):
        self._mirrors = list(mirrors)

    def collect(self) -> Iterable[Metric]:
        lag = GaugeMetricFamily("rung_tracking_lag_events",
                                "Journal events not yet written to the tracking system",
                                labels=["mirror", "study"])
        failed = CounterMetricFamily("rung_tracking_failed_pushes",
                                     "Writes to the tracking system that failed (then retried)",
                                     labels=["mirror"])
        up = GaugeMetricFamily("rung_tracking_up", "1 while the tracking system takes writes",
                               labels=["mirror"])
        for m in self._mirrors:
            for study, n in sorted(m.lags().items()):
                lag.add_metric([m.writer.kind, study], n)
            failed.add_metric([m.writer.kind], m.failed_pushes)
            up.add_metric([m.writer.kind], 0 if m.failing_since is not None else 1)
        return [lag, failed, up]
