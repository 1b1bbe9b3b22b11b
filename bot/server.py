"""The HTTP edge of `flywheel serve`: waitress (a production WSGI server) in front of Bolt.

    POST /slack/events   events, interactivity and slash commands; the signature is checked here, before
                         Bolt parses anything (401 otherwise); 400 if a signed body is unparseable
    GET  /healthz        200 {"ok": true, "db": true} after a SELECT 1; 503 when the database is down
    GET  /readyz         200 when the database answers, is migrated and Slack's auth.test passes (cached a
                         few seconds); 503 naming the failed checks (`bot/readiness.py`)
    GET  /metrics        Prometheus metrics (`bot/metrics.py`); keep it off the public proxy
    POST /ingest/...     the authenticated ingest (`bot/integrations/ingest.py`) when FLYWHEEL_INGEST_TOKEN is set
    anything else        404

What holds the edge (docs/SECURITY.md, "HTTP edge"); every limit is a FLYWHEEL_HTTP_* setting:
* a body over its path's limit (FLYWHEEL_HTTP_MAX_BODY_BYTES; the ingest's own) is 413 as soon as the
  headers are in, never read; a chunked one is cut off at the limit (waitress's parser, with the path's
  limit; `limit_bodies` does the same for any other WSGI server);
* a client has FLYWHEEL_HTTP_REQUEST_TIMEOUT seconds to send a whole request, an idle connection is
  closed after FLYWHEEL_HTTP_IDLE_TIMEOUT: slow or half-sent requests are dropped;
* at most FLYWHEEL_HTTP_CONNECTION_LIMIT connections are open (more wait in the kernel's backlog), and
  FLYWHEEL_HTTP_THREADS threads run requests: open connections cost no thread;
* `shutdown()` (or `request_stop()`, safe in a signal handler) stops accepting, lets requests in flight
  finish (up to FLYWHEEL_HTTP_SHUTDOWN_GRACE seconds), then closes.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer

from bot.errors import ConfigError
from bot.metrics import CONTENT_TYPE, Metrics, request_kind
from bot.readiness import Readiness
from bot.services import Services
from bot.slack.verify import signature_problem

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
INGEST_PREFIX = "/ingest/"
GRACE_SECONDS = 5.0
LOOP_SECONDS = 0.25  # how often the serving loop looks at the clock (timeouts, shutdown)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _json(start_response: StartResponse, status: str, payload: dict[str, Any],
          headers: tuple[tuple[str, str], ...] = ()) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def db_ok(services: Services) -> bool:
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        log.exception("health check: database unreachable")
        return False


class _BodyTooLarge(Exception):
    pass


class _CappedInput:
    """wsgi.input for a body of unknown length: reading past `limit` raises `_BodyTooLarge`."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream, self._left = stream, limit

    def read(self, size: int = -1) -> bytes:
        want = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data: bytes = self._stream.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise _BodyTooLarge
        return data


def limit_bodies(app: WsgiApp, limit_for: Callable[[str], int]) -> WsgiApp:
    """413 when the declared Content-Length is over the path's limit (the body is never read), 400 when it
    is not a number; a body without a length is cut off past the limit."""

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, limit = environ.get("PATH_INFO", ""), limit_for(environ.get("PATH_INFO", ""))
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        if declared:
            if not declared.isdigit():
                log.warning("http request refused: invalid Content-Length path=%r", path)
                return _json(start_response, "400 Bad Request", {"ok": False, "error": "invalid_content_length"},
                             (("Connection", "close"),))
            if int(declared) > limit:
                log.warning("http request refused: body over the limit path=%r length=%s limit=%d", path,
                            declared, limit)
                return _json(start_response, "413 Request Entity Too Large",
                             {"ok": False, "error": "body_too_large", "limit": limit}, (("Connection", "close"),))
        elif "wsgi.input" in environ:
            environ["wsgi.input"] = _CappedInput(environ["wsgi.input"], limit)
        try:
            return app(environ, start_response)
        except _BodyTooLarge:
            log.warning("http request refused: body over the limit path=%r limit=%d", path, limit)
            return _json(start_response, "413 Request Entity Too Large",
                         {"ok": False, "error": "body_too_large", "limit": limit}, (("Connection", "close"),))

    return wsgi


def _integrations(services: Services) -> Any:
    conf = getattr(services, "integrations", None)
    if conf is None:
        from bot.integrations.settings import load_integration_settings

        conf = load_integration_settings(services.settings)
    return conf


def body_limit_for(services: Services) -> Callable[[str], int]:
    """The largest body accepted on a path: FLYWHEEL_INGEST_MAX_BYTES for the ingest (when it is on),
    FLYWHEEL_HTTP_MAX_BODY_BYTES everywhere else."""
    conf, default = _integrations(services), services.settings.http_max_body_bytes
    ingest = int(conf.ingest_max_bytes) if conf.ingest_token is not None else default
    return lambda path: ingest if path.startswith(INGEST_PREFIX) else default


def make_wsgi_app(app: App, services: Services, *, metrics: Metrics | None = None) -> WsgiApp:
    settings = services.settings
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret.strip():
        raise ConfigError("SLACK_SIGNING_SECRET is empty or not set; HTTP mode needs it to verify Slack's requests.")
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)
    from bot.integrations.ingest import ingest_app_from_settings

    ingest = ingest_app_from_settings(services, _integrations(services))  # None without a token
    metrics = metrics or Metrics(services)
    metrics.install()
    readiness = Readiness(services, app.client)

    def slack_events(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_X_SLACK_")}
        problem = signature_problem(secret, headers, body)
        if problem is not None:  # nothing parsed, nothing run, nothing posted
            log.warning("slack request refused: %s", problem)
            return _json(start_response, "401 Unauthorized", {"error": "invalid request"})
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        kind, started, status = request_kind(body), time.monotonic(), [500]

        def timed_start(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            return bolt(environ, timed_start)
        except ValueError:  # a signed body that is not JSON / a form / UTF-8
            log.warning("unparseable request body on %s", EVENTS_PATH)
            return _json(timed_start, "400 Bad Request", {"ok": False, "error": "invalid_payload"})
        finally:
            metrics.observe_ack(kind, status[0], time.monotonic() - started)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == EVENTS_PATH and method == "POST":
            return slack_events(environ, start_response)
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            ok = db_ok(services)
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, "db": ok})
        if path == READY_PATH and method in ("GET", "HEAD"):
            ready, report = readiness.report()
            return _json(start_response, "200 OK" if ready else "503 Service Unavailable", report)
        if path == METRICS_PATH and method == "GET":
            data = metrics.render()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))])
            return [data]
        if ingest is not None and path.startswith(INGEST_PREFIX):
            return ingest(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return limit_bodies(wsgi, body_limit_for(services))


def _server_class(limit_for: Callable[[str], int]) -> type[TcpWSGIServer]:
    """waitress whose parser applies the path's body limit as soon as the headers are in: a body over it
    is answered 413 and never read (waitress itself knows one limit for every path)."""

    class Parser(HTTPRequestParser):  # type: ignore[misc]
        adj: Adjustments
        path: str

        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            cap = limit_for(self.path or "") + 1  # waitress refuses `cap` bytes or more
            if cap < self.adj.max_request_body_size:
                self.adj = copy.copy(self.adj)
                self.adj.max_request_body_size = cap

    class Channel(HTTPChannel):  # type: ignore[misc]
        parser_class = Parser

    class Server(TcpWSGIServer):  # type: ignore[misc]
        channel_class = Channel

    return Server


class HttpServer:
    """waitress on one socket, run by `serve_forever()` in the calling thread and stopped by `shutdown()`
    from another (the same shape as `socketserver`, which the CLI and the tests use)."""

    def __init__(self, wsgi_app: WsgiApp, host: str, port: int, *, limit_for: Callable[[str], int],
                 request_timeout: float, idle_timeout: int, connection_limit: int, threads: int,
                 grace: float = GRACE_SECONDS) -> None:
        self._map: dict[int, Any] = {}
        adj = Adjustments(
            host=host, port=port, threads=threads, connection_limit=connection_limit, channel_timeout=idle_timeout,
            cleanup_interval=1, max_request_body_size=1024 ** 3, max_request_header_size=64 * 1024,
            expose_tracebacks=False, ident="flywheel", clear_untrusted_proxy_headers=True,
            asyncore_loop_timeout=LOOP_SECONDS)
        self._server = _server_class(limit_for)(wsgi_app, map=self._map, adj=adj)
        self.server_port = int(self._server.effective_port)
        self.request_timeout = request_timeout
        self.grace = grace
        self._partial_since: dict[int, float] = {}  # connection id -> when its unfinished request began
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()

    @property
    def open_connections(self) -> int:
        return len(self._server.active_channels)

    def serve_forever(self) -> None:
        self._stop.clear()
        self._done.clear()
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=LOOP_SECONDS, map=self._map, use_poll=True, count=1)
                self._drop_slow_requests(time.monotonic())
            self._drain(time.monotonic() + self.grace)
        finally:
            self._close_all()
            self._done.set()

    def _drop_slow_requests(self, now: float) -> None:
        """waitress only times out idle connections; one that trickles a request byte by byte is dropped
        here once it has had `request_timeout` seconds to send it."""
        seen = {}
        for channel in list(self._server.active_channels.values()):
            if channel.request is None or channel.requests:  # no request being received / being served
                continue
            began = seen[id(channel)] = self._partial_since.get(id(channel), now)
            if now - began > self.request_timeout and not channel.will_close:
                log.info("http request dropped: not received within %ss", self.request_timeout)
                channel.will_close = True
        self._partial_since = seen

    def _drain(self, deadline: float) -> None:
        """Stop accepting; keep serving the requests in flight (and sending their answers) until done."""
        self._server.accepting = False
        self._server.del_channel()
        self._server.socket.close()  # new connections are refused from now on
        while time.monotonic() < deadline and any(
                c.requests or c.total_outbufs_len for c in list(self._server.active_channels.values())):
            wasyncore.loop(timeout=0.05, map=self._map, use_poll=True, count=1)

    def _close_all(self) -> None:
        for channel in [*self._map.values(), self._server]:
            try:
                channel.close()
            except OSError:
                pass
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=GRACE_SECONDS)

    def request_stop(self) -> None:
        """Ask `serve_forever()` to stop gracefully, without waiting (safe in a signal handler)."""
        self._stop.set()
        try:
            self._server.pull_trigger()
        except OSError:
            pass

    def shutdown(self) -> None:
        """Stop `serve_forever()` (gracefully) and wait for it to return."""
        self.request_stop()
        self._done.wait(self.grace + GRACE_SECONDS * 2)

    def server_close(self) -> None:
        if self._done.is_set():
            self._close_all()


def make_server(app: App, services: Services, host: str, port: int) -> HttpServer:
    """A started-on-demand server (`serve_forever()`); port 0 picks a free port (`server.server_port`)."""
    s = services.settings
    return HttpServer(make_wsgi_app(app, services), host, port, limit_for=body_limit_for(services),
                      request_timeout=s.http_request_timeout, idle_timeout=s.http_idle_timeout,
                      connection_limit=s.http_connection_limit, threads=s.http_threads,
                      grace=s.http_shutdown_grace)
