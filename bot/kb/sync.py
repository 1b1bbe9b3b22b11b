"""Help-centre sync: the team's existing articles (Zendesk Help Center, Intercom Articles, a Markdown folder) in
the built-in KB, so outlines name the article to update and replays run against what customers really read.

A reader (`bot/kb/sync_zendesk.py`, `sync_intercom.py`, `sync_markdown.py`) yields pages of `ExternalArticle`s
and the cursor to resume from once a page is stored; `sync` stores each page in one transaction, then the
cursor (`source_cursors`, name `kb-sync:<source>`), so a crash or a 429 that outlasts the retries resumes
after the last stored page. One KB article per external article *and locale*, found again by
(external_source, external_id, locale); an unchanged revision adds nothing; a new text adds a KB version.
A draft or archived article, or (after a full pass, which lists everything) one that is gone, leaves search
(`withdrawn_at`, as a withdrawn article); it comes back when it is published again there. One listed but unreadable
(`SyncPage.unreadable`: a Markdown file with a broken front matter) is not gone: it stays as it was, and is named.
Each article keeps the section it sits in there (a Zendesk section; an Intercom collection):
`external_section_id`, and the name in `external_section`, shown beside its title where a person picks an article.
A reader lists the section names once a pass and hands them over with its first page (`SyncPage.sections`), so a
section renamed there is renamed here at the next pass, also on articles that did not change.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.kb import KnowledgeBase
from storage.models import Article, SourceCursor

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]
_NOT_WORD = re.compile(r"[^\w]+|_+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NUL (PostgreSQL refuses it), bells, escapes
SECTION_ID_MAX, SECTION_MAX = 64, 300  # articles.external_section_id, articles.external_section
SectionNames = Mapping[tuple[str | None, str], str]  # (locale, section id) → name; (None, id): any locale's name


def clean(text: str) -> str:
    """Text a help centre sent, storable on both backends: control characters (NUL included) and lone
    surrogates (a JSON "\\ud800") removed, tabs and newlines kept."""
    return _CONTROL.sub("", text).encode("utf-8", "ignore").decode("utf-8")


def column_max(name: str) -> int:
    """The length of the `articles` column `name` (a value past it makes PostgreSQL refuse the whole transaction)."""
    length = getattr(Article.__table__.c[name].type, "length", None)
    assert isinstance(length, int), name
    return length


def _fit(value: str, column: str) -> str:
    """`value` cut to the `articles` column's length: PostgreSQL refuses a longer one (and the whole page with it)."""
    return value[:column_max(column)]


def _url(url: str | None) -> str | None:
    """A link that fits its column, or none: a cut URL would lead somewhere else."""
    url = clean(url) if url else url
    return url if url and _fit(url, "external_url") == url else None


def _cleaned(ext: ExternalArticle) -> ExternalArticle:
    return replace(ext, external_id=_fit(clean(ext.external_id), "external_id"),
                   title=_fit(clean(ext.title), "title"), body=clean(ext.body),
                   tags=tuple(clean(t) for t in ext.tags), url=_url(ext.url),
                   locale=_fit(clean(ext.locale), "locale") if ext.locale else ext.locale,
                   revision=_fit(clean(ext.revision), "external_revision"),
                   section_id=(clean(ext.section_id).strip()[:SECTION_ID_MAX] or None) if ext.section_id else None,
                   section=section_label(ext.section))


def section_ref(value: object) -> str | None:
    """A section's id as a help centre sent it (a number or a string), or None."""
    return None if isinstance(value, bool) or not isinstance(value, int | str) else str(value).strip() or None


def section_label(name: str | None) -> str | None:
    """A section's name as stored: cleaned, on one line, at most SECTION_MAX characters (None: no name)."""
    text = " ".join(clean(name).split()) if isinstance(name, str) else ""
    return text[:SECTION_MAX].rstrip() or None


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
    section_id: str | None = None  # its section there (Zendesk section, Intercom collection)
    section: str | None = None  # the section's name (None: not known this pass; a stored name is kept)


@dataclass(frozen=True)
class SyncPage:
    articles: list[ExternalArticle]
    cursor: str | None  # where the next sync starts once this page is stored
    complete: bool = False  # the end of a full pass: every article there was listed, the others are gone
    listed: Sequence[tuple[str, str | None]] = ()  # (external id, locale) of articles listed but unchanged
    sections: SectionNames = field(default_factory=dict)  # the section names of this pass (on its first page)
    unreadable: Sequence[tuple[str, str]] = ()  # (external id, why) of articles listed but unreadable: kept as is


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
    unreadable: dict[str, str] = field(default_factory=dict)  # external id → why it could not be read (a broken
    # front matter...): its article, if any, stays as it was, in search or not, and never counts as gone
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


def _place(article: Article, ext: ExternalArticle) -> None:
    """The article's section as the help centre has it now; a name not known this pass keeps the stored one."""
    if ext.section is not None or ext.section_id != article.external_section_id:
        article.external_section = ext.section
    article.external_section_id = ext.section_id


def rename_sections(session: Session, source: str, names: SectionNames) -> int:
    """The stored section names of `source` as listed this pass (a section renamed there); returns how many
    articles changed. Reads four short columns, writes only what changed."""
    rows = session.execute(select(Article.id, Article.locale, Article.external_section_id, Article.external_section)
                           .where(Article.external_source == source, Article.external_section_id.is_not(None)))
    changed: dict[str, list[int]] = {}
    for article_id, locale, section_id, stored in rows:
        name = section_label(names.get((locale, str(section_id))) or names.get((None, str(section_id))))
        if name is not None and name != stored:
            changed.setdefault(name, []).append(article_id)
    for name, ids in changed.items():
        session.execute(update(Article).where(Article.id.in_(ids)).values(external_section=name))
    return sum(len(ids) for ids in changed.values())


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
        _place(article, ext)
        return article
    if article is not None and article.external_revision == ext.revision and ext.revision and \
            article.withdrawn_at is None:
        report.unchanged += 1
        _place(article, ext)  # moved to another section there: not a new revision of its text
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
    _place(saved, ext)
    return saved


def _remove_unseen(kb: KnowledgeBase, session: Session, source: str, report: SyncReport, now: dt.datetime) -> None:
    for article in session.scalars(select(Article).where(Article.external_source == source,
                                                         Article.withdrawn_at.is_(None))):
        if (article.external_id or "", article.locale) not in report.seen and \
                (article.external_id or "") not in report.unreadable:
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
            if page.sections and (renamed := rename_sections(session, reader.name, page.sections)):
                log.info("kb sync section names changed source=%s articles=%d", reader.name, renamed)
            for ext in page.articles:
                store(kb, session, reader.name, ext, now, report)
            report.seen.update(page.listed)
            report.unchanged += len(page.listed)
            report.unreadable.update((clean(ext_id), why) for ext_id, why in page.unreadable)
            if page.complete:
                _remove_unseen(kb, session, reader.name, report, now)
            row = session.get(SourceCursor, cursor_name(reader.name)) or SourceCursor(name=cursor_name(reader.name))
            row.cursor, row.updated_at = page.cursor, now
            session.add(row)
        report.pages += 1
    log.info("kb sync done source=%s full=%s pages=%d created=%d updated=%d unchanged=%d removed=%d restored=%d "
             "skipped=%r unreadable=%r", reader.name, full, report.pages, report.created, report.updated,
             report.unchanged, report.removed, report.restored, report.skipped[:20], list(report.unreadable)[:20])
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


def listed_names(source: str, what: str, names: Callable[[], SectionNames]) -> SectionNames:
    """A help centre's section (or collection) names, listed once a pass. A listing that fails leaves them out:
    the articles matter more (they are synced without names, and the names stored before are kept)."""
    from bot.integrations.http import SourceError

    try:
        return names()
    except SourceError as exc:
        log.warning("%s %s names not listed; the pass goes on without them retryable=%s", source, what,
                    exc.retryable)
        return {}


def named_first(pages: Iterator[SyncPage], sections: SectionNames) -> Iterator[SyncPage]:
    """The pages, the first carrying the section names (stored once, before its articles)."""
    for n, page in enumerate(pages):
        yield replace(page, sections=sections) if n == 0 else page
