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
    POST /api/studies/S/stop               the actions; each needs the token:
    POST /api/studies/S/budget             {max_trials, max_resource, max_wall_seconds, request_id}
    POST /api/studies/S/retry              {trial_ids (none: every failed trial), request_id}
    POST /api/studies/S/import             {text (a CSV or JSON file), filename, request_id}

Security follows the gRPC server (security.py): with a token, every API call
needs the session cookie (an HMAC of the token, so the cookie is not the token)
or `Authorization: Bearer TOKEN`; without one, reads are open on loopback and
the actions are refused, so a web page in the user's browser cannot stop a study
by posting to 127.0.0.1. POST bodies must be JSON, which a cross-site form
cannot send. TLS uses the gRPC certificate. JSON escapes <, > and &, pages set a
strict Content-Security-Policy and the scripts only ever insert text, so
user-chosen names cannot become markup.

Its parts: http_dashboard.py (the state handlers share), http_handler.py (the
routes); this module starts and stops the server.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from .http_dashboard import COOKIE, CONTENT_TYPES, STATIC, ChangeFeed, Dashboard
from .http_handler import (
    ROUTE,
    SECURITY_HEADERS,
    SSE_KEEPALIVE,
    SSE_MIN_INTERVAL,
    STUDY_VIEWS,
    Handler,
    HttpError,
    to_json,
)
from .security import ServerSecurity
from .service import StudyService

__all__ = [
    "CONTENT_TYPES", "COOKIE", "ROUTE", "SECURITY_HEADERS", "SSE_KEEPALIVE", "SSE_MIN_INTERVAL",
    "STATIC", "STUDY_VIEWS", "ChangeFeed", "Dashboard", "DashboardServer", "Handler", "HttpError",
    "start_dashboard", "to_json",
]


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
