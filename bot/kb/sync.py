"""Help-centre sync: the team's existing articles (Zendesk Help Center, Intercom Articles, a Markdown folder) in
the built-in KB, so outlines name the article to update and replays run against what customers really read.

A reader (`bot/kb/sync_zendesk.py`, `sync_intercom.py`, `sync_markdown.py`) yields pages of `ExternalArticle`s
and the cursor to resume from once a page is stored; `sync` stores each page in one transaction, then the
cursor (`source_cursors`, name `kb-sync:<source>`), so a crash or a 429 that outlasts the retries resumes
after the last stored page. One KB article per external article *and locale*, found again by
(external_source, external_id, locale); an unchanged revision adds nothing; a new text adds a KB version.
A draft or archived article, or (after a full pass, which lists everything) one that is gone, leaves search
(`withdrawn_at`, as a withdrawn article); it comes back when it is published again there.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.kb import KnowledgeBase
from storage.models import Article, SourceCursor

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]
_NOT_WORD = re.compile(r"[^\w]+|_+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NUL (PostgreSQL refuses it), bells, escapes


def clean(text: str) -> str:
    """Text a help centre sent, storable on both backends: control characters (NUL included) and lone
    surrogates (a JSON "\\ud800") removed, tabs and newlines kept."""
    return _CONTROL.sub("", text).encode("utf-8", "ignore").decode("utf-8")


def _cleaned(ext: ExternalArticle) -> ExternalArticle:
    return replace(ext, external_id=clean(ext.external_id), title=clean(ext.title), body=clean(ext.body),
                   tags=tuple(clean(t) for t in ext.tags), url=clean(ext.url) if ext.url else ext.url,
                   locale=clean(ext.locale) if ext.locale else ext.locale, revision=clean(ext.revision))


def readable_slug(title: str, limit: int = 80) -> str:
    """A slug that keeps a title meaningful in any script: Unicode letters and digits are kept (NFKC, lower
    case), everything else becomes `-`. "返金 の日数" → "返金-の日数"; "Refund times?" → "refund-times". No
    transliteration: a Japanese reader reads the kana and kanji, not a guessed romanisation."""
    text = unicodedata.normalize("NFKC", title).casefold()
    slug = _NOT_WORD.sub("-", text)[:limit].strip("-")
    return slug or "article"


@dataclass(frozen=True)
class ExternalArticle:
    external_id: str
    locale: str | None
    title: str
    body: str  # Markdown (converted from the help centre's HTML)
    tags: tuple[str, ...] = ()
    url: str | None = None
    revision: str = ""  # the help centre's updated_at (or a hash of the text): unchanged means nothing to do
    live: bool = True  # False: a draft or archived there, so not searched here


@dataclass(frozen=True)
class SyncPage:
    articles: list[ExternalArticle]
    cursor: str | None  # where the next sync starts once this page is stored
    complete: bool = False  # the end of a full pass: every article there was listed, the others are gone
    listed: Sequence[tuple[str, str | None]] = ()  # (external id, locale) of articles listed but unchanged


class ArticleReader(Protocol):
    name: str  # the source: zendesk, intercom, markdown

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]: ...

    def fetch(self, external_id: str, locale: str | None) -> ExternalArticle | None:
        """The article's current text there (None: deleted)."""
        ...


@dataclass
class SyncReport:
    source: str
    full: bool = False
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    restored: int = 0
    skipped: list[str] = field(default_factory=list)  # external ids stored as nothing: no title, or no body (a
    # body that is empty, not text, or HTML over bot.integrations.html.MAX_HTML_CHARS converts to none)
    seen: set[tuple[str, str | None]] = field(default_factory=set, repr=False)


def cursor_name(source: str) -> str:
    return f"kb-sync:{source}"


def load_cursor(session_factory: SessionFactory, source: str) -> tuple[str | None, dt.datetime | None]:
    with session_factory() as session:
        row = session.get(SourceCursor, cursor_name(source))
        return (row.cursor, row.updated_at) if row else (None, None)


def find(session: Session, source: str, external_id: str, locale: str | None) -> Article | None:
    query = select(Article).where(Article.external_source == source, Article.external_id == external_id)
    query = query.where(Article.locale.is_(None) if locale is None else Article.locale == locale)
    found = session.scalar(query.order_by(Article.id))
    if found is None:  # published there by Flywheel before any sync: the same article, adopted
        found = session.scalar(select(Article).where(Article.external_source.is_(None),
                                                     Article.external_id == external_id).order_by(Article.id))
    return found


def withdraw(kb: KnowledgeBase, session: Session, article: Article, now: dt.datetime) -> bool:
    if article.withdrawn_at is not None:
        return False
    kb.backend.unindex(session.connection(), article.id)
    article.withdrawn_at = now
    return True


def store(kb: KnowledgeBase, session: Session, source: str, ext: ExternalArticle, now: dt.datetime,
          report: SyncReport | None = None) -> Article | None:
    """One external article into the KB (in the caller's unit of work). Returns the KB article, if any."""
    report, ext = report or SyncReport(source), _cleaned(ext)
    report.seen.add((ext.external_id, ext.locale))
    article = find(session, source, ext.external_id, ext.locale)
    if article is None and not ext.live:
        return None
    if article is not None and not ext.live:
        report.removed += withdraw(kb, session, article, now)
        article.external_revision, article.synced_at = ext.revision, now
        return article
    if article is not None and article.external_revision == ext.revision and ext.revision and \
            article.withdrawn_at is None:
        report.unchanged += 1
        return article
    if not ext.title.strip() or not ext.body.strip():
        log.info("synced article without a title or a body skipped source=%s id=%s", source, ext.external_id)
        report.skipped.append(ext.external_id)
        return article
    slug = None if article is not None else kb.free_slug(session, readable_slug(ext.title))
    saved, changed = kb.save(session, title=ext.title, body=ext.body, tags=ext.tags, author=f"sync:{source}",
                             article_id=article.id if article is not None else None, slug=slug, now=now)
    if article is None:
        report.created += 1
    elif saved.withdrawn_at is not None:
        saved.withdrawn_at = None
        kb.backend.index(session.connection(), saved.id, saved.title, saved.body, list(saved.tags))
        report.restored += 1
    elif changed:
        report.updated += 1
    else:
        report.unchanged += 1
    saved.external_source, saved.external_id, saved.locale = source, ext.external_id, ext.locale
    saved.external_url, saved.external_revision, saved.synced_at = ext.url, ext.revision, now
    return saved


def _remove_unseen(kb: KnowledgeBase, session: Session, source: str, report: SyncReport, now: dt.datetime) -> None:
    for article in session.scalars(select(Article).where(Article.external_source == source,
                                                         Article.withdrawn_at.is_(None))):
        if (article.external_id or "", article.locale) not in report.seen:
            report.removed += withdraw(kb, session, article, now)


def sync(kb: KnowledgeBase, session_factory: SessionFactory, reader: ArticleReader, *,
         clock: Callable[[], dt.datetime], full: bool = False, full_every: dt.timedelta = dt.timedelta(days=1),
         ) -> SyncReport:
    """One sync pass (see the module's docstring). A full pass when asked, when there is no cursor yet, or when
    the last one is older than `full_every`; the reader decides what "incremental" means for its API."""
    cursor, _ = load_cursor(session_factory, reader.name)
    full = full or _full_due(cursor, clock(), full_every)
    report = SyncReport(reader.name, full=full)
    for page in reader.pages(cursor, full=full):
        now = clock()
        with session_factory() as session:
            for ext in page.articles:
                store(kb, session, reader.name, ext, now, report)
            report.seen.update(page.listed)
            report.unchanged += len(page.listed)
            if page.complete:
                _remove_unseen(kb, session, reader.name, report, now)
            row = session.get(SourceCursor, cursor_name(reader.name)) or SourceCursor(name=cursor_name(reader.name))
            row.cursor, row.updated_at = page.cursor, now
            session.add(row)
        report.pages += 1
    log.info("kb sync done source=%s full=%s pages=%d created=%d updated=%d unchanged=%d removed=%d restored=%d "
             "skipped=%r", reader.name, full, report.pages, report.created, report.updated, report.unchanged,
             report.removed, report.restored, report.skipped[:20])
    return report


def _full_due(cursor: str | None, now: dt.datetime, every: dt.timedelta) -> bool:
    """The cursors of the readers are JSON with `full_at` (epoch seconds of the last full pass)."""
    import json

    try:
        state = json.loads(cursor) if cursor else None
    except ValueError:
        return True
    if not isinstance(state, dict) or not isinstance(state.get("full_at"), int | float):
        return True
    return now.timestamp() - float(state["full_at"]) >= every.total_seconds()
