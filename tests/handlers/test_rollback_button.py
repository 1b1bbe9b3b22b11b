"""The Rollback button on a verdict, through the real app: publishing a new version of an article shows
"Roll back to v1"; a click puts v1's text back as v3 (history kept), says so in the thread and is audited on
the gap; a second click on the same, now stale, verdict is refused."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from sqlalchemy import select

from handlers.ids import ActionId
from storage.models import Article, ArticleVersion, AuditEvent, Draft, Gap
from tests.support.harness import ANA, REVIEW, Harness, find_element, texts, wait

OLD_TEXT = "Refunds take 30 days."


def test_rollback_button_restores_the_previous_version(harness: Harness, world) -> None:
    with harness.services.session() as s:
        article, _ = harness.services.kb.save(s, title="Refunds", body=OLD_TEXT, author="U0")
        article_id = article.id
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    with harness.services.session() as s:  # the outline said: update the existing article
        draft = s.scalars(select(Draft)).one()
        draft.target_article_id = article_id

    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    button = find_element(verdict["blocks"], ActionId.ROLLBACK)
    assert button["text"]["text"] == ":rewind: Roll back to v1" and button["confirm"]["confirm"]["text"] == "Roll back"

    harness.click(REVIEW, verdict["ts"], ActionId.ROLLBACK)
    notice = harness.thread_with(item, "rolled article")
    assert f"<@{ANA}> rolled article #{article_id} back to version 1 (now version 3" in texts(notice)
    with harness.services.session() as s:
        row = s.get(Article, article_id)
        assert row is not None and (row.version, row.body) == (3, OLD_TEXT)
        v3 = s.scalars(select(ArticleVersion).where(ArticleVersion.article_id == article_id,
                                                    ArticleVersion.version == 3)).one()
        assert (v3.reverted_from, v3.author) == (1, ANA)
        gap = s.scalars(select(Gap)).one()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "article-rolled-back")).one()
        assert (event.entity, event.entity_id, event.actor) == ("gap", gap.id, ANA)

    harness.click(REVIEW, verdict["ts"], ActionId.ROLLBACK)  # the same verdict again: it is about v2, now gone
    shown = wait(lambda: [c for c in harness.slack.calls_to("chat.postEphemeral")
                          if "changed since this verdict" in texts(c.params)], what="the refusal")
    assert "version 3 now" in texts(shown[-1].params)
    with harness.services.session() as s:
        assert s.get(Article, article_id).version == 3  # type: ignore[union-attr]


def test_no_rollback_button_on_a_new_article_or_a_shadow_test(harness: Harness, world) -> None:
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    shadow = harness.thread_with(item, "shadow test of the draft")
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    for msg in (shadow, verdict):
        assert ActionId.ROLLBACK.value not in str(msg["blocks"])
