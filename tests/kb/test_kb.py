"""The KB on a real database: versions, BM25 / full-text search, shadow search, Markdown round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.errors import InvalidInput, NotFound
from bot.kb import ExtraDoc
from bot.kb.markdown import export_folder, import_folder, parse_markdown
from storage.models import Article, ArticleVersion


def _seed(services) -> int:  # type: ignore[no-untyped-def]
    with services.session() as s:
        a, _ = services.kb.save(s, title="Refund policy", body="Refunds are issued within 14 days.", tags=["billing"])
        services.kb.save(s, title="Shipping", body="Standard shipping takes five business days.")
        services.kb.save(s, title="Passwords", body="Reset your password from the login page.")
        return a.id


def test_versions_are_kept_and_unchanged_saves_add_nothing(services) -> None:
    aid = _seed(services)
    with services.session() as s:
        rev = services.kb.revision(s)
        _, changed = services.kb.save(s, article_id=aid, title="Refund policy",
                                      body="Refunds are issued within 14 days.", tags=["billing"])
        assert not changed and services.kb.revision(s) == rev
        art, changed = services.kb.save(s, article_id=aid, title="Refund policy", body="Refunds take 30 days.",
                                        tags=["billing"], author="U1", gap_id=7)
        assert changed and art.version == 2 and services.kb.revision(s) > rev
        versions = s.scalars(select(ArticleVersion).where(ArticleVersion.article_id == aid)
                             .order_by(ArticleVersion.version)).all()
        assert [v.body for v in versions] == ["Refunds are issued within 14 days.", "Refunds take 30 days."]
        assert versions[1].author == "U1" and versions[1].gap_id == 7
    hits = services.kb.search("how many days for refunds")
    assert hits[0].article_id == aid and hits[0].body == "Refunds take 30 days."


def test_search_ranks_the_relevant_article_first(services) -> None:
    _seed(services)
    assert services.kb.search("reset password")[0].title == "Passwords"
    assert services.kb.search("shipping business days")[0].title == "Shipping"
    assert services.kb.search("the of and") == []  # only stopwords
    services.kb.search('"; DROP TABLE articles; --')  # must not raise
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 3  # hostile query did nothing


def test_shadow_search_sees_the_draft_and_nobody_else_does(services) -> None:
    aid = _seed(services)
    extra = [ExtraDoc(title="Gift cards", body="Gift cards never expire."),
             ExtraDoc(title="Refund policy", body="Refunds are issued within 3 days.", replaces=aid)]
    with services.kb.shadow(extra) as shadow:
        assert shadow.search("do gift cards expire")[0].title == "Gift cards"
        refund = [h for h in shadow.search("refunds days") if h.title == "Refund policy"]
        assert refund and refund[0].body == "Refunds are issued within 3 days."
        assert not any(h.title == "Gift cards" for h in services.kb.search("gift cards expire"))
    assert not any(h.title == "Gift cards" for h in services.kb.search("gift cards expire"))
    assert services.kb.search("refunds")[0].body == "Refunds are issued within 14 days."


def test_bad_articles_and_unknown_refs(services) -> None:
    with services.session() as s, pytest.raises(InvalidInput):
        services.kb.save(s, title="  ", body="x")
    with services.session() as s, pytest.raises(NotFound):
        services.kb.get(s, "no-such-slug")


def test_markdown_import_export_round_trip(services, tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "refunds.md").write_text("---\ntitle: Refunds\ntags: [billing]\n---\nRefunds take 5 days.\n")
    (src / "shipping.md").write_text("# Shipping\n\nShipping takes a week.\n")
    (src / "broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (src / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    with services.session() as s:
        report = import_folder(services.kb, s, src, author="U1")
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert sorted(e.split(":")[0] for e in report.errors) == ["broken.md", "latin1.md"]
    with services.session() as s:
        again = import_folder(services.kb, s, src, author="U1")
    assert (again.created, again.unchanged) == (0, 2)
    out = tmp_path / "out"
    with services.session() as s:
        assert export_folder(services.kb, s, out) == 2
    meta, body = parse_markdown((out / "refunds.md").read_text(), fallback_title="x")
    assert meta["title"] == "Refunds" and meta["tags"] == ["billing"] and meta["version"] == 1
    assert body == "Refunds take 5 days."
    meta, body = parse_markdown((out / "shipping.md").read_text(), fallback_title="x")
    assert meta["title"] == "Shipping" and body == "Shipping takes a week."
