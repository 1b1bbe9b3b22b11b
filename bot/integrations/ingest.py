"""Authenticated HTTP ingest of conversations: a WSGI app to mount next to the Slack endpoint.

    POST /ingest/conversations[?source=NAME]
    Authorization: Bearer <FLYWHEEL_INGEST_TOKEN>
    body: a JSON array of conversations, or JSONL (one conversation object a line), in the import shape

    200 {"added": n, "skipped": n, "bad": [{"index": i, "reason": "..."}],   (bad items are not stored)
         "cleaned": [{"index": i, "what": "..."}]}   (stored with NUL, invalid Unicode or NaN values cleaned)
    400 the body is not JSON/JSONL (nothing stored)   401 no or wrong token   404/405 other paths/methods
    411 neither a Content-Length nor a chunked body   400 a negative or malformed Content-Length
    413 the body is over FLYWHEEL_INGEST_MAX_BYTES (a declared length: before reading; a chunked body:
        counted while it is read, and reading stops there)

The import is idempotent (source + id), so a client may retry the same body safely. Logs carry counts and
the error id, never the body.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from bot.errors import ConfigError, InvalidInput
from bot.services import Services
from bot.services.importer import import_records

log = logging.getLogger(__name__)

PATH = "/ingest/conversations"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
READ_SIZE = 64 * 1024  # a body of unknown length is read in pieces of this size
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _BadBody(Exception):
    pass


def _respond(start_response: StartResponse, status: str, payload: dict[str, Any],
             headers: tuple[tuple[str, str], ...] = ()) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def parse_body(raw: bytes) -> list[Any]:
    """A JSON array, or JSONL (a single object is one line of JSONL). Raises _BadBody with the position."""
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        raise _BadBody("the body is not UTF-8") from None
    if not text.strip():
        raise _BadBody("the body is empty; send a JSON array or JSONL of conversations")
    try:
        whole = json.loads(text)  # NaN/Infinity parse; the importer cleans them
    except RecursionError:
        raise _BadBody("invalid JSON (nested too deep)") from None
    except ValueError as exc:
        if text.lstrip().startswith("["):
            raise _BadBody(f"invalid JSON ({_why(exc)})") from None
        whole = exc  # not one JSON document: read it as JSONL
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        return [whole]
    if not isinstance(whole, ValueError):
        raise _BadBody("the body must be a JSON array of conversations, or JSONL")
    items = []
    for line_no, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is valid in JSON
        if line.strip():
            try:
                items.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise _BadBody(f"invalid JSON on line {line_no} ({_why(exc)})") from None
    return items


def _why(exc: Exception) -> str:
    return f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)


def _streamed(environ: dict[str, Any]) -> bool:
    """A chunked body the server hands over without a length (gunicorn, with `wsgi.input_terminated`; waitress,
    `flywheel serve`'s server, de-chunks it and sets Content-Length). Without either, HTTP says there is no
    body: 411, as before."""
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_capped(stream: Any, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as more than `max_bytes` arrived (the rest is never read)."""
    pieces, total = [], 0
    while piece := stream.read(min(READ_SIZE, max_bytes + 1 - total)):
        pieces.append(piece)
        total += len(piece)
        if total > max_bytes:
            return None
    return b"".join(pieces)


def _authorized(header: str, token: bytes) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), token)


def make_ingest_app(services: Services, token: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                    default_source: str = "ingest") -> WsgiApp:
    """The WSGI callable; `token` is compared in constant time. An empty or short token is refused."""
    if not token or len(token) < 16:
        raise ConfigError("FLYWHEEL_INGEST_TOKEN must be set to at least 16 characters to enable HTTP ingest.")
    secret = token.encode("utf-8")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != PATH:
            return _respond(start_response, "404 Not Found", {"error": "not_found"})
        if environ.get("REQUEST_METHOD") != "POST":
            return _respond(start_response, "405 Method Not Allowed", {"error": "method_not_allowed"},
                            (("Allow", "POST"),))
        if not _authorized(environ.get("HTTP_AUTHORIZATION", ""), secret):
            return _respond(start_response, "401 Unauthorized", {"error": "unauthorized"},
                            (("WWW-Authenticate", 'Bearer realm="flywheel-ingest"'),))
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not declared:  # unknown length: read only a body that ends (chunked), and only up to the limit
            if not _streamed(environ):
                return _respond(start_response, "411 Length Required",
                                {"error": "send a Content-Length or a chunked body"})
            streamed = read_capped(environ["wsgi.input"], max_bytes)
            if streamed is None:
                return _respond(start_response, "413 Request Entity Too Large", {"error": f"over {max_bytes} bytes"},
                                (("Connection", "close"),))
            raw = streamed
        elif not declared.isdigit():  # "-1" used to read the whole stream, past the size limit
            return _respond(start_response, "400 Bad Request", {"error": "invalid Content-Length"})
        elif int(declared) > max_bytes:
            return _respond(start_response, "413 Request Entity Too Large", {"error": f"over {max_bytes} bytes"})
        else:
            length = int(declared)
            raw = environ["wsgi.input"].read(length) if length else b""
            if len(raw) != length:
                return _respond(start_response, "400 Bad Request",
                                {"error": "the body is shorter than Content-Length"})
        source = (parse_qs(environ.get("QUERY_STRING", "")).get("source") or [default_source])[0]
        try:
            records = parse_body(raw)
            report = import_records(services, enumerate(records), source=source)
        except _BadBody as exc:
            return _respond(start_response, "400 Bad Request", {"error": str(exc)})
        except InvalidInput as exc:
            return _respond(start_response, "400 Bad Request", {"error": exc.message})
        except Exception:  # noqa: BLE001 - the client gets an id that is in the log, never a trace
            error_id = uuid.uuid4().hex[:12]
            log.exception("ingest failed error_id=%s", error_id)
            return _respond(start_response, "500 Internal Server Error", {"error": "internal", "id": error_id})
        log.info("ingest source=%s added=%d skipped=%d bad=%d", source, report.conversations_added,
                 report.conversations_skipped, len(report.bad_lines))
        return _respond(start_response, "200 OK", {
            "added": report.conversations_added, "skipped": report.conversations_skipped,
            "bad": [{"index": b.line, "reason": b.reason} for b in report.bad_lines],
            "cleaned": [{"index": c.line, "what": c.what} for c in report.cleaned]})

    return app


def ingest_app_from_settings(services: Services, conf: Any) -> WsgiApp | None:
    """The app when `FLYWHEEL_INGEST_TOKEN` is set, else None (ingest stays off)."""
    if conf.ingest_token is None:
        return None
    return make_ingest_app(services, conf.ingest_token.get_secret_value(), max_bytes=conf.ingest_max_bytes,
                           default_source=conf.ingest_source)
