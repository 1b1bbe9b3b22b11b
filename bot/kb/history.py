"""An article's version history and the difference between two versions (reads, in the caller's session)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import NotFound
from storage.models import Article, ArticleVersion


def versions(session: Session, article: Article) -> list[ArticleVersion]:
    """Every version of the article, oldest first."""
    return list(session.scalars(
        select(ArticleVersion).where(ArticleVersion.article_id == article.id).order_by(ArticleVersion.version)))


def version(session: Session, article: Article, number: int) -> ArticleVersion:
    row = session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article.id,
                                                      ArticleVersion.version == number))
    if row is None:
        raise NotFound(f"Article #{article.id} has no version {number} (it has 1 to {article.version}). "
                       f"`flywheel kb history {article.id}` lists them.")
    return row


def _lines(row: ArticleVersion) -> list[str]:
    tags = ", ".join(str(t) for t in row.tags or [])
    return [f"# {row.title}\n", *([f"tags: {tags}\n"] if tags else []), "\n",
            *(line + "\n" for line in row.body.splitlines())]


def unified_diff(old: ArticleVersion, new: ArticleVersion, *, context: int = 3) -> list[str]:
    """A unified diff of title, tags and body; empty when the two versions say the same."""
    return list(difflib.unified_diff(_lines(old), _lines(new), fromfile=f"v{old.version}",
                                     tofile=f"v{new.version}", n=context))


def describe(row: ArticleVersion, newest: int) -> str:
    """One line of provenance: who, from which gap, a rollback of which version, the external receipt."""
    parts: Sequence[str] = [
        *(["current"] if row.version == newest else []),
        *([f"rollback to v{row.reverted_from}"] if row.reverted_from else []),
        *([f"gap #{row.gap_id}"] if row.gap_id else []),
        *([f"external {row.external_id}"] if row.external_id else []),
    ]
    return ", ".join(parts)
