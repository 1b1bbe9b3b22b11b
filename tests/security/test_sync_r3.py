"""Round 3: huge help-centre articles in the sync (through the Zendesk fake). A 4 MB article took ~6 s to convert
to Markdown, holding the sync's lock; HTML over `bot.integrations.html.MAX_HTML_CHARS` is now skipped, named in
the sync report, and the rest of the pass is stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.integrations.html import MAX_HTML_CHARS, html_to_markdown, too_large
from bot.kb.sync import sync
from bot.services import Services
from storage.models import Article
from tests.support.external_kbs import external_kb, reader

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
PARA = "<p>Refunds take <b>5 days</b> to reach <a href='https://acme.test/r'>your card</a>.</p>\n"


def _titles(services: Services) -> list[str]:
    with services.session() as s:
        return list(s.scalars(select(Article.title).where(Article.external_source == "zendesk").order_by(Article.id)))


def test_a_4_mb_article_is_skipped_and_named_and_the_pass_goes_on(services: Services) -> None:
    huge = PARA * (4_000_000 // len(PARA))
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        kb.seed("Refund times", PARA)
        big = kb.seed("The whole policy, pasted", huge)
        kb.seed("Shipping", "<p>Ships in 2 days.</p>")
        report = sync(services.kb, services.session, reader("zendesk"), clock=lambda: NOW, full=True)
    assert (report.created, report.skipped) == (2, [big])
    assert _titles(services) == ["Refund times", "Shipping"]


def test_an_article_that_grows_past_the_cap_keeps_its_last_text(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refund times", PARA)
        sync(services.kb, services.session, reader("zendesk"), clock=lambda: NOW, full=True)
        kb.edit(ext, body=PARA * (MAX_HTML_CHARS // len(PARA) + 1))
        report = sync(services.kb, services.session, reader("zendesk"), clock=lambda: NOW, full=True)
    assert report.skipped == [ext] and report.updated == 0
    with services.session() as s:
        article = s.scalars(select(Article).where(Article.external_id == ext)).one()
        assert article.withdrawn_at is None and "5 days" in article.body and len(article.body) < 200


def test_the_cap_is_on_the_html_not_the_text() -> None:
    at_cap = PARA * (MAX_HTML_CHARS // len(PARA))
    assert not too_large(at_cap) and html_to_markdown(at_cap).startswith("Refunds take **5 days**")
    assert too_large(at_cap + PARA) and html_to_markdown(at_cap + PARA) == ""
    assert not too_large(None) and html_to_markdown(None) == ""
