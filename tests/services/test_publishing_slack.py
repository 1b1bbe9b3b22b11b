"""The Publish button under a passing shadow test, through signed Slack requests (`create_app` against the
mock Slack server): a teammate's edit after the test is refused in the thread, nothing goes live; the tested
draft goes live when it is still the latest."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.publishers import public_text
from bot.services import authoring
from handlers.ids import ActionId
from storage.models import Article, Draft, Gap, PublishAttempt
from tests.handlers.conftest import harness, settings, slack, world  # noqa: F401 - the Slack scenario fixtures
from tests.support.harness import BEN, REVIEW, find_element, texts, wait
from tests.support.reliability import count


def shadow_verdict(harness, item) -> dict[str, Any]:  # noqa: F811
    def found() -> dict[str, Any] | None:
        for msg in harness.thread(item):
            if "hadow test" in texts(msg) and ActionId.PUBLISH.value in str(msg.get("blocks")):
                return msg
        return None

    return wait(found, what="the shadow test verdict with a Publish button")


def test_an_edit_after_the_test_is_refused_and_the_tested_draft_goes_live(harness, world) -> None:  # noqa: F811
    item, services = world["c1"], harness.services
    draft_msg = harness.write_draft(item, harness.flag(item))
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    verdict = shadow_verdict(harness, item)
    find_element(verdict["blocks"], ActionId.PUBLISH)
    with services.session() as s:
        gap_id = int(s.scalar(select(Gap.id)))
    articles = count(services, Article)

    edited = authoring.edit_draft(services, gap_id=gap_id, title="Refunds", body="Refunds take 90 days.", user=BEN)
    harness.click(REVIEW, verdict["ts"], ActionId.PUBLISH)
    refusal = harness.thread_with(item, "changed since this test")
    assert "test it again" in texts(refusal)
    assert count(services, Article) == articles and count(services, PublishAttempt) == 0  # nothing went live

    authoring.edit_draft(services, gap_id=gap_id, title=edited.title, body=_tested_body(services, gap_id),
                         user=BEN)  # back to the tested text, then tested again
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    retested = wait(lambda: next((m for m in harness.thread(item)[::-1] if m["ts"] != verdict["ts"]
                                  and "hadow test" in texts(m) and ActionId.PUBLISH.value in str(m.get("blocks"))),
                                 None), what="a second shadow verdict")
    harness.click(REVIEW, retested["ts"], ActionId.PUBLISH)
    wait(lambda: count(services, Article) == articles + 1, what="the tested draft published")
    harness.drain()
    with services.session() as s:
        published = s.scalar(select(PublishAttempt.article_id).where(PublishAttempt.state == "done"))
        # what was tested went live (without the internal offline label and conversation list)
        assert s.get(Article, published).body == public_text(_tested_body(services, gap_id))


def _tested_body(services, gap_id: int) -> str:
    """The first draft's text: the one the first shadow test passed."""
    with services.session() as s:
        return str(s.scalar(select(Draft.body).where(Draft.gap_id == gap_id).order_by(Draft.id)))
