"""A digest a team wants to read: each item shows the few turns around the one that went wrong, one reason, a
short reference linked to the ticket, and "Show the whole conversation" (a signed click opens every turn)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.services import Services
from bot.services.importer import import_file
from bot.slack.digest import post_digest
from handlers.ids import ActionId, ViewId
from tests.support.harness import REVIEW, Harness, texts

DAY = dt.date(2026, 11, 20)
FIRST = "Hello, I have a few questions about my new account."
QUESTION = "How do I move my loyalty points to my partner's account?"
DONT_KNOW = "I'm sorry, I don't have information about that. Let me connect you with a teammate."
ANSWER = "Points move between accounts in the same household: open Rewards, then Share points."


def long_conversation(cid: str, **meta: object) -> dict:
    """Ten turns; the agent does not know at turn 8 and a teammate answers."""
    chat = [("user", FIRST), ("agent", "Welcome! What can I do for you?")]
    for n in range(2):
        chat += [("user", f"Where do I see my points balance, part {n}?"), ("agent", "Open Rewards in the app.")]
    chat += [("user", QUESTION), ("agent", DONT_KNOW), ("human", ANSWER), ("user", "Thanks, that worked.")]
    return {"id": cid, "messages": [{"role": r, "text": t} for r, t in chat],
            "metadata": {"escalated": True, "resolved": True, "csat": 3, **meta}}


def helpful(cid: str) -> dict:
    return {"id": cid, "messages": [{"role": "user", "text": "What are your opening hours?"},
                                    {"role": "agent", "text": "We are open 9 to 5, Monday to Friday."}]}


def load(services: Services, tmp_path: Path, rows: list[dict], *, source: str) -> None:
    path = tmp_path / f"{source}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert not import_file(services, path, source=source).bad_lines


def post(harness: Harness) -> list[dict]:
    """The day's digest posted by the real job path; the items' messages as Slack holds them."""
    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    post_digest(harness.services, client, day=DAY, channel=REVIEW, sleep=lambda _: None)
    calls = [c for c in harness.slack.calls_to("chat.postMessage") if c.ok]
    return [harness.message(REVIEW, c.response["ts"]) for c in calls[1:]]


def body(message: dict) -> str:
    return str(message["blocks"][0]["text"]["text"])


@pytest.fixture
def zendesk(services: Services, tmp_path: Path) -> None:
    load(services, tmp_path, [long_conversation("4821", url="https://acme.zendesk.com/agent/tickets/4821")],
         source="zendesk")
    load(services, tmp_path, [helpful("h-1")], source="test")


def test_item_shows_the_turns_around_the_one_that_went_wrong(harness: Harness, zendesk: None) -> None:
    risky = post(harness)[0]
    lines = body(risky).splitlines()
    assert 3 <= len(lines) <= 5  # the title, then two to four turns
    link = "<https://acme.zendesk.com/agent/tickets/4821|Zendesk #4821>"  # from the conversation's metadata
    assert lines[0] == f"*1.* {link} · _The agent said it didn't know_"  # one reason: the strongest
    assert lines[1] == f"*Customer:* {QUESTION}"
    assert lines[2] == f":warning: *Agent:* {DONT_KNOW}"  # the turn that went wrong, marked
    assert lines[3] == f"*Teammate:* {ANSWER}"
    assert FIRST not in texts(risky) and "mtrag" not in texts(risky)
    labels = [e["text"]["text"] for b in risky["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == [":books: Knowledge gap", ":white_check_mark: Looks good", "Show the whole conversation"]


def test_show_the_whole_conversation_opens_every_turn(harness: Harness, zendesk: None) -> None:
    risky = post(harness)[0]
    assert harness.click(REVIEW, risky["ts"], ActionId.SHOW_CONVERSATION).status == 200  # signed block_actions
    view = harness.slack.wait_for("views.open", 1)[-1].json_param("view")
    assert view["callback_id"] == ViewId.CONVERSATION
    whole = texts(view)
    assert "10 turns" in whole
    assert all(text in whole for text in (FIRST, QUESTION, "part 0", "part 1", DONT_KNOW, "Thanks, that worked."))


def test_random_share_says_so_and_references_link_through_the_template(  # type: ignore[no-untyped-def]
    harness: Harness, services: Services, tmp_path: Path
) -> None:
    services.settings.conversation_url_template = "https://support.example.com/tickets/{id}?from={source}"
    services.settings.random_share = 1.0
    load(services, tmp_path, [helpful("ab 12/x")], source="helpscout")
    (item,) = post(harness)
    title = body(item).splitlines()[0]
    assert title == ("*1.* <https://support.example.com/tickets/ab%2012%2Fx?from=helpscout|Help Scout · ab 12/x>"
                     " · _Random sample_")
    assert ":warning:" not in body(item)  # a random pick is not marked as gone wrong


def test_customer_text_in_an_item_stays_escaped_and_redacted(
    harness: Harness, services: Services, tmp_path: Path
) -> None:
    row = long_conversation("T-9")
    row["messages"][6]["text"] = "<!channel> my card 4111-1111-1111-1111, email jo@example.com: " + QUESTION
    load(services, tmp_path, [row], source="test")
    text = body(post(harness)[0])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "4111-1111-1111-1111" not in text and "jo@example.com" not in text


def test_the_demo_digest_is_compact(harness: Harness, services: Services) -> None:
    """The default demo digest (8 conversations): before this change about 12,500 characters of text."""
    services.settings.digest_size = 8
    demo = Path(__file__).resolve().parents[2] / "bot" / "demo_data" / "conversations.jsonl"
    import_file(services, demo, source="demo")
    items = post(harness)
    assert len(items) == 8
    header = texts(harness.slack.calls_to("chat.postMessage")[0].blocks)
    total = len(header) + sum(len(texts(m["blocks"])) for m in items)
    assert total < 5000
    for item in items:
        assert len(body(item).splitlines()) <= 5 and len(body(item)) <= 1200
        assert body(item).split("\n")[0].startswith(f"*{items.index(item) + 1}.* mtrag · ")
    reasons = [body(m).splitlines()[0].rsplit(" · ", 1)[1] for m in items]
    assert reasons.count("_Random sample_") == 2 and "_The agent said it didn't know_" in reasons
