"""The dashboard adapter: static pages, a read-only JSON API and live updates over HTTP.

It sits beside `rpc.py` and reads the same in-memory `StudyService` (never the
database); what each page shows is computed in `dashboard/model.py`. Routes:

    GET  /                                 the single-page app (static/index.html)
    GET  /static/NAME                      its scripts and styles, packaged with rung
    GET  /api/session                      whether a token is needed / given (always open)
    GET  /api/studies                      the study list
    GET  /api/studies/S                    one study's summary
    GET  /api/studies/S/trials?offset&limit&sort&order&status&q   one table page
    GET  /api/studies/S/trials/ID          one trial: config, segments, observations
    GET  /api/studies/S/{anytime,curves,rungs,running,parallel,importance}
    GET  /api/studies/S/pareto             Pareto front and hypervolume (nulls: one objective)
    GET  /api/events                       server-sent events: {study, seq, kind} per change
    POST /api/login, /api/logout           token -> HttpOnly session cookie, and back
    POST /api/studies/S/stop               the only action; needs the token

Security follows the gRPC server (security.py): with a token, every API call
needs the session cookie (an HMAC of the token, so the cookie is not the token)
or `Authorization: Bearer TOKEN`; without one, reads are open on loopback and
the action is refused, so a web page in the user's browser cannot stop a study
by posting to 127.0.0.1. POST bodies must be JSON, which a cross-site form
cannot send. TLS uses the gRPC certificate. JSON escapes <, > and &, pages set a
strict Content-Security-Policy and the scripts only ever insert text, so
user-chosen names cannot become markup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import ssl
import tempfile
import threading
import time
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from rung.core.errors import InvalidArgument, NotFound

from .dashboard.model import MAX_PAGE, SORT_KEYS, STATUSES, ModelCache, study_list
from .security import ServerSecurity
from .service import StudyService

log = logging.getLogger("rung.server.http")

STATIC = Path(__file__).parent / "dashboard" / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".txt": "text/plain", ".svg": "image/svg+xml"}
COOKIE = "rung_session"
SSE_KEEPALIVE = 15.0  # seconds between comments on an idle stream, to notice closed pages
SSE_MIN_INTERVAL = 0.2  # changes within this window go out together
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def to_json(data: Any) -> bytes:
    """JSON with <, > and & escaped, so no user string can close a tag wherever it lands."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


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


def _int_arg(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"{name} must be between {low} and {high}")
    return value


STUDY_VIEWS = ("anytime", "curves", "rungs", "running", "parallel", "importance", "pareto")
ROUTE = re.compile(r"^/api/studies/([^/]+)(?:/(trials|stop|%s)(?:/(\d+))?)?$" % "|".join(STUDY_VIEWS))


class Handler(BaseHTTPRequestHandler):
    """Parses the request, checks credentials, calls the model, writes JSON: nothing more."""

    server_version = "rung-dashboard"
    protocol_version = "HTTP/1.1"
    dashboard: Dashboard  # set on the subclass made by start_dashboard

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ dispatch

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, route: Callable[[str, dict[str, list[str]]], None]) -> None:
        url = urlsplit(self.path)
        try:
            route(unquote(url.path), parse_qs(url.query))
        except HttpError as exc:
            self._json({"error": str(exc)}, exc.status)
        except NotFound as exc:
            self._json({"error": str(exc)}, HTTPStatus.NOT_FOUND)
        except InvalidArgument as exc:
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            log.exception("dashboard request failed: %s", self.path)
            self._json({"error": "internal error; see the server log"},
                       HTTPStatus.INTERNAL_SERVER_ERROR)

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        d = self.dashboard
        if path in ("/", "/index.html"):
            return self._asset("index.html")
        if path.startswith("/static/"):
            return self._asset(path[len("/static/"):])
        if path == "/api/session":
            return self._json({"auth_required": d.session is not None,
                               "logged_in": d.session is not None and d.authorized(self.headers),
                               "actions": d.session is not None})
        self._require_auth()
        now = d.clock()
        if path == "/api/studies":
            return self._json({"studies": study_list(d.service, now)})
        if path == "/api/events":
            return self._events()
        match = ROUTE.match(path)
        if not match or match.group(2) == "stop":
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        name, view, trial = match.groups()
        if view == "running":  # lease deadlines move with heartbeats, without events
            deadlines = d.service.lease_deadlines(name)
            return self._json(d.models.read(name, lambda m: m.running(deadlines, now)))
        if view == "trials" and trial is None:
            args = self._page_args(query)
            return self._json(d.models.read(name, lambda m: m.page(*args)))
        if view == "trials":
            found = d.models.read(name, lambda m: m.trial(int(trial)))
            if found is None:
                raise HttpError(HTTPStatus.NOT_FOUND, f"study {name} has no trial {trial}")
            return self._json(found)
        if trial is not None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        if view is None:
            return self._json(d.models.read(name, lambda m: m.summary(now)))
        if view == "pareto":  # computed by the service with each view: nothing to cache
            return self._json(d.models.read(name, lambda m: m.pareto()))
        limit = _int_arg(query, "limit", 1000, 1, 100_000) if view in ("curves", "parallel") else None
        return self._json(d.models.chart(name, view, limit))

    def _page_args(self, query: dict[str, list[str]]) -> tuple:
        """(offset, limit, sort, descending, status, text filter) of a table page, validated."""
        sort = query.get("sort", ["id"])[-1]
        if sort not in SORT_KEYS and not sort.startswith("param:"):
            raise HttpError(HTTPStatus.BAD_REQUEST, f"cannot sort by {sort!r}")
        order = query.get("order", ["asc"])[-1]
        if order not in ("asc", "desc"):
            raise HttpError(HTTPStatus.BAD_REQUEST, "order must be asc or desc")
        status = query.get("status", [""])[-1]
        if status and status not in STATUSES:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"unknown status {status!r}")
        return (
            _int_arg(query, "offset", 0, 0, 10**9), _int_arg(query, "limit", 50, 1, MAX_PAGE),
            sort, order == "desc", status, query.get("q", [""])[-1][:200],
        )

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        d = self.dashboard
        body = self._json_body()
        if path == "/api/login":
            token = body.get("token")
            if d.session is None:
                raise HttpError(HTTPStatus.FORBIDDEN, "this server has no token: nothing to log in to")
            if not isinstance(token, str) or not hmac.compare_digest(
                token.encode(), (d.security.token or "").encode()
            ):
                log.warning("dashboard login refused", extra={"peer": self.client_address[0]})
                raise HttpError(HTTPStatus.UNAUTHORIZED, "wrong token")
            return self._json({"logged_in": True}, cookie=d.session)
        if path == "/api/logout":
            return self._json({"logged_in": False}, cookie="")
        match = ROUTE.match(path)
        if not match or match.group(2) != "stop" or match.group(3) is not None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such action: {path}")
        if d.session is None:
            raise HttpError(
                HTTPStatus.FORBIDDEN,
                "this server has no token, so the dashboard is read-only: start rung serve "
                "with --token-file to allow actions, or use `rung stop`",
            )
        self._require_auth()
        view = d.service.stop_study(match.group(1))
        log.info("study stopped from the dashboard", extra={"study": view.spec.name})
        return self._json({"name": view.spec.name, "state": view.state})

    # ------------------------------------------------------------------ helpers

    def _require_auth(self) -> None:
        if not self.dashboard.authorized(self.headers):
            raise HttpError(HTTPStatus.UNAUTHORIZED,
                            "log in with the server's token (or send Authorization: Bearer TOKEN)")

    def _json_body(self) -> dict[str, Any]:
        """The request's JSON object; the body is always read, so the connection stays usable."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 64 * 1024:
            self.close_connection = True  # the unread body would be taken for the next request
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
        raw = self.rfile.read(length)
        if self.headers.get_content_type() != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send a JSON body (application/json)")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def _headers(self, status: HTTPStatus, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)

    def _json(self, data: Any, status: HTTPStatus = HTTPStatus.OK, cookie: str | None = None) -> None:
        body = to_json(data)
        self._headers(status, "application/json; charset=utf-8", len(body))
        self.send_header("Cache-Control", "no-store")
        if cookie is not None:
            secure = "; Secure" if self.dashboard.security.tls else ""
            expire = "; Max-Age=0" if not cookie else ""
            self.send_header(
                "Set-Cookie", f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict{secure}{expire}"
            )
        self.end_headers()
        self.wfile.write(body)

    def _asset(self, name: str) -> None:
        found = self.dashboard.assets.get(name)
        if found is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such file: {name}")
        body, content_type = found
        self._headers(HTTPStatus.OK, f"{content_type}; charset=utf-8", len(body))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        """Streams {study, seq, kind} changes until the page goes away or the server stops."""
        feed = self.dashboard.feed
        self._headers(HTTPStatus.OK, "text/event-stream", None)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        version = feed.version
        self.wfile.write(b"retry: 1000\n\n")
        self.wfile.flush()
        while not feed.closed:
            version, changes = feed.wait(version, SSE_KEEPALIVE)
            if feed.closed:
                return
            for change in changes:
                self.wfile.write(b"event: change\ndata: " + to_json(change) + b"\n\n")
            if not changes:
                self.wfile.write(b": keepalive\n\n")
            self.wfile.flush()
            time.sleep(SSE_MIN_INTERVAL)


class DashboardServer:
    """A running dashboard: `port` is the bound one; `stop()` ends it and its event streams."""

    def __init__(self, httpd: ThreadingHTTPServer, dashboard: Dashboard):
        self.httpd = httpd
        self.dashboard = dashboard
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, name="rung-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.dashboard.close()
        self.httpd.shutdown()
        self.httpd.server_close()


def _tls_context(security: ServerSecurity) -> ssl.SSLContext:
    """The gRPC server's certificate and key (PEM bytes) for HTTPS."""
    assert security.tls_cert is not None and security.tls_key is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:  # ssl only loads keys from files
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert.write_bytes(security.tls_cert)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(security.tls_key)
        context.load_cert_chain(cert, key)
    return context


def start_dashboard(
    service: StudyService, host: str = "127.0.0.1", port: int = 0,
    security: ServerSecurity = ServerSecurity(), clock: Callable[[], float] = time.time,
) -> DashboardServer:
    """Serves the dashboard on host:port (0 picks a free port) in background threads."""
    dashboard = Dashboard(service, security, clock)
    handler = type("BoundHandler", (Handler,), {"dashboard": dashboard})
    httpd = ThreadingHTTPServer((host.strip("[]"), port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=dashboard.warm_up, name="rung-http-warm-up", daemon=True).start()
    if security.tls:
        # The handshake runs in the request thread, so a slow client cannot stall accept().
        httpd.socket = _tls_context(security).wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
    return DashboardServer(httpd, dashboard)
