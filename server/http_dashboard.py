"""What the dashboard's request handlers share: the service, its models, the change feed, credentials.

`Dashboard` also holds the packaged static files and decides whether a request
is authorized (the session cookie, or `Authorization: Bearer TOKEN`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Callable

from rung.core.errors import NotFound

from .dashboard.model import ModelCache
from .security import ServerSecurity
from .service import StudyService

log = logging.getLogger("rung.server.http")


STATIC = Path(__file__).parent / "dashboard" / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".txt": "text/plain", ".svg": "image/svg+xml"}
COOKIE = "rung_session"


class ChangeFeed:
    """Which studies changed, for the event streams: fed by the service's listener hook."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self._changed: dict[str, tuple[int, int, str]] = {}  # study -> (version, seq, kind)
        self.closed = False

    def __call__(self, study: str, seq: int, kind: str) -> None:
        with self._cond:
            self.version += 1
            self._changed[study] = (self.version, seq, kind)
            self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """Changes after version `after` (waiting up to `timeout` for one) and the new version."""
        with self._cond:
            self._cond.wait_for(lambda: self.version > after or self.closed, timeout)
            changes = [
                {"study": s, "seq": seq, "kind": kind}
                for s, (v, seq, kind) in self._changed.items() if v > after
            ]
            return self.version, changes

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class Dashboard:
    """The state the request handlers share: service, models, feed and credentials."""

    def __init__(self, service: StudyService, security: ServerSecurity,
                 clock: Callable[[], float] = time.time):
        self.service = service
        self.security = security
        self.clock = clock
        self.models = ModelCache(service)
        self.feed = ChangeFeed()
        self._unsubscribe = service.subscribe(self._on_event)
        self.session = (
            hmac.new(security.token.encode(), b"rung-dashboard-session", hashlib.sha256).hexdigest()
            if security.token else None
        )
        self.assets = {
            p.name: (p.read_bytes(), CONTENT_TYPES.get(p.suffix, "application/octet-stream"))
            for p in STATIC.iterdir() if p.is_file()
        }

    def _on_event(self, study: str, seq: int, kind: str) -> None:
        if kind == "deleted":
            self.models.forget([study])
        self.feed(study, seq, kind)

    def authorized(self, headers: Any) -> bool:
        if self.session is None:
            return True
        given = headers.get("Authorization", "")
        if given and hmac.compare_digest(given.encode(), f"Bearer {self.security.token}".encode()):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie", ""))
        except Exception:
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(),
                                                          self.session.encode())

    def warm_up(self) -> None:
        """Builds every study's model once, so the first page load finds it ready.

        Building from all trials takes seconds for 100,000 of them; afterwards each
        page only takes in the trials changed since (docs/dashboard.md, benchmark).
        """
        started = time.monotonic()
        for view in self.service.list_studies():
            try:
                self.models.read(view.spec.name, lambda model: None)
            except NotFound:  # deleted meanwhile
                continue
        log.info("dashboard ready", extra={"seconds": round(time.monotonic() - started, 2)})

    def close(self) -> None:
        self._unsubscribe()
        self.feed.close()
