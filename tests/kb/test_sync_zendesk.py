"""Help-centre sync from Zendesk, against a local fake of its article APIs (`tests/support/external_kbs.py`):
every article of every synced locale (pages), Retry-After honoured, drafts and deleted articles out of search,
the incremental cursor kept in the database across restarts, HTML turned into Markdown."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.kb.sync import sync
from bot.services import Services
from storage.models import Article, SourceCursor
from tests.support.external_kbs import RETRY_AFTER, external_kb, reader

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
REFUND_HTML = ("<h2>Refunds</h2><p>Refunds take <strong>5 business days</strong>.</p>"
               "<table><tr><th>Method</th><th>Days</th></tr><tr><td>Card</td><td>5</td></tr></table>")


def run(services: Services, rd, *, full: bool = False):
    return sync(services.kb, services.session, rd, clock=lambda: NOW, full=full)


def synced(services: Services) -> dict[tuple[str | None, str | None], Article]:
    with services.session() as s:
        rows = s.scalars(select(Article).where(Article.external_source == "zendesk"))
        out = {(a.external_id, a.locale): a for a in rows}
        s.expunge_all()
        return out


def test_every_article_and_locale_is_imported_through_pages_and_a_429(services: Services) -> None:
    sleeps: list[float] = []
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        refund = kb.seed("Refund times", REFUND_HTML, label_names=["billing", "refunds"],
                         translations={"fr": {"title": "Délais de remboursement", "body": "<p>5 jours ouvrés.</p>"}})
        for i in range(3):
            kb.seed(f"Shipping zone {i}", f"<p>Zone {i} ships in {i + 2} days.</p>")
        kb.throttle = 1
        report = run(services, reader("zendesk", sleep=sleeps.append, locales="en-us,fr", source_page_size=2))
    assert sleeps == [RETRY_AFTER]  # the 429's Retry-After, then the same page again
    assert (report.created, report.full, report.pages) == (5, True, 4)  # 2 + 1 (en-us), 1 (fr), the end
    articles = synced(services)
    en, fr = articles[(refund, "en-us")], articles[(refund, "fr")]  # one KB article per locale
    assert en.title == "Refund times" and en.tags == ["billing", "refunds"] and en.external_url.endswith(refund)
    assert "## Refunds" in en.body and "**5 business days**" in en.body and "| Card | 5 |" in en.body
    assert "<" not in en.body  # converted, not escaped into visible tags
    assert fr.title == "Délais de remboursement" and fr.slug == "délais-de-remboursement"
    assert services.kb.search("refund business days", 3)[0].article_id == en.id


def test_incremental_syncs_only_changes_and_the_cursor_survives_a_restart(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        first = kb.seed("Refund times", REFUND_HTML)
        gone = kb.seed("Old promo", "<p>Use code SPRING for 10% off.</p>")
        drafted = kb.seed("Gift cards", "<p>Gift cards never expire.</p>")
        assert run(services, reader("zendesk")).created == 3
        with services.session() as s:
            cursor = s.get(SourceCursor, "kb-sync:zendesk").cursor
        assert '"since"' in cursor and '"full_at"' in cursor
        kb.edit(first, body="<p>Refunds take <em>3</em> business days.</p>")
        kb.edit(drafted, draft=True)
        kb.delete(gone)
        again = run(services, reader("zendesk"))  # a new reader: only the database remembers where it stopped
        assert not again.full and (again.updated, again.removed, again.created) == (1, 1, 0)
        assert kb.requests == [] and again.pages == 2  # two changes, two a page: a second, empty page
        articles = synced(services)
        assert articles[(first, "en-us")].body == "Refunds take *3* business days."
        assert articles[(first, "en-us")].version == 2
        assert articles[(drafted, "en-us")].withdrawn_at is not None
        assert articles[(gone, "en-us")].withdrawn_at is None  # a deletion needs a full pass to be seen
        full = run(services, reader("zendesk"), full=True)
        assert full.full and full.removed == 1 and full.unchanged == 1
    articles = synced(services)
    assert articles[(gone, "en-us")].withdrawn_at is not None
    hits = {h.article_id for h in services.kb.search("promo code spring gift cards expire", 5)}
    assert articles[(gone, "en-us")].id not in hits and articles[(drafted, "en-us")].id not in hits


def test_an_article_published_again_comes_back_to_search(services: Services) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Gift cards", "<p>Gift cards never expire.</p>")
        run(services, reader("zendesk"))
        kb.edit(ext, draft=True)
        assert run(services, reader("zendesk")).removed == 1
        assert services.kb.search("gift cards expire", 3) == []
        kb.edit(ext, draft=False)
        assert run(services, reader("zendesk")).restored == 1
    assert [h.title for h in services.kb.search("gift cards expire", 3)] == ["Gift cards"]


def test_values_longer_than_their_columns_are_cut_not_fatal(services: Services) -> None:
    """A 400-character title, a 3,000-character link and a 40-character locale made PostgreSQL refuse the page
    (StringDataRightTruncation) and stopped the whole sync; SQLite stored them whole."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        long_one = kb.seed("T" * 400, "<p>Refunds take 5 days.</p>")
        kb.edit(long_one, html_url="https://help.fake/" + "u" * 3000)
        kb.seed("Shipping", "<p>Ships in 2 days.</p>")
        report = run(services, reader("zendesk"))
    assert report.created == 2
    article = synced(services)[(long_one, "en-us")]
    assert article.title == "T" * 300 and article.external_url is None  # a cut link would lead elsewhere
