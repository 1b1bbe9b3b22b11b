"""Issue 14, item 6: the ingest accepts chunked bodies (no Content-Length) within the same size limit, through
`flywheel serve`'s real server, and through any WSGI server that hands over a body of unknown length."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.integrations.ingest import make_ingest_app
from bot.integrations.settings import IntegrationSettings
from bot.server import HttpServer, make_server
from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from storage.models import Conversation
from tests.support.factories import conversation
from tests.support.mock_slack import MockSlack

TOKEN = "ingest-token-0123456789abcdef"
LIMIT = 8 * 1024


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:  # overrides tests/conftest.py: a Slack to serve
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token="xoxb-ingest-0123456789", slack_signing_secret="ingest-signing-secret")


@pytest.fixture
def server(services: Services) -> Iterator[HttpServer]:
    services.integrations = IntegrationSettings(  # type: ignore[call-arg]
        _env_file=None, ingest_token=TOKEN, ingest_max_bytes=LIMIT)
    app = create_app(services.settings, services, client=make_web_client(services.settings))
    httpd = make_server(app, services, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


def chunked_post(port: int, pieces: list[bytes]) -> tuple[int, bytes]:
    head = (f"POST /ingest/conversations?source=widget HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for piece in pieces:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) and closed before the whole body was sent
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


def stored(services: Services) -> int:
    with services.session() as s:
        return s.scalar(select(func.count()).select_from(Conversation)) or 0


def test_a_chunked_body_is_imported_through_the_real_server(server: HttpServer, services: Services) -> None:
    body = json.dumps([conversation("k1", gap=True), conversation("k2")]).encode()
    assert len(body) < LIMIT
    status, answer = chunked_post(server.server_port, [body[i:i + 100] for i in range(0, len(body), 100)])
    assert status == 200, answer
    assert json.loads(answer) == {"added": 2, "skipped": 0, "bad": [], "cleaned": []}
    assert stored(services) == 2


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(server: HttpServer, services: Services) -> None:
    one = json.dumps(conversation("k1")).encode() + b"\n"
    status, _ = chunked_post(server.server_port, [one] * (LIMIT // len(one) + 40))  # JSONL just over the limit
    assert status == 413 and stored(services) == 0


class Stream(io.RawIOBase):
    """A body of unknown length that counts what was read of it."""

    def __init__(self, data: bytes) -> None:
        self.data, self.consumed = io.BytesIO(data), 0

    def read(self, size: int = -1) -> bytes:
        piece = self.data.read(size)
        self.consumed += len(piece)
        return piece


def call(app: Any, stream: Stream, **environ: Any) -> tuple[str, dict[str, Any]]:
    seen: list[str] = []
    env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/ingest/conversations", "QUERY_STRING": "",
           "HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "wsgi.input": stream, **environ}
    payload = b"".join(app(env, lambda status, headers: seen.append(status)))
    return seen[0].split()[0], json.loads(payload)


def test_any_wsgi_server_a_terminated_body_is_read_up_to_the_limit_only(services: Services) -> None:
    app = make_ingest_app(services, TOKEN, max_bytes=LIMIT)
    body = json.dumps([conversation("w1")]).encode()
    terminated = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}  # as gunicorn hands it over
    assert call(app, Stream(body), **terminated) == ("200", {"added": 1, "skipped": 0, "bad": [], "cleaned": []})
    assert call(app, Stream(body), HTTP_TRANSFER_ENCODING="chunked")[1]["skipped"] == 1

    huge = Stream(b"[" + b" " * (10 * LIMIT) + b"]")
    status, answer = call(app, huge, HTTP_TRANSFER_ENCODING="chunked")
    assert status == "413" and str(LIMIT) in answer["error"]
    assert huge.consumed <= LIMIT + 1  # counted while reading: the rest was never read

    status, answer = call(app, Stream(body))  # no length, no chunked: a body that may never end is not read
    assert status == "411" and "chunked" in answer["error"]
