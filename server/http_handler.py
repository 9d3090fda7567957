"""The dashboard's request handler: parse the request, check credentials, call the model, write JSON.

Routes and the security rules they follow are listed in http.py.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from rung.core.errors import FailedPrecondition, InvalidArgument, NotFound

from .dashboard.model import MAX_PAGE
from .dashboard.steering import ACTIONS, steer
from .dashboard.studies import study_list
from .dashboard.table import SORT_KEYS, STATUSES
from .http_dashboard import COOKIE, Dashboard

log = logging.getLogger("rung.server.http")


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
ROUTE = re.compile(
    r"^/api/studies/([^/]+)(?:/(trials|%s)(?:/(\d+))?)?$" % "|".join((*ACTIONS, *STUDY_VIEWS))
)


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
        except FailedPrecondition as exc:  # e.g. a budget below what is spent
            self._json({"error": str(exc)}, HTTPStatus.CONFLICT)
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
        if not match or match.group(2) in ACTIONS:
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
        if not match or match.group(2) not in ACTIONS or match.group(3) is not None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such action: {path}")
        name, action = match.group(1), match.group(2)
        if d.session is None:
            raise HttpError(
                HTTPStatus.FORBIDDEN,
                "this server has no token, so the dashboard is read-only: start rung serve "
                f"with --token-file to allow actions, or use `rung {action}`",
            )
        self._require_auth()
        answer = steer(d.service, name, action, body)
        log.info("study %s from the dashboard", "stopped" if action == "stop" else "steered",
                 extra={"study": name, "action": action})
        return self._json(answer)

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
