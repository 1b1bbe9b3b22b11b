"""The authenticated HTTP ingest, called as a WSGI app (no server, no framework)."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import io
import json
import logging
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from sqlalchemy import func, select

from bot.errors import ConfigError
from bot.integrations.ingest import ingest_app_from_settings, make_ingest_app
from storage.models import Conversation
from tests.support.factories import conversation

TOKEN = "ingest-token-0123456789abcdef"


def call(app: Any, body: bytes = b"", *, token: str | None = TOKEN, method: str = "POST",
         path: str = "/ingest/conversations", query: str = "", length: int | None = None,
         auth: str | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "CONTENT_LENGTH": str(len(body) if length is None else length),
                               "wsgi.input": io.BytesIO(body)}
    if auth is not None or token is not None:
        environ["HTTP_AUTHORIZATION"] = auth if auth is not None else f"Bearer {token}"
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    payload = b"".join(app(environ, start_response))
    assert seen["headers"]["Content-Length"] == str(len(payload))
    return seen["status"], seen["headers"], json.loads(payload)


@pytest.fixture
def app(services):
    return make_ingest_app(services, TOKEN, max_bytes=64 * 1024)


def count(services) -> int:
    with services.session() as s:
        return s.scalar(select(func.count()).select_from(Conversation)) or 0


def test_a_json_array_is_imported_and_a_retry_changes_nothing(app, services) -> None:
    body = json.dumps([conversation("c1", gap=True), conversation("c2")]).encode()
    status, headers, result = call(app, body)
    assert (status, headers["Content-Type"], result) == (200, "application/json", {"added": 2, "skipped": 0, "bad": [],
                                                                 "cleaned": []})
    assert call(app, body)[2] == {"added": 0, "skipped": 2, "bad": [], "cleaned": []}
    assert count(services) == 2


def test_jsonl_with_bad_items_keeps_the_good_ones(app, services, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret_text = "my card number is 4111"
    bad_role = {"id": "c3", "messages": [{"role": "wizard", "text": secret_text}]}
    lines = [conversation("c1"), {"messages": []}, bad_role, conversation("c4")]
    status, _, result = call(app, "\n".join(json.dumps(x) for x in lines).encode(), query="source=widget")
    assert status == 200 and result["added"] == 2 and result["skipped"] == 0
    assert [b["index"] for b in result["bad"]] == [1, 2]
    assert '"id" is required' in result["bad"][0]["reason"] and "unknown role" in result["bad"][1]["reason"]
    assert secret_text not in json.dumps(result) and secret_text not in caplog.text and TOKEN not in caplog.text
    with services.session() as s:
        assert set(s.scalars(select(Conversation.source))) == {"widget"}


def test_a_single_pretty_printed_object_is_one_conversation(app) -> None:
    assert call(app, json.dumps(conversation("c9"), indent=2).encode())[2]["added"] == 1


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-0123456789ab", f"Basic {TOKEN}", f"Bearer {TOKEN}x", ""])
def test_no_or_a_wrong_token_is_401_and_nothing_is_stored(app, services, auth) -> None:
    body = json.dumps([conversation("c1")]).encode()
    status, headers, result = call(app, body, token=None, auth=auth)
    assert status == 401 and result == {"error": "unauthorized"} and headers["WWW-Authenticate"].startswith("Bearer")
    assert count(services) == 0


def test_over_the_size_limit_is_413_before_reading(app, services) -> None:
    status, _, result = call(app, b"[]", length=64 * 1024 + 1)
    assert status == 413 and "65536" in result["error"]


@pytest.mark.parametrize("body, reason", [
    (b'[{"id": "c1", "messages": [', "invalid JSON"),
    (b'{"id": "c1", "messages": []}\n{"id": "c2",', "invalid JSON on line 2"),
    (b"\xff\xfe", "not UTF-8"),
    (b"   ", "empty"),
    (b'"just a string"', "JSON array"),
])
def test_bad_json_is_400_and_nothing_is_stored(app, services, body, reason) -> None:
    status, _, result = call(app, body)
    assert status == 400 and reason in result["error"]
    assert count(services) == 0


def test_other_paths_and_methods(app) -> None:
    assert call(app, path="/ingest/other")[0] == 404
    status, headers, _ = call(app, method="GET")
    assert status == 405 and headers["Allow"] == "POST"
    assert call(app, b"[]", query="source=" + "x" * 65)[0] == 400  # the importer's own check


def test_the_token_must_be_strong_and_ingest_is_off_without_one(services, conf) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        make_ingest_app(services, "short")
    assert ingest_app_from_settings(services, conf()) is None
    app = ingest_app_from_settings(services, conf(ingest_token=TOKEN, ingest_max_bytes=2048, ingest_source="api"))
    assert call(app, b"[]", length=4096)[0] == 413
    assert call(app, json.dumps([conversation("c1")]).encode())[2]["added"] == 1
    with services.session() as s:
        assert s.scalar(select(Conversation.source)) == "api"
