"""The built-in knowledge base: versioned articles, BM25 search, shadow search with drafts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.kb.search import ExtraDoc, Hit, Searcher, backend_for
from bot.text import slugify
from storage.models import Article, ArticleVersion, utcnow

__all__ = ["ExtraDoc", "Hit", "KnowledgeBase", "Searcher"]


class KnowledgeBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = backend_for(engine)

    # --- reads ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5) -> list[Hit]:
        with self.engine.connect() as conn:
            return self.backend.search(conn, query, k)

    @contextmanager
    def live(self) -> Iterator[Searcher]:
        """A searcher over the published KB, holding one connection for a whole replay."""
        with self.engine.connect() as conn:
            from bot.kb.search import _BoundSearcher

            yield _BoundSearcher(self.backend, conn)

    @contextmanager
    def shadow(self, extra: Sequence[ExtraDoc]) -> Iterator[Searcher]:
        """The live KB plus unpublished drafts; nothing is published or visible to others."""
        with self.backend.shadow(self.engine, extra) as searcher:
            yield searcher

    @staticmethod
    def get(session: Session, ref: int | str) -> Article:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            article = session.get(Article, int(ref))
        else:
            article = session.scalar(select(Article).where(Article.slug == ref))
        if article is None:
            raise NotFound(f"No article {ref!s} in the knowledge base. `flywheel kb list` shows them.")
        return article

    @staticmethod
    def revision(session: Session) -> int:
        """A number that changes whenever any article changes (the newest version row id)."""
        return int(session.scalar(select(func.coalesce(func.max(ArticleVersion.id), 0))) or 0)

    @staticmethod
    def list(session: Session) -> list[Article]:
        return list(session.scalars(select(Article).order_by(Article.id)))

    # --- writes (in the caller's unit of work) -----------------------------------------------------
    def save(
        self,
        session: Session,
        *,
        title: str,
        body: str,
        tags: Sequence[str] = (),
        author: str | None = None,
        gap_id: int | None = None,
        article_id: int | None = None,
        slug: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[Article, bool]:
        """Create an article or add a version. Returns (article, changed); unchanged text adds nothing."""
        title, body = title.strip(), body.strip()
        if not title or not body:
            raise InvalidInput("An article needs a title and a body.")
        now = now or utcnow()
        article = None
        if article_id is not None:
            article = self.get(session, article_id)
        elif slug:
            article = session.scalar(select(Article).where(Article.slug == slug))
        if article is None:
            article = Article(
                slug=self.free_slug(session, slug or slugify(title)),
                title=title,
                body=body,
                tags=list(tags),
                version=1,
                source_gap_id=gap_id,
                created_at=now,
                updated_at=now,
            )
            session.add(article)
            session.flush()
        elif (article.title, article.body, list(article.tags)) == (title, body, list(tags)):
            return article, False
        else:
            article.title, article.body, article.tags = title, body, list(tags)
            article.version += 1
            article.updated_at = now
        session.add(
            ArticleVersion(
                article_id=article.id,
                version=article.version,
                title=title,
                body=body,
                tags=list(tags),
                author=author,
                gap_id=gap_id,
                created_at=now,
            )
        )
        session.flush()
        self.backend.index(session.connection(), article.id, title, body, list(tags))
        return article, True

    @staticmethod
    def free_slug(session: Session, base: str) -> str:
        slug, n = base, 1
        while session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
            n += 1
            slug = f"{base}-{n}"
        return slug
