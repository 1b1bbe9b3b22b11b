"""`flywheel serve` also serves the authenticated HTTP ingest when FLYWHEEL_INGEST_TOKEN is set."""

from __future__ import annotations

import json
import threading

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import create_app
from bot.server import make_server
from storage.models import Conversation
from tests.support.factories import conversation
from tests.support.http_client import http


@pytest.fixture
def ingest_server(settings, services, client):  # type: ignore[no-untyped-def]
    services.integrations = services.integrations.model_copy(
        update={"ingest_token": SecretStr("ingest-secret-0123456789")})  # the one connector settings object
    httpd = make_server(create_app(settings, services, client=client), services, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_ingest_is_mounted_and_authenticated(ingest_server, services) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps([conversation("ing-1"), conversation("ing-2", gap=True)])
    status, _ = http(f"{ingest_server}/ingest/conversations", body=body, headers={"Content-Type": "application/json"})
    assert status == 401
    headers = {"Content-Type": "application/json", "Authorization": "Bearer ingest-secret-0123456789"}
    status, answer = http(f"{ingest_server}/ingest/conversations", body=body, headers=headers)
    assert status == 200 and json.loads(answer)["added"] == 2
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 2
