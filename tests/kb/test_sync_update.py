"""End to end, against the fake Zendesk Help Center: sync the help centre, flag a gap whose outline names the
synced article, the docs team edits the article there meanwhile, and the draft is published as an update IN
PLACE (one article there, a new version here) with the article's other facts and that edit intact; nothing
internal reaches the help centre. Also: an edit on the same lines is a conflict (nothing published), and a
person can choose the article a draft updates, or a new article, on the CLI."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.kb.sync import sync
from bot.kb.sync_merge import UpdateConflict
from bot.services import Services, authoring, gaps, publishing
from bot.services.conversations import resolve
from storage.models import Article, Draft
from tests.support.cli import cli_env, run
from tests.support.external_kbs import external_kb, publisher, reader, settings
from tests.support.factories import REFUND_FACT, conversation, load

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
ARTICLE_HTML = ("<p>How long a refund to your credit card takes depends on when the returned item arrives.</p>"
                "<p>Refunds always go back to the card you paid with.</p>"
                "<h2>Contact</h2><p>Call the billing team on weekdays.</p>")
DOCS_EDIT = "<p>Refunds always go back to the card you paid with, never to a gift card.</p>"


@pytest.fixture
def svc(services: Services) -> Services:
    services.settings = services.settings.model_copy(update={"publish_on_fail": "keep"})
    services.integrations = settings()
    return services


def flag_and_draft(svc: Services, tmp_path: Path, kb) -> tuple[int, int]:
    """Sync, flag the refund gap: its outline names the synced article; the draft is that article plus the fact."""
    sync(svc.kb, svc.session, reader("zendesk"), clock=lambda: NOW)
    load(svc, tmp_path, [conversation("c101", gap=True)])
    gap_id = gaps.flag(svc, conversation_id=resolve(svc, "c101"), user="UANA").gap_id
    assert gap_id is not None
    outline = authoring.suggest_outline(svc, gap_id=gap_id, user="UANA")
    with svc.session() as s:
        article = s.scalar(select(Article).where(Article.external_source == "zendesk"))
        assert article is not None and outline.update_article_ids == [article.id]  # the synced article is named
        article_id = article.id
    draft = authoring.write_draft(svc, gap_id=gap_id, user="UANA")
    assert draft.target_article_id == article_id and draft.title == "Refunds to your card"  # its title, kept
    assert "Refunds always go back to the card you paid with." in draft.body and REFUND_FACT in draft.body
    return gap_id, article_id


def test_a_synced_article_is_updated_in_place_keeping_its_facts_and_the_docs_teams_edit(svc, tmp_path) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML, label_names=["billing"])
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        body = kb.articles[ext]["body"]
        kb.edit(ext, body=body.replace("<p>Refunds always go back to the card you paid with.</p>", DOCS_EDIT))
        svc.publisher = publisher("zendesk")
        out = publishing.publish(svc, gap_id=gap_id, user="UANA")
        live = kb.articles[ext]
        sent = [r for r in kb.requests if r[0] in ("POST", "PUT")]
    assert out.article_id == article_id and kb.creates == 0 and len(kb.articles) == 1  # in place, never a second
    assert live["title"] == "Refunds to your card"
    assert "never to a gift card" in live["body"]  # the docs team's edit, kept
    assert "Call the billing team on weekdays." in live["body"]  # the article's other facts, kept
    assert "5 business days" in live["body"]  # and the change
    assert "billing" in live["label_names"]
    for _, _, payload in sent:  # nothing internal reached the help centre
        text = str(payload)
        assert "offline provider" not in text and "conversation c101" not in text and "Sources" not in text
    with svc.session() as s:
        article = s.get(Article, article_id)
        assert article is not None and article.external_id == ext and "never to a gift card" in article.body
        assert article.external_revision == live["updated_at"]  # our own update is not taken for theirs
        assert [v.author for v in article.versions] == ["sync:zendesk", "sync:zendesk", "UANA"]


def test_an_edit_on_the_same_lines_is_a_conflict_and_nothing_is_published(svc, tmp_path) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML)
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        with svc.session() as s:  # the draft rewrites the first line; so does the docs team
            draft = s.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))
            assert draft is not None
            draft.body = draft.body.replace("depends on when", "is 5 business days after")
        kb.edit(ext, body=ARTICLE_HTML.replace("depends on when", "is 10 days after"))
        svc.publisher = publisher("zendesk")
        with pytest.raises(UpdateConflict, match="edited in the help centre") as err:
            publishing.publish(svc, gap_id=gap_id, user="UANA")
        assert "is 10 days after" in kb.articles[ext]["body"] and kb.creates == 0
    assert err.value.conflicts and "is 10 days after" in " ".join(err.value.conflicts[0].theirs)
    with svc.session() as s:  # the help centre's text is the latest version here: redraft from it
        assert "is 10 days after" in (s.get(Article, article_id).body or "")


def test_an_edit_a_sync_already_brought_in_is_still_kept_at_publish(svc, tmp_path) -> None:
    """The docs team edits the article, the scheduled sync stores it, then the (older) draft is published: it is
    merged with their edit, never published over it."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML, label_names=["billing"])
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        body = kb.articles[ext]["body"]
        kb.edit(ext, body=body.replace("<p>Refunds always go back to the card you paid with.</p>", DOCS_EDIT))
        sync(svc.kb, svc.session, reader("zendesk"), clock=lambda: NOW + dt.timedelta(hours=1))
        svc.publisher = publisher("zendesk")
        publishing.publish(svc, gap_id=gap_id, user="UANA")
        live = kb.articles[ext]
    assert "never to a gift card" in live["body"] and "5 business days" in live["body"]
    assert "Call the billing team on weekdays." in live["body"]


def test_publishing_the_same_draft_after_a_conflict_is_refused_again(svc, tmp_path) -> None:
    """After a conflict their text is stored here: publishing the unchanged draft again must not overwrite it."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML)
        gap_id, _ = flag_and_draft(svc, tmp_path, kb)
        with svc.session() as s:
            draft = s.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))
            assert draft is not None
            draft.body = draft.body.replace("depends on when", "is 5 business days after")
        kb.edit(ext, body=ARTICLE_HTML.replace("depends on when", "is 10 days after"))
        svc.publisher = publisher("zendesk")
        for _ in range(2):
            with pytest.raises(UpdateConflict):
                publishing.publish(svc, gap_id=gap_id, user="UANA")
        assert "is 10 days after" in kb.articles[ext]["body"] and kb.creates == 0


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def test_a_person_chooses_the_article_a_draft_updates_or_a_new_one(env: Path) -> None:
    data = env / "c.jsonl"
    data.write_text(__import__("json").dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    (env / "kb").mkdir()
    (env / "kb" / "orders.md").write_text("---\ntitle: Order status\nslug: order-status\n---\nOpen Orders.\n")
    run("kb", "import", str(env / "kb"))
    run("gaps", "flag", "c1")
    run("draft", "1")
    assert "updates article #1" in run("gaps", "target", "1", "--article", "order-status")
    assert "Open Orders." in run("draft", "1")  # the draft now starts from the chosen article
    assert "is a new article" in run("gaps", "target", "1", "--new")
    assert "Open Orders." not in run("draft", "1")
    run("gaps", "target", "1", code=2)  # neither --article nor --new
