"""A hostile (or broken) conversation source: pagination that points back at itself must stop the pull with a
typed error after a bounded number of requests, never page for ever (the pull holds the source's lock)."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses

from bot.integrations.http import Pages, SourceError
from bot.integrations.settings import IntegrationSettings
from bot.integrations.sources import IntercomSource, ZendeskSource
from tests.support.connectors import SECRET

ZD, IC = "https://acme.zendesk.com", "https://api.intercom.io"
NOW = 1_800_000_000
LIMIT = 50  # requests after which the fake gives up and fails the test: the source would loop for ever


def conf(**values: object) -> IntegrationSettings:
    return IntegrationSettings(_env_file=None, **values)  # type: ignore[call-arg]


def zendesk() -> ZendeskSource:
    return ZendeskSource.from_settings(conf(zendesk_subdomain="acme", zendesk_email="ops@acme.test",
                                            zendesk_token=SECRET), clock=lambda: NOW, sleep=lambda s: None)


def intercom() -> IntercomSource:
    return IntercomSource.from_settings(conf(intercom_token=SECRET), clock=lambda: NOW, sleep=lambda s: None)


def counted(calls: list[str], body: Any, status: int = 200) -> Any:
    def reply(req: Any) -> tuple[int, dict[str, str], str]:
        calls.append(req.url)
        if len(calls) > LIMIT:
            raise AssertionError("still paging: a pagination loop")
        return status, {"Content-Type": "application/json"}, json.dumps(body(len(calls)) if callable(body) else body)
    return reply


def test_zendesk_export_whose_after_cursor_never_moves_stops() -> None:
    calls: list[str] = []
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/incremental/tickets/cursor\.json.*"),
                          callback=counted(calls, {"tickets": [], "after_cursor": "same", "end_of_stream": False}))
        with pytest.raises(SourceError, match="pagination loop"):
            list(zendesk().fetch(None))
    assert len(calls) == 2  # the first page, then the page of cursor "same" once


def test_zendesk_comments_whose_next_page_points_back_stop() -> None:
    calls: list[str] = []
    ticket = {"id": 7, "status": "solved", "requester_id": 1}
    page = {"comments": [{"id": 1, "author_id": 1, "public": True, "plain_body": "hi"}], "users": [],
            "next_page": f"{ZD}/api/v2/tickets/7/comments.json?page=2"}
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, re.compile(rf"{ZD}/api/v2/incremental/tickets/cursor\.json.*"),
                 json={"tickets": [ticket], "after_cursor": "c1", "end_of_stream": True})
        mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/tickets/7/comments\.json.*"),
                          callback=counted(calls, page))
        with pytest.raises(SourceError, match="pagination loop"):
            list(zendesk().fetch(None))
    assert len(calls) == 2


def test_intercom_search_whose_starting_after_repeats_stops() -> None:
    calls: list[str] = []
    page = {"conversations": [], "pages": {"next": {"starting_after": "tok"}}}
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, f"{IC}/conversations/search", callback=counted(calls, page))
        with pytest.raises(SourceError, match="pagination loop"):
            list(intercom().fetch(None))
    assert len(calls) == 2


def test_intercom_refusing_every_page_token_restarts_once_then_stops() -> None:
    calls: list[str] = []

    def body(n: int) -> dict[str, Any]:
        return {"conversations": [], "pages": {"next": {"starting_after": f"tok{n}"}}}

    def reply(req: Any) -> tuple[int, dict[str, str], str]:
        status, headers, text = counted(calls, body)(req)
        return (400 if "starting_after" in json.loads(req.body)["pagination"] else 200), headers, text

    cursor = json.dumps({"since": NOW - 100, "after": "expired"})
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, f"{IC}/conversations/search", callback=reply)
        with pytest.raises(SourceError, match="refused its own page token again"):
            list(intercom().fetch(cursor))
    assert len(calls) == 3  # the expired token (400), the pass again from the start, its next token (400)


def test_the_page_guard_has_a_ceiling() -> None:
    guard = Pages("Zendesk", SourceError, limit=3)
    for token in ("a", {"cursor": "b"}, ["c", {"page": 1}]):
        guard.follow(token)
    with pytest.raises(SourceError, match="more than 3 pages"):
        guard.follow("d")
