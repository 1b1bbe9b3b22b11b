"""Issue 12, item 8: the HTTP edge holds, tested with real sockets against `flywheel serve`'s server.

Before: an unauthenticated 150 MB POST cost 450 MB of memory, 300 half-sent requests left 302 threads,
and the ingest read a body of Content-Length -1 whole, past its size limit."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from typing import Any

import pytest

import bot.server
from bot.integrations.ingest import make_ingest_app
from bot.integrations.settings import IntegrationSettings
from bot.server import limit_bodies

TOKEN = "ingest-token-0123456789abcdef"


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def head(path: str, length: int | None, *, extra: str = "") -> bytes:
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\n{cl}{extra}\r\n").encode()


def answer(sock: socket.socket, timeout: float = 5) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


@pytest.fixture
def ingest_on(monkeypatch: pytest.MonkeyPatch) -> IntegrationSettings:
    conf = IntegrationSettings(_env_file=None, ingest_token=TOKEN, ingest_max_bytes=4 * 1024 * 1024)  # type: ignore[call-arg]
    monkeypatch.setattr(bot.server, "_integrations", lambda services: conf)
    return conf


@pytest.mark.parametrize(("path", "length"), [
    ("/slack/events", 150 * 1024 * 1024),  # the reported attack
    ("/slack/events", 1024 * 1024 + 1),  # one byte over FLYWHEEL_HTTP_MAX_BODY_BYTES
    ("/slack/events", 2 * 1024 * 1024),  # under the ingest's limit, over Slack's
    ("/ingest/conversations", 4 * 1024 * 1024 + 1),
])
def test_a_body_over_the_limit_is_413_before_it_is_read(serve, ingest_on, path, length) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    with connect(server.server_port) as sock:
        sock.sendall(head(path, length))  # the headers only: not one byte of the body is sent
        started = time.monotonic()
        data = answer(sock)
    assert status(data) == 413 and time.monotonic() - started < 2  # answered at once, and the connection closed


def test_a_body_at_the_limit_is_read(serve, ingest_on, services) -> None:  # type: ignore[no-untyped-def]
    server = serve(http_max_body_bytes=2048)
    body = b"[" + b" " * 2046 + b"]"
    with connect(server.server_port) as sock:
        sock.sendall(head("/ingest/conversations", len(body)) + body)
        assert status(answer(sock, timeout=2)) == 200
    with connect(server.server_port) as sock:
        sock.sendall(head("/slack/events", 2049) + b"x" * 2049)
        assert status(answer(sock, timeout=2)) == 413


def test_a_chunked_body_is_cut_off_at_the_limit(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(http_max_body_bytes=4096)
    with connect(server.server_port) as sock:
        sock.sendall(head("/slack/events", None, extra="Transfer-Encoding: chunked\r\n"))
        try:
            for _ in range(64):  # 64 KiB offered; the server stops at 4 KiB
                sock.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert status(answer(sock)) == 413


def test_the_middleware_refuses_without_reading(caplog) -> None:  # type: ignore[no-untyped-def]
    class Untouchable(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("the body was read")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [body]

    guarded = limit_bodies(app, lambda path: 10)
    seen: list[str] = []
    start = lambda status, headers: seen.append(status)  # noqa: E731
    guarded({"PATH_INFO": "/x", "CONTENT_LENGTH": "11", "wsgi.input": Untouchable()}, start)
    guarded({"PATH_INFO": "/x", "CONTENT_LENGTH": "-1", "wsgi.input": Untouchable()}, start)
    guarded({"PATH_INFO": "/x", "wsgi.input": io.BytesIO(b"y" * 11)}, start)  # no length: cut off
    assert guarded({"PATH_INFO": "/x", "wsgi.input": io.BytesIO(b"y" * 10)}, start) == [b"y" * 10]
    assert [s.split()[0] for s in seen] == ["413", "400", "413", "200"]


def test_a_half_sent_request_is_dropped_after_the_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(http_request_timeout=1)
    with connect(server.server_port) as sock:
        sock.sendall(head("/slack/events", 100) + b'{"type":')  # and then nothing
        started = time.monotonic()
        data = answer(sock, timeout=6)
        waited = time.monotonic() - started
    assert data == b"" and 0.9 < waited < 4  # closed by the server, without an answer


def test_a_request_sent_byte_by_byte_is_dropped_too(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(http_request_timeout=1)  # never idle long enough for an idle timeout: slow loris
    with connect(server.server_port) as sock:
        started = time.monotonic()
        dropped = False
        try:
            for byte in head("/healthz", None) * 10:  # 0.1 s between bytes, for up to 6 s
                if time.monotonic() - started > 6:
                    break
                sock.send(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        assert dropped and time.monotonic() - started < 4


def test_many_half_open_connections_do_not_grow_threads(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(http_connection_limit=20, http_threads=4, http_request_timeout=30)
    time.sleep(0.2)
    threads_before = threading.active_count()
    socks = []
    try:
        for _ in range(300):
            sock = connect(server.server_port)
            sock.sendall(head("/slack/events", 100))  # half-sent: the body never comes
            socks.append(sock)
        time.sleep(1.0)
        assert threading.active_count() <= threads_before  # the stdlib server had one thread each (302)
        assert server.open_connections <= 20  # the rest wait in the kernel's backlog
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 10
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    with connect(server.server_port) as sock:  # the server is fine afterwards
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status(answer(sock)) == 200


@pytest.mark.parametrize(("length", "code"), [(None, 411), ("-1", 400), ("1e3", 400), (" ", 411)])
def test_the_ingest_needs_a_valid_content_length(services, length, code) -> None:  # type: ignore[no-untyped-def]
    app = make_ingest_app(services, TOKEN, max_bytes=1024)
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/ingest/conversations",
                               "HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "wsgi.input": io.BytesIO(b"[]" * 10_000)}
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    seen: list[str] = []
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    assert int(seen[0].split()[0]) == code and environ["wsgi.input"].tell() == 0  # nothing was read
    assert "error" in json.loads(body)


@pytest.mark.parametrize(("length", "code"), [(None, 411), ("-1", 400)])
def test_the_ingest_over_http_needs_a_valid_content_length(serve, ingest_on, length, code) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    with connect(server.server_port) as sock:
        sock.sendall(head("/ingest/conversations", length) + b"[]")
        assert status(answer(sock, timeout=3)) == code


def test_shutdown_finishes_the_request_in_flight(serve, services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    slow_ok = bot.server.db_ok
    monkeypatch.setattr(bot.server, "db_ok", lambda s: (time.sleep(1.0), slow_ok(s))[1])
    with connect(server.server_port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # the request is being served
        stopper = threading.Thread(target=server.shutdown)
        stopper.start()
        assert status(answer(sock)) == 200
        stopper.join(10)
    with pytest.raises(OSError):
        connect(server.server_port).close()  # no longer listening
