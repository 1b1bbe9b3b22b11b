"""A publish refused because the docs team edited the same lines in the help centre (the fake Zendesk): the thread
shows it as its own message (the conflicting lines, theirs against ours, escaped and shortened, and *Rewrite from the
help centre*), never as the generic publish error, and nothing reaches the help centre."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.kb.sync import sync
from bot.services import Services, publishing
from bot.services.help_centre import ArticleConflict
from handlers import present
from handlers.ids import ActionId, GapRef
from storage.models import Article, Draft, Gap
from tests.support.external_kbs import FakeKB, external_kb, publisher, reader, settings
from tests.support.harness import REVIEW, Harness, find_element, texts

ARTICLE_HTML = ("<p>How long a refund to your credit card takes depends on when the returned item arrives.</p>"
                "<p>Refunds always go back to the card you paid with.</p>"
                "<h2>Contact</h2><p>Call the billing team on weekdays.</p>")
THEIRS = "is 10 days &amp; more &lt;b&gt; after"  # HTML in the help centre: "10 days & more <b>" as text


@pytest.fixture
def zendesk(services: Services) -> Iterator[FakeKB]:
    services.integrations = settings()
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        yield kb


def _conflicting_draft(harness: Harness, world, kb: FakeKB) -> tuple[dict, int, str]:
    """Sync the help centre, flag c1 (its outline names the synced article), draft it; then the draft and the docs
    team both rewrite the article's first line."""
    svc = harness.services
    ext = kb.seed("Refunds to your card", ARTICLE_HTML)
    sync(svc.kb, svc.session, reader("zendesk"), clock=svc.clock)
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    with svc.session() as s:
        draft = s.scalars(select(Draft)).one()
        assert draft.target_article_id is not None  # an update of the synced article
        draft.body = draft.body.replace("depends on when", "is 5 business days after")
        gap_id = s.scalars(select(Gap.id)).one()
    kb.edit(ext, body=ARTICLE_HTML.replace("depends on when", THEIRS))
    svc.publisher = publisher("zendesk")
    return draft_msg, gap_id, ext


def test_the_publish_button_shows_the_conflict_as_its_own_message(harness: Harness, world, zendesk) -> None:
    draft_msg, gap_id, ext = _conflicting_draft(harness, world, zendesk)
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    msg = harness.thread_with(world["c1"], "was edited in the help centre")
    shown = texts(msg)
    assert "10 days &amp; more &lt;b&gt;" in shown and "5 business days after" in shown  # theirs vs ours, escaped
    rewrite = find_element(msg["blocks"], ActionId.WRITE_DRAFT)
    assert GapRef.load(rewrite["value"]).gap_id == gap_id
    assert "Something went wrong" not in shown and "Retry" not in shown  # not the generic publish error
    assert "10 days & more <b>" in zendesk.articles[ext]["body"] or THEIRS in zendesk.articles[ext]["body"]


def test_the_conflict_message_from_a_real_refused_publish(harness: Harness, world, zendesk) -> None:
    """The same refusal through the service, rendered as the thread will show it (`present.failure_message`)."""
    _, gap_id, ext = _conflicting_draft(harness, world, zendesk)
    with pytest.raises(ArticleConflict) as refused:
        publishing.publish(harness.services, gap_id=gap_id, user="UANA0001")
    assert zendesk.creates == 0 and "depends on when" not in zendesk.articles[ext]["body"]  # theirs kept
    msg = present.failure_message(refused.value, retry=ActionId.PUBLISH, gap_id=gap_id, draft_id=None).as_kwargs()
    shown = texts(msg)
    assert "|Refunds to your card> was edited in the help centre* on the lines this draft changes (1 place)" in shown
    assert "*Help centre now*" in shown and "10 days &amp; more &lt;b&gt;" in shown  # escaped
    assert "*This draft*" in shown and "is 5 business days after" in shown
    assert "_was:_" in shown and "depends on when" in shown  # the lines as the draft's starting point had them
    rewrite = find_element(msg["blocks"], ActionId.WRITE_DRAFT)
    assert rewrite["text"]["text"].endswith("Rewrite from the help centre")
    assert GapRef.load(rewrite["value"]).gap_id == gap_id
    assert not [b for b in msg["blocks"] for e in b.get("elements", []) if e.get("action_id") == ActionId.RETRY]
    with harness.services.session() as s:  # their text is the article's latest version here: rewrite starts from it
        article = s.get_one(Article, refused.value.article_id)
        assert "10 days & more" in article.body

    harness.click(REVIEW, _post(harness, msg), ActionId.WRITE_DRAFT)  # the button redrafts from their text
    redraft = harness.thread_with(world["c1"], "revision 2")
    assert "10 days &amp; more" in texts(redraft)


def _post(harness: Harness, msg: dict) -> str:
    """Put the rendered message in the thread (as the flow will) so its button can be pressed."""
    from slack_sdk import WebClient

    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    with harness.services.session() as s:
        gap = s.scalars(select(Gap)).one()
        channel, thread_ts = gap.thread_channel, gap.thread_ts
    return str(client.chat_postMessage(channel=channel, thread_ts=thread_ts, **msg)["ts"])


def test_a_long_conflict_is_shortened() -> None:
    from bot.kb.sync_merge import Conflict, UpdateConflict

    many = [Conflict(base=["old"], ours=["x" * 900], theirs=["y" * 900]) for _ in range(5)]
    msg = present.failure_message(UpdateConflict("refused", conflicts=many, article_id=4), retry=None, gap_id=2,
                                  draft_id=None).as_kwargs()
    shown = texts(msg)
    assert "“article #4”" in shown and "(5 places)" in shown and "…and 2 more." in shown
    assert "x" * 301 not in shown and "y" * 301 not in shown
