"""A fix that breaks: the nightly regression job (called as the scheduler calls it) posts in the gap's thread the
broken turn's answer when it passed and now (redacted, escaped), what changed, and three buttons: open the article,
edit and retry (the draft modal), roll back the article that changed. The buttons are the existing actions."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

import bot.jobs as jobs
from bot.blocks.models import RegressionNoticeView
from bot.blocks.notices import build_regression_notice
from bot.domain import GapState
from handlers.ids import ActionId, DraftRef, RollbackRef
from storage.models import Article, Gap
from tests.support.harness import BEN, REVIEW, Harness, find_element, texts, wait

KB_URL = "https://help.acme.test/articles/refunds"


def _verified(harness: Harness, item: Any) -> Gap:
    gap_msg = harness.flag(item)
    harness.reply(item, "note: Refunds reach your card within 5 business days.", user=BEN)
    draft = harness.write_draft(item, gap_msg)
    harness.click(REVIEW, draft["ts"], ActionId.PUBLISH)
    harness.thread_with(item, "replayed after publishing")
    with harness.services.session() as s:
        gap = s.scalars(select(Gap)).one()
        assert gap.state == GapState.VERIFIED and gap.article_id is not None
        return gap


def test_a_broken_fix_is_told_with_before_after_and_three_buttons(harness: Harness, world: dict[str, Any]) -> None:
    item = world["c1"]
    gap = _verified(harness, item)
    services = harness.services
    with services.session() as s:  # the team's KB receipt, and a later edit that loses the fact
        article = s.get_one(Article, gap.article_id)
        article.external_url = KB_URL
        services.kb.save(s, article_id=article.id, title=article.title, body="Contact us about refunds.",
                         author="UCAROL03")
        title = article.title

    client = WebClient(base_url=harness.slack.url, token="xoxb-test")
    assert jobs.regression_job(services, client, now=services.clock()) == 1
    notice = harness.thread_with(item, "regression replay of")
    body = texts(notice)
    assert f"*gap #{gap.id}*" in body and "back to failed" in body
    assert "*When it passed*" in body and "5 business days" in body  # the verified answer
    assert "*Now*" in body and "What changed since it passed: KB changed since last pass" in body
    assert f"<{KB_URL}|" in body

    blocks = notice["blocks"]
    assert find_element(blocks, ActionId.OPEN_LINK)["url"] == KB_URL
    retry = DraftRef.load(find_element(blocks, ActionId.EDIT_AND_RETRY)["value"])
    assert retry.gap_id == gap.id
    rollback = RollbackRef.load(find_element(blocks, ActionId.ROLLBACK)["value"])
    assert (rollback.article_id, rollback.from_version, rollback.to_version) == (gap.article_id, 2, 1)

    harness.click(REVIEW, notice["ts"], ActionId.EDIT_AND_RETRY)  # the draft modal, as on a failed verdict
    wait(lambda: harness.slack.calls_to("views.open"), what="the edit modal")
    harness.click(REVIEW, notice["ts"], ActionId.ROLLBACK)
    harness.thread_with(item, f"rolled article #{gap.article_id} back to version 1")
    with services.session() as s:
        article = s.get_one(Article, gap.article_id)
        assert (article.version, article.title) == (3, title) and "5 business days" in article.body
    assert not harness.slack.rejections


def test_the_notice_escapes_redacts_and_shortens_customer_text() -> None:
    view = RegressionNoticeView(gap_id=7, verdict="fail", question="<!channel> my card 4111 1111 1111 1111?",
                                before="ok " * 2000, after="<@U123> *bold*", fixed_by="U0ANA",
                                article_url="javascript:alert(1)", article_title="Refunds")
    msg = build_regression_notice(view)
    raw = json.dumps([b.to_dict() for b in msg.blocks])
    assert "<!channel>" not in raw and "4111 1111 1111 1111" not in raw and "<@U123>" not in raw
    assert "javascript:" not in raw and "<@U0ANA>" in raw and len(raw) < 6000
    assert [e["action_id"] for b in msg.blocks for e in b.to_dict().get("elements", [])] == []  # no draft/article
