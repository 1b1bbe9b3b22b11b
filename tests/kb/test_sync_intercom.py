"""Help-centre sync from Intercom Articles and from a Markdown folder: pages, translations as their own
articles, 429 with Retry-After, drafts and deleted articles out of search, unchanged articles left alone."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.kb import sync_intercom
from bot.kb.sync import sync
from bot.services import Services
from storage.models import Article
from tests.support.cli import cli_env, run
from tests.support.external_kbs import RETRY_AFTER, external_kb, reader

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def by_key(services: Services, source: str) -> dict[tuple[str | None, str | None], Article]:
    with services.session() as s:
        found = s.scalars(select(Article).where(Article.external_source == source))
        rows = {(a.external_id, a.locale): a for a in found}
        s.expunge_all()
        return rows


def test_intercom_articles_pages_translations_drafts_and_deletions(services: Services, monkeypatch) -> None:
    monkeypatch.setattr(sync_intercom, "PER_PAGE", 2)
    sleeps: list[float] = []
    with external_kb("intercom", now=lambda: 0.0) as kb:
        refund = kb.seed("Refund times", "<p>Refunds take <b>5</b> days.</p>", state="published",
                         default_locale="en", translated_content={"type": "article_translated_content", "de": {
                             "title": "Rückerstattung", "body": "<p>5 Tage.</p>", "state": "published"}})
        promo = kb.seed("Spring promo", "<p>Code SPRING.</p>", state="published")
        draft = kb.seed("Unreleased plan", "<p>Coming soon.</p>", state="draft")
        kb.throttle = 1  # the pass's first list (the collections' names) answers 429: waited out, read again
        first = sync(services.kb, services.session, reader("intercom", sleep=sleeps.append), clock=lambda: NOW)
        assert sleeps == [RETRY_AFTER] and first.created == 3 and first.pages == 2
        rows = by_key(services, "intercom")
        assert rows[(refund, "en")].body == "Refunds take **5** days."
        assert rows[(refund, "de")].title == "Rückerstattung"
        assert (draft, "en") not in rows  # a draft there is not imported
        kb.edit(refund, body="<p>Refunds take <b>3</b> days.</p>")
        kb.delete(promo)
        second = sync(services.kb, services.session, reader("intercom"), clock=lambda: NOW)
    assert (second.updated, second.removed, second.created) == (1, 1, 0)
    rows = by_key(services, "intercom")
    assert rows[(refund, "en")].body == "Refunds take **3** days." and rows[(refund, "en")].version == 2
    assert rows[(refund, "de")].version == 1  # listed, unchanged: left alone
    assert rows[(promo, "en")].withdrawn_at is not None
    assert all(h.article_id != rows[(promo, "en")].id for h in services.kb.search("spring promo code", 5))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def test_kb_sync_markdown_folder_through_the_cli(env: Path) -> None:
    docs = env / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("---\ntitle: Refund times\ntags: [billing]\n---\nRefunds take 5 days.\n")
    (docs / "promo.md").write_text("# Spring promo\n\nUse code SPRING.\n")
    (docs / "plan.md").write_text("---\ntitle: New plan\ndraft: true\n---\nComing soon.\n")
    (docs / "empty.md").write_text("---\ntitle: Nothing yet\n---\n\n")
    first = run("kb", "sync", "markdown", str(docs))
    assert "markdown (full pass): created 2, updated 0, unchanged 0" in first
    assert "skipped 1 (too big, or no title or body): empty" in first  # named, so the docs team can look
    (docs / "empty.md").unlink()
    (docs / "refunds.md").write_text("---\ntitle: Refund times\ntags: [billing]\n---\nRefunds take 3 days.\n")
    (docs / "promo.md").unlink()
    out = run("kb", "sync", "markdown", str(docs))
    assert "created 0, updated 1, unchanged 0, removed from search 1" in out
    assert "Refund times" in run("kb", "search", "refunds days") and "Spring" not in run("kb", "search", "spring code")
