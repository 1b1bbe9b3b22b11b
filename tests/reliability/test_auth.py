"""AuthN/AuthZ: a missing, wrong or stale signature (or a tampered body) is 401 and nothing is done, for
events, interactivity and commands; publish and dismiss are admin-only on every Slack path (draft button,
retry button, dismiss button), with FLYWHEEL_ADMINS or a user group; secrets never show."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.blocks import build_error_message
from bot.blocks.models import ErrorView
from bot.slack.client import make_web_client
from bot.slack.groups import make_group_resolver
from handlers.ids import ActionId
from storage.models import Article, Gap, ProcessedEvent
from tests.support.harness import ANA, BEN, REVIEW, SECRET, Harness, find_element, texts, wait
from tests.support.reliability import BOT_TOKEN, count, reaction
from tests.support.signing import command_fields, command_request, event_request, interaction_request

ADMIN = "UADMIN001"


def click_payload(harness: Harness, ts: str, action_id: str, user: str) -> dict[str, Any]:
    msg = harness.slack.messages[(REVIEW, ts)]
    el = find_element(msg["blocks"], action_id)
    return {"type": "block_actions", "user": {"id": user}, "api_app_id": "A111", "token": "t",
            "trigger_id": f"trig.{uuid.uuid4().hex}", "team": {"id": "T111"}, "channel": {"id": REVIEW},
            "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW}, "message": msg,
            "response_url": harness.slack.webhook_url("a"), "state": {"values": {}},
            "actions": [{"action_id": action_id, "type": "button", "value": el.get("value"), "action_ts": "1.2"}]}


def build(kind: str, harness: Harness, item: Any, *, secret: str = SECRET, timestamp: int | None = None) -> Any:
    if kind == "event":
        return event_request(reaction(item, user=ANA), secret=secret, timestamp=timestamp)
    if kind == "interaction":
        return interaction_request(click_payload(harness, item.ts, ActionId.FLAG, ANA), secret=secret,
                                   timestamp=timestamp)
    fields = command_fields("digest now", user_id=ANA, channel_id=REVIEW, response_url=harness.slack.webhook_url())
    return command_request(fields, secret=secret, timestamp=timestamp)


@pytest.mark.parametrize("kind", ["event", "interaction", "command"])
@pytest.mark.parametrize("fault", ["missing", "wrong", "stale", "tampered", "none"])
def test_unsigned_requests_are_refused_and_do_nothing(harness, world, tally, kind, fault) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    before, posts = len(harness.slack.calls), len(harness.slack.calls_to("chat.postMessage"))
    if fault == "wrong":
        signed = build(kind, harness, item, secret="not-the-signing-secret")
    elif fault == "stale":
        signed = build(kind, harness, item, timestamp=int(time.time()) - 301)  # Slack's window is 5 minutes
    else:
        signed = build(kind, harness, item)
    if fault == "missing":
        signed.headers.pop("x-slack-signature")
        signed.headers.pop("x-slack-request-timestamp")
    if fault == "tampered":
        signed = type(signed)(signed.body.replace(ANA, ADMIN), signed.headers)
    status = harness.dispatch(signed).status
    if fault == "none":  # the control: the same request, correctly signed, does act
        assert status == 200
        wait(lambda: count(harness.services, Gap) or len(harness.slack.calls_to("chat.postMessage")) > posts,
             what="the request's effect")
        return
    tally.fault(f"signature {fault}")
    assert status == 401
    time.sleep(0.3)  # a listener that (wrongly) started would have acted by now
    harness.drain()
    assert count(harness.services, Gap) == 0 and count(harness.services, ProcessedEvent) == 0
    assert [c.method for c in harness.slack.calls[before:]] == []  # not even auth.test


@pytest.fixture
def admins(settings, services, make_harness):  # type: ignore[no-untyped-def]
    services.settings = settings.model_copy(update={"admins": ADMIN})
    return make_harness(services)


def test_a_non_admin_cannot_publish_from_any_button(admins, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    draft_msg = admins.write_draft(item, admins.flag(item))
    with admins.services.session() as s:
        gap_id = s.scalar(select(Gap.id))
    articles = count(admins.services, Article)
    retry = build_error_message(ErrorView(message="Publish failed", retry_action=ActionId.PUBLISH, gap_id=gap_id))
    retry_ts = make_web_client(admins.services.settings).chat_postMessage(
        channel=REVIEW, thread_ts=item.ts, **retry.as_kwargs())["ts"]

    admins.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH, user=ANA)
    admins.click(REVIEW, retry_ts, ActionId.RETRY, user=BEN)
    tally.fault("non-admin publish", 2)
    shown = admins.slack.wait_for("chat.postEphemeral", 2)
    assert {c.params["user"] for c in shown} == {ANA, BEN}
    assert all("Only Flywheel admins may publish" in texts(c.blocks) for c in shown)
    time.sleep(0.3)
    assert not any("Publishing" in t for t in (texts(m) for m in admins.thread(item)))  # nothing posted
    assert count(admins.services, Article) == articles
    with admins.services.session() as s:
        assert s.get(Gap, gap_id).state == "drafting"

    admins.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH, user=ADMIN)  # the control: an admin may
    admins.thread_with(item, "replayed after publishing")
    admins.drain()
    assert tally.expect("articles", expected=articles + 1, got=count(admins.services, Article)) == articles + 1


def test_a_non_admin_cannot_dismiss(admins, world, tally) -> None:  # type: ignore[no-untyped-def]
    gap_msg = admins.flag(world["c1"])
    admins.click(REVIEW, gap_msg["ts"], ActionId.DISMISS, user=ANA)
    tally.fault("non-admin dismiss")
    assert "Only Flywheel admins may dismiss" in texts(admins.slack.wait_for("chat.postEphemeral")[0].blocks)
    admins.drain()
    with admins.services.session() as s:
        assert s.query(Gap).one().state == "open"


def test_admin_group_members_are_admins_with_a_cached_lookup(settings, services, slack, world, tally) -> None:  # type: ignore[no-untyped-def]
    slack.usergroups["S0ADMINS"] = [BEN]
    services.settings = settings.model_copy(update={"admin_group": "S0ADMINS"})
    harness = Harness(create_app(services.settings, services, client=make_web_client(settings)), slack, services)
    gap_msg = harness.flag(world["c1"])
    harness.click(REVIEW, gap_msg["ts"], ActionId.DISMISS, user=ANA)
    assert "Only Flywheel admins" in texts(slack.wait_for("chat.postEphemeral")[0].blocks)
    harness.click(REVIEW, gap_msg["ts"], ActionId.DISMISS, user=BEN)
    wait(lambda: count(services, Gap, Gap.state == "dismissed"), what="the dismissal by a group member")
    harness.drain()
    assert len(slack.calls_to("usergroups.users.list")) == 1  # the second check came from the cache


def test_an_unresolvable_group_fails_closed(slack, settings, caplog, tally) -> None:  # type: ignore[no-untyped-def]
    clock = [0.0]
    resolve = make_group_resolver(make_web_client(settings), ttl=60, clock=lambda: clock[0])
    caplog.set_level(logging.WARNING)
    tally.fault("usergroups.users.list fails")
    assert resolve("S0MISSING") == frozenset()
    assert any("no_such_subteam" in r.getMessage() for r in caplog.records)
    slack.usergroups["S0ADMINS"] = [BEN]
    assert resolve("S0ADMINS") == {BEN}
    slack.usergroups["S0ADMINS"] = [ANA]
    assert resolve("S0ADMINS") == {BEN}  # cached
    clock[0] = 61
    assert resolve("S0ADMINS") == {ANA}  # expired: looked up again


def test_secrets_never_show_in_reprs_or_dumps(settings, services, caplog) -> None:  # type: ignore[no-untyped-def]
    secret = type(settings.slack_bot_token)("sk-proj-secretkey0123456789")
    keyed = settings.model_copy(update={"openai_api_key": secret})
    caplog.set_level(logging.DEBUG)
    create_app(keyed, services, client=make_web_client(keyed))
    shown = " ".join([repr(keyed), str(keyed), keyed.model_dump_json(), str(keyed.model_dump()), repr(services),
                      caplog.text])
    for secret in (BOT_TOKEN, SECRET, "sk-proj-secretkey0123456789"):
        assert secret not in shown
    assert "**********" in repr(keyed)
