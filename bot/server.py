"""The HTTP edge of `flywheel serve`: a small threaded WSGI server (stdlib) in front of Bolt.

    POST /slack/events   events, interactivity and slash commands (Bolt verifies the signature); 400 if unparseable
    GET  /healthz        200 {"ok": true, "db": true} after a SELECT 1; 503 when the database is down
    anything else        404
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _wsgi_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.services import Services

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

StartResponse = Callable[..., Any]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow request never holds up Slack's 3-second acks."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """Access lines go to logging at DEBUG (method, path, status only), not to stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("http %s", format % args)


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def db_ok(services: Services) -> bool:
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        log.exception("health check: database unreachable")
        return False


def make_wsgi_app(app: App, services: Services) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)
    from bot.integrations.ingest import ingest_app_from_settings
    from bot.integrations.settings import integration_settings

    ingest = ingest_app_from_settings(services, integration_settings(services.settings))  # None without a token

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == EVENTS_PATH and method == "POST":
            try:
                return bolt(environ, start_response)
            except ValueError:  # a body that is not JSON / a form (Bolt parses it before verifying anything)
                log.warning("unparseable request body on %s", EVENTS_PATH)
                return _json(start_response, "400 Bad Request", {"ok": False, "error": "invalid_payload"})
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            ok = db_ok(services)
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, "db": ok})
        if ingest is not None and path.startswith("/ingest/"):
            return ingest(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


def make_server(app: App, services: Services, host: str, port: int) -> WSGIServer:
    """A started-on-demand server (`serve_forever()`); port 0 picks a free port (`server.server_port`)."""
    return _wsgi_server(host, port, make_wsgi_app(app, services),
                        server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
