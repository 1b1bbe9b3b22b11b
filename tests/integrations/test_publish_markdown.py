"""The Markdown folder publisher through the real publish path: readable files (0644), front matter whose version
is the KB's, slugs that keep a Japanese title readable, nothing internal in the file; what goes public is
stripped of the offline label and the conversation list."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select

from bot.kb.markdown import parse_markdown
from bot.kb.sync import readable_slug
from bot.publishers import ArticleToPublish, public_text
from bot.publishers.markdown import MarkdownPublisher, file_name
from bot.services import Services, authoring, gaps, publishing
from bot.services.conversations import resolve
from bot.services.help_centre import set_target
from storage.models import Article
from tests.support.factories import conversation, load

DRAFT = ("Refunds take 5 business days.\n\n## Notes from the team\n- Store credit is instant.\n\n## Sources\n"
         "- conversation 101\n- conversation c2\n\n_[offline provider: extractive, no LLM]_")


def test_public_text_drops_the_label_and_the_conversation_list_only() -> None:
    assert public_text(DRAFT) == "Refunds take 5 business days.\n\n## Notes from the team\n- Store credit is instant."
    mixed = "[offline provider: x] Intro.\n\n## Sources\n- conversation 9\n- [Policy](https://acme.test/p)"
    assert public_text(mixed) == "Intro.\n\n## Sources\n- [Policy](https://acme.test/p)"


def test_slugs_keep_non_latin_titles_meaningful() -> None:
    assert readable_slug("返金にかかる日数は？") == "返金にかかる日数は"
    assert readable_slug("Remboursement : délais") == "remboursement-délais"
    assert readable_slug("Refund times?") == "refund-times" and readable_slug("???") == "article"
    assert file_name(ArticleToPublish(slug="返金にかかる日数", title="x", body="y")) == "返金にかかる日数.md"
    assert file_name(ArticleToPublish(slug="../../etc/passwd", title="x", body="y")) == "etc-passwd.md"


def _publish(services: Services, tmp_path: Path, cid: str, question: str) -> int:
    load(services, tmp_path, [conversation(cid, gap=True, question=question)], name=f"{cid}.jsonl")
    gap_id = gaps.flag(services, conversation_id=resolve(services, cid), user="UANA").gap_id
    assert gap_id is not None
    authoring.write_draft(services, gap_id=gap_id, user="UANA")
    return gap_id


def test_markdown_files_are_readable_with_the_kbs_version_and_no_internal_text(services: Services, tmp_path) -> None:
    folder = tmp_path / "site"
    services.publisher = MarkdownPublisher(folder, git_commit=False)
    services.settings = services.settings.model_copy(update={"publish_on_fail": "keep"})
    first = publishing.publish(services, gap_id=_publish(services, tmp_path, "c1", "返金にかかる日数は？"), user="U1")
    with services.session() as s:
        article = s.get(Article, first.article_id)
        assert article is not None and article.slug == "返金にかかる日数は"  # not article-N
        name = article.external_id
    path = folder / str(name)
    assert name == "返金にかかる日数は.md" and stat.S_IMODE(path.stat().st_mode) == 0o644
    text = path.read_text(encoding="utf-8")
    meta, body = parse_markdown(text, fallback_title="x")
    assert meta["version"] == 1 and "offline provider" not in text and "conversation c1" not in body
    second = _publish(services, tmp_path, "c2", "How long does a refund to my credit card take?")
    set_target(services, gap_id=second, article=str(first.article_id), user="U1")
    authoring.write_draft(services, gap_id=second, user="U1")  # again, from the chosen article
    out = publishing.publish(services, gap_id=second, user="U1")
    with services.session() as s:
        version = s.scalar(select(Article.version).where(Article.id == first.article_id))
    meta, _ = parse_markdown(path.read_text(encoding="utf-8"), fallback_title="x")
    assert out.article_id == first.article_id and meta["version"] == version == 2  # the file says the KB's version
    assert sorted(p.name for p in folder.iterdir()) == ["返金にかかる日数は.md"]
