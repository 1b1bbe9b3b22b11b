"""Hostile chunked bodies sent to `POST /ingest/conversations` over a real socket (`flywheel serve`'s server):
chunk sizes that lie, a body that never ends, a trickle. Each ends in an error or a closed connection within
the request timeout, and nothing is imported."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

import bot.server
from bot.integrations.settings import IntegrationSettings
from bot.services import Services
from storage.models import Conversation
from tests.security.test_http_edge import answer, connect, head, status
from tests.support.factories import conversation

TOKEN = "ingest-token-0123456789abcdef"
LIMIT = 64 * 1024
BODY = json.dumps([conversation("h1")]).encode()


@pytest.fixture
def ingest_on(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = IntegrationSettings(_env_file=None, ingest_token=TOKEN, ingest_max_bytes=LIMIT)  # type: ignore[call-arg]
    monkeypatch.setattr(bot.server, "_integrations", lambda services: conf)


def stored(services: Services) -> int:
    with services.session() as s:
        return s.scalar(select(func.count()).select_from(Conversation)) or 0


def send(port: int, raw: bytes, *, wait: float = 6) -> tuple[int, float]:
    """Send the head and `raw` (the chunked body as written), then read the answer: (status, seconds)."""
    with connect(port) as sock:
        started = time.monotonic()
        try:
            sock.sendall(head("/ingest/conversations", None,
                              extra="Transfer-Encoding: chunked\r\nConnection: close\r\n") + raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = answer(sock, timeout=wait)
        return status(data), time.monotonic() - started


@pytest.mark.parametrize("raw, expected", [
    (b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n", {200}),  # well formed: the control
    (b"%x\r\n" % (len(BODY) // 2) + BODY + b"\r\n0\r\n\r\n", {400}),  # says half, sends it all
    (b"zz\r\n" + BODY + b"\r\n0\r\n\r\n", {400}),  # a size that is not hex
    (b"fffffffffffffff\r\n" + BODY, {413, 0}),  # far over the limit, then nothing: never stored
    (b"-5\r\n" + BODY + b"\r\n0\r\n\r\n", {400}),
])
def test_chunk_sizes_that_lie(serve, ingest_on, services: Services,  # type: ignore[no-untyped-def]
                              raw: bytes, expected: set[int]) -> None:
    server = serve(http_request_timeout=2)
    code, waited = send(server.server_port, raw)
    assert code in expected and waited < 3.5  # 0: closed without an answer, at the request timeout
    assert stored(services) == (1 if expected == {200} else 0)


def test_a_chunked_body_without_its_last_chunk_is_dropped(serve, ingest_on,  # type: ignore[no-untyped-def]
                                                         services: Services) -> None:
    server = serve(http_request_timeout=1)
    code, waited = send(server.server_port, b"%x\r\n" % len(BODY) + BODY + b"\r\n")  # no "0\r\n\r\n", ever
    assert code in (0, 400, 408) and waited < 4.5
    assert stored(services) == 0


def test_a_trickled_chunked_body_is_dropped_at_the_request_timeout(serve, ingest_on,  # type: ignore[no-untyped-def]
                                                                  services: Services) -> None:
    server = serve(http_request_timeout=1)
    with connect(server.server_port) as sock:
        sock.sendall(head("/ingest/conversations", None, extra="Transfer-Encoding: chunked\r\n"))
        started, dropped = time.monotonic(), False
        try:
            for byte in BODY[:60]:  # one byte a chunk, 0.1 s apart: never idle, never finished
                sock.sendall(b"1\r\n" + bytes([byte]) + b"\r\n")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        rest = answer(sock, timeout=1)
        assert (dropped or status(rest) in (0, 408)) and time.monotonic() - started < 4.5
    assert stored(services) == 0
