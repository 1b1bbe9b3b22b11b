"""Stored text is what people wrote: a thread reply sent as Slack markup (`&gt;`, `&amp;`, `<@U…>`,
`<url|label>`) is stored decoded, so the published article reads as typed and the HTML a webhook receives
is escaped exactly once."""

from __future__ import annotations

import json

import responses
from sqlalchemy import select

from bot.publishers.webhook import WebhookPublisher
from bot.services.insight import gap_detail
from bot.slack.text import decode_message
from handlers.ids import ActionId
from storage.models import Article, Gap
from tests.support.harness import BEN, REVIEW, Harness, wait

HOOK = "https://hooks.example/flywheel"
# What Slack delivers when Ben types:  Go to Settings > Billing & Plans … ask @Ana … <the billing guide link>
RAW = ("Go to Settings &gt; Billing &amp; Plans to change the card; if 3 &lt; 5 ask <@UANA0001>. "
       "See <https://help.acme.test/billing?a=1&amp;b=2|the billing guide>.")
WRITTEN = ("Go to Settings > Billing & Plans to change the card; if 3 < 5 ask @Ana Lima. "
           "See [the billing guide](https://help.acme.test/billing?a=1&b=2).")


def test_decode_message_undoes_only_slack_markup() -> None:
    names = {"UANA0001": "Ana Lima"}.get
    assert decode_message(RAW, user_name=names) == WRITTEN
    assert decode_message("<@UNKNOWN1> <#C1|general> <!here> <https://x.test> &amp;lt; &copy;", user_name=names) == \
        "@UNKNOWN1 #general @here https://x.test &lt; &copy;"  # a typed "&lt;" and "&copy;" stay as typed
    assert decode_message("<mailto:help@acme.test|help@acme.test> <!subteam^S1|@support>") == \
        "help@acme.test @support"


@responses.activate
def test_a_reply_with_slack_markup_is_published_as_written(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    responses.add(responses.POST, HOOK, status=204)
    harness.services.publisher = WebhookPublisher(HOOK, "webhook-secret-0123456789", sleep=lambda s: None)
    harness.slack.add_user("UANA0001", "Ana Lima")
    item = world["c1"]
    gap_msg = harness.flag(item)
    with harness.services.session() as s:
        gap_id = wait(lambda: s.scalar(select(Gap.id)), what="a gap")

    harness.reply(item, "note: " + RAW, user=BEN)
    wait(lambda: gap_detail(harness.services, gap_id).notes, what="a note")
    assert gap_detail(harness.services, gap_id).notes == [(BEN, WRITTEN)]
    assert len(harness.slack.calls_to("users.info")) == 1

    draft_msg = harness.write_draft(item, gap_msg)
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    harness.thread_with(item, "replayed after publishing")

    with harness.services.session() as s:
        body = s.scalars(select(Article.body).order_by(Article.id.desc())).first()
    assert body is not None and "Settings > Billing & Plans" in body and "@Ana Lima" in body
    assert "&gt;" not in body and "&amp;" not in body and "<@" not in body
    sent = json.loads(responses.calls[0].request.body)["article"]
    assert sent["body_markdown"] == body
    html = sent["body_html"]
    assert "Settings &gt; Billing &amp; Plans" in html and "3 &lt; 5 ask @Ana Lima" in html
    assert '<a href="https://help.acme.test/billing?a=1&amp;b=2">the billing guide</a>' in html
    assert "&amp;gt;" not in html and "&amp;amp;" not in html  # escaped once, not twice
    assert not harness.slack.rejections
