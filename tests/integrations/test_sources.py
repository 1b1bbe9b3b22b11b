"""Conversation sources: vendor shapes → the import shape, and cursors that survive a crash mid-pull."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from bot.integrations.http import SourceError
from bot.integrations.sources import IntercomSource, ZendeskSource, build_source, load_cursor, pull
from storage.models import Conversation
from tests.support.connectors import SECRET

ZD, IC = "https://acme.zendesk.com", "https://api.intercom.io"
NOW = 1_800_000_000
START = NOW - 30 * 86400
BOT, HUMAN, CUSTOMER = 200, 300, 100
USERS = [{"id": CUSTOMER, "role": "end-user"}, {"id": BOT, "role": "agent"}, {"id": HUMAN, "role": "admin"}]


def ticket(tid: int, status: str = "solved", **extra: object) -> dict:
    return {"id": tid, "status": status, "requester_id": CUSTOMER, "created_at": "2026-11-20T10:00:00Z",
            "via": {"channel": "web"}, "tags": ["refund"], **extra}


def comments(tid: int, *items: dict) -> None:
    base = [{"id": 1, "author_id": CUSTOMER, "public": True, "plain_body": f"Question of ticket {tid}",
             "created_at": "2026-11-20T10:00:00Z"},
            {"id": 2, "author_id": BOT, "public": True,
             "plain_body": "I'm sorry, I don't have information about that."}]
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/{tid}/comments.json",
                  json={"comments": base + list(items), "users": USERS, "next_page": None})


def incremental(match: dict, tickets: list[dict], after: str, end: bool = True, status: int = 200) -> None:
    responses.add(responses.GET, f"{ZD}/api/v2/incremental/tickets/cursor.json", status=status,
                  match=[matchers.query_param_matcher(match)],
                  json={"tickets": tickets, "after_cursor": after, "end_of_stream": end})


def zendesk(conf, **kw) -> ZendeskSource:
    return ZendeskSource.from_settings(conf(zendesk_subdomain="acme", zendesk_email="ops@acme.test",
                                            zendesk_token=SECRET, zendesk_bot_author_ids=f"{BOT}", **kw),
                                       clock=lambda: NOW, sleep=lambda s: None)


def stored(services) -> dict[str, list[tuple[str, str]]]:
    with services.session() as s:
        return {c.external_id: [(m.role, m.text) for m in c.messages]
                for c in s.scalars(select(Conversation).order_by(Conversation.id))}


@responses.activate
def test_zendesk_maps_comments_to_roles_and_skips_unfinished_tickets(services, conf) -> None:
    incremental({"per_page": "100", "start_time": str(START)},
                [ticket(1, satisfaction_rating={"score": "bad"}), ticket(2, status="open"), ticket(3, "deleted")], "c1")
    comments(1, {"id": 3, "author_id": HUMAN, "public": False, "plain_body": "internal: customer is angry"},
             {"id": 4, "author_id": HUMAN, "public": True,
              "html_body": "<p>Refunds take <b>5</b> days &amp; more.</p>"})
    report = pull(services, zendesk(conf))
    assert (report.added, report.batches, report.bad) == (1, 1, [])
    assert stored(services) == {"1": [("user", "Question of ticket 1"),
                                      ("agent", "I'm sorry, I don't have information about that."),
                                      ("human", "Refunds take 5 days & more.")]}
    assert [c.request.url.split("?")[0].rsplit("/", 2)[-2] for c in responses.calls][1:] == ["1"]  # no comments of 2, 3
    with services.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv.source == "zendesk" and conv.csat == 1 and conv.resolved is True and conv.channel == "web"
    assert load_cursor(services, "zendesk") == "c1"


@responses.activate
def test_zendesk_pull_resumes_after_a_crash_without_skipping_or_repeating(services, conf) -> None:
    incremental({"per_page": "100", "start_time": str(START)}, [ticket(1)], "c1", end=False)
    incremental({"per_page": "100", "cursor": "c1"}, [], "c1", status=500)
    comments(1)
    with pytest.raises(SourceError, match="HTTP 500"):
        pull(services, zendesk(conf, http_max_retries=0))
    assert load_cursor(services, "zendesk") == "c1" and list(stored(services)) == ["1"]

    incremental({"per_page": "100", "cursor": "c1"}, [ticket(1), ticket(2)], "c2")  # 1 updated again: sent again
    comments(1)
    comments(2)
    report = pull(services, zendesk(conf))  # the restart: resumes at c1, not at start_time
    assert (report.added, report.skipped) == (1, 1) and load_cursor(services, "zendesk") == "c2"

    incremental({"per_page": "100", "cursor": "c2"}, [ticket(3)], "c3")
    comments(3)
    report = pull(services, zendesk(conf))
    assert (report.added, report.skipped) == (1, 0) and list(stored(services)) == ["1", "2", "3"]
    assert load_cursor(services, "zendesk") == "c3"


@responses.activate
def test_zendesk_does_not_follow_next_page_links_to_another_host(services, conf) -> None:
    incremental({"per_page": "100", "start_time": str(START)}, [ticket(1)], "c1")
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/1/comments.json",
                  json={"comments": [], "users": [], "next_page": "https://evil.example/steal"})
    with pytest.raises(SourceError, match="another host"):
        pull(services, zendesk(conf))
    assert load_cursor(services, "zendesk") is None and stored(services) == {}


@responses.activate
def test_a_ticket_deleted_mid_pull_is_skipped_not_fatal(services, conf):
    incremental({"per_page": "100", "start_time": str(START)}, [ticket(1), ticket(2)], "c1")
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/1/comments.json", status=404)
    comments(2)
    report = pull(services, zendesk(conf))
    assert report.added == 1 and list(stored(services)) == ["2"] and load_cursor(services, "zendesk") == "c1"


def conversation(cid: str, updated: int, *parts: dict) -> dict:
    return {"type": "conversation", "id": cid, "created_at": updated - 60, "updated_at": updated, "state": "closed",
            "source": {"type": "conversation", "body": f"<p>Question {cid}</p>",
                       "author": {"type": "user", "id": "u1"}},
            "conversation_rating": {"rating": 2},
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": list(parts)}}


def search(convs: list[dict], after: str | None = None, nxt: str | None = None, status: int = 200) -> None:
    page = {"type": "conversation.list",
            "conversations": [{"id": c["id"], "updated_at": c["updated_at"]} for c in convs],
            "pages": {"type": "pages", "next": {"page": 2, "starting_after": nxt} if nxt else None}}
    wanted = {"pagination": {"per_page": 100, "starting_after": after}}
    match = [matchers.json_params_matcher(wanted, strict_match=False)] if after else []
    responses.add(responses.POST, f"{IC}/conversations/search", json=page, status=status, match=match)
    for c in convs:
        responses.add(responses.GET, f"{IC}/conversations/{c['id']}", json=c,
                      match=[matchers.query_param_matcher({"display_as": "plaintext"})])


def intercom(conf, **kw) -> IntercomSource:
    return IntercomSource.from_settings(conf(intercom_token=SECRET, intercom_bot_author_ids="a9", **kw),
                                        clock=lambda: NOW, sleep=lambda s: None)


def sent_query(call_index: int) -> dict:
    search_calls = [c for c in responses.calls if c.request.url.endswith("/conversations/search")]
    return json.loads(search_calls[call_index].request.body)


@responses.activate
def test_intercom_maps_parts_to_roles(services, conf) -> None:
    search([conversation("101", START + 10,
                         {"part_type": "comment", "body": "I don't have information about that.",
                          "author": {"type": "bot", "id": "b1"}, "created_at": START},
                         {"part_type": "note", "body": "internal", "author": {"type": "admin", "id": "a1"}},
                         {"part_type": "assignment", "body": None, "author": {"type": "admin", "id": "a1"}},
                         {"part_type": "comment", "body": "<p>5 days &amp; more.</p>",
                          "author": {"type": "admin", "id": "a1"}},
                         {"part_type": "comment", "body": "Auto reply", "author": {"type": "admin", "id": "a9"}})])
    report = pull(services, intercom(conf, intercom_states="closed,snoozed"))
    assert report.added == 1
    assert stored(services)["101"] == [("user", "Question 101"), ("agent", "I don't have information about that."),
                                       ("human", "5 days & more."), ("agent", "Auto reply")]
    query = sent_query(0)["query"]
    assert query == {"operator": "AND", "value": [{"field": "updated_at", "operator": ">", "value": START - 1},
                                                  {"field": "state", "operator": "IN", "value": ["closed", "snoozed"]}]}
    assert responses.calls[0].request.headers["Intercom-Version"] == "2.11"
    with services.session() as s:
        assert s.scalar(select(Conversation.csat)) == 2


@responses.activate
def test_intercom_pull_resumes_after_a_crash_without_skipping_or_repeating(services, conf) -> None:
    first, second, third = (conversation(cid, START + n) for cid, n in (("101", 100), ("102", 200), ("103", 300)))
    search([first], nxt="WzE")
    search([], after="WzE", status=500)
    with pytest.raises(SourceError):
        pull(services, intercom(conf, http_max_retries=0))
    cursor = json.loads(load_cursor(services, "intercom") or "{}")
    assert cursor == {"since": START, "started": NOW, "high": START + 100, "after": "WzE"}

    search([second], after="WzE")
    assert pull(services, intercom(conf)).added == 1  # the restart resumes on page 2
    assert sent_query(-1)["pagination"] == {"per_page": 100, "starting_after": "WzE"}
    assert json.loads(load_cursor(services, "intercom") or "{}") == {"since": START + 200}

    search([second, third])  # 102 again: updated_at equals the cursor, so it is re-read, and skipped
    report = pull(services, intercom(conf))
    assert (report.added, report.skipped) == (1, 1) and list(stored(services)) == ["101", "102", "103"]
    assert sent_query(-1)["query"]["value"][0]["value"] == START + 199


@responses.activate
def test_an_intercom_conversation_deleted_mid_pull_is_skipped(services, conf):
    gone, kept = conversation("404", START + 1), conversation("105", START + 2)
    search([gone, kept])
    responses.replace(responses.GET, f"{IC}/conversations/404", status=404)
    assert pull(services, intercom(conf)).added == 1 and list(stored(services)) == ["105"]


@responses.activate
def test_intercom_expired_page_token_restarts_the_pass(services, conf) -> None:
    from bot.integrations.sources import save_cursor

    save_cursor(services, "intercom", json.dumps({"since": START, "started": NOW, "high": START, "after": "old"}))
    search([], after="old", status=400)
    search([conversation("101", START + 5)])
    assert pull(services, intercom(conf)).added == 1
    assert "starting_after" not in sent_query(-1)["pagination"]


def test_source_entry_points_use_the_same_cursor_machinery(services, monkeypatch, tmp_path) -> None:
    import bot.integrations as integrations

    (tmp_path / "team_source.py").write_text(
        "from bot.integrations.sources import Batch\n"
        "class Freshdesk:\n    name = 'freshdesk'\n"
        "    def __init__(self, settings):\n        self.seen, self.settings = [], settings\n"
        "    def fetch(self, cursor):\n        self.seen.append(cursor)\n"
        "        yield Batch([{'id': 'f1', 'messages': [{'role': 'customer', 'text': 'Hi'}]},\n"
        "                     {'id': 'f2', 'messages': []}], 'p1')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("freshdesk", "team_source:Freshdesk", "flywheel.sources")]
    monkeypatch.setattr(integrations, "entry_points", lambda group: [e for e in eps if e.group == group])
    source = build_source("freshdesk", services.integrations)
    assert source.settings is services.integrations  # type: ignore[attr-defined]  # the connector settings
    report = pull(services, source)
    assert report.added == 1 and report.bad == ['f2: "messages" is required and must be a non-empty list']
    assert load_cursor(services, "freshdesk") == "p1"
    pull(services, source)
    assert source.seen == [None, "p1"]  # type: ignore[attr-defined]


def test_the_cursor_moves_only_after_the_batch_is_stored(services, monkeypatch) -> None:
    import bot.integrations.sources as sources
    from bot.integrations.sources import Batch

    class Once:
        name = "once"

        def fetch(self, cursor):
            yield Batch([{"id": "o1", "messages": [{"role": "user", "text": "Hi"}]}], "after-o1")

    real = sources.import_records

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(sources, "import_records", crash)
    with pytest.raises(RuntimeError):
        pull(services, Once())
    assert load_cursor(services, "once") is None  # the batch was not stored: it is fetched again
    monkeypatch.setattr(sources, "import_records", real)
    assert pull(services, Once()).added == 1 and load_cursor(services, "once") == "after-o1"
