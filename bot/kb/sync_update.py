"""Updating a synced article: start from its current text in the help centre, never from a stale copy.

- `refresh`: before a draft that updates an article is written, the help centre's current text (if it changed
  since the last sync) becomes the KB's latest version, so the draft starts from it;
- `compose_update`: the draft of an update is the article plus the change, never the change alone (a model
  that returns the whole article keeps it; otherwise the new text is added as a section of the article);
- `rebase`: at publish, the help centre is read again; an edit made there since the draft started is merged
  in (`bot/kb/sync_merge.py`), or the publish stops with `UpdateConflict`. `fetch` answers None only for an
  article deleted there; one it cannot read now (the help centre down, a Markdown file mid-edit) raises, and
  the publish stops with that error: never published over a text it could not read;
- `note_revision`: after a publish, the help centre's new revision is recorded, so our own update is not
  mistaken for the docs team's next time.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
from collections.abc import Sequence

from bot.kb import KnowledgeBase
from bot.kb.sync import ArticleReader, ExternalArticle, SessionFactory, store
from bot.kb.sync_merge import UpdateConflict, describe, merge3
from storage.models import Article, ArticleVersion

log = logging.getLogger(__name__)

KEPT_ALREADY = 0.8  # share of the article's lines a drafted body keeps (or nearly) to count as the whole article


def _current(session_factory: SessionFactory, reader: ArticleReader, article_id: int
             ) -> tuple[ExternalArticle | None, str | None]:
    with session_factory() as session:
        article = session.get(Article, article_id)
        if article is None or article.external_source != reader.name or not article.external_id:
            return None, None
        ext_id, locale, known = article.external_id, article.locale, article.external_revision
    return reader.fetch(ext_id, locale), known


def refresh(kb: KnowledgeBase, session_factory: SessionFactory, reader: ArticleReader, *, article_id: int,
            now: dt.datetime) -> bool:
    """The help centre's current text as the KB's latest version when it changed there. True: it had changed."""
    current, known = _current(session_factory, reader, article_id)
    if current is None or current.revision == known:
        return False
    with session_factory() as session:
        store(kb, session, reader.name, current, now)
    log.info("synced article refreshed before an update article_id=%r", article_id)
    return True


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def compose_update(*, title: str, body: str, tags: Sequence[str], draft_title: str, draft_body: str,
                   draft_tags: Sequence[str]) -> tuple[str, str, list[str]]:
    """(title, body, tags) of an update: the article's title, its whole text plus the change, its tags plus the
    draft's."""
    merged_tags = list(dict.fromkeys([*tags, *draft_tags]))
    have, drafted = _lines(body), _lines(draft_body)
    kept = sum(1 for line in have if line in drafted or difflib.get_close_matches(line, drafted, n=1, cutoff=0.75))
    if have and kept >= KEPT_ALREADY * len(have):
        return title, draft_body.strip(), merged_tags  # the draft is already the whole article, changed
    addition = draft_body.strip()
    if not re.match(r"#{1,6}\s", addition):
        addition = f"## {draft_title.strip()}\n\n{addition}"
    return title, f"{body.strip()}\n\n{addition}", merged_tags


def rebase(kb: KnowledgeBase, session_factory: SessionFactory, reader: ArticleReader, *, article_id: int,
           base_version: int | None, title: str, body: str, tags: Sequence[str], now: dt.datetime
           ) -> tuple[str, str, list[str]]:
    """The update to publish, merged with the help centre's current text (see the module's docstring)."""
    current, known = _current(session_factory, reader, article_id)
    if current is None:
        return title, body, list(tags)
    with session_factory() as session:
        article = session.get(Article, article_id)
        assert article is not None
        changed_there = current.revision != known  # edited in the help centre since we last read it
        # ... or read since the draft began: a sync (or a conflict) already stored their edit as a newer version
        # here. Either way the draft started from an older text: merge, never overwrite.
        newer_here = base_version is not None and base_version < article.version
        if not (changed_there or newer_here):
            return title, body, list(tags)
        number = base_version or article.version
        base = session.query(ArticleVersion).filter_by(article_id=article_id, version=number).one_or_none()
        base_title, base_body = (base.title, base.body) if base else (article.title, article.body)
        base_tags = list(base.tags) if base else list(article.tags)
        merged = merge3(base_body, body, current.body)
        if changed_there:
            store(kb, session, reader.name, current, now)  # the docs team's edit: a version of its own, kept
    if merged.conflicts:
        log.info("update conflicts with the help centre article_id=%r conflicts=%d", article_id,
                 len(merged.conflicts))
        raise UpdateConflict(describe(merged.conflicts, title=current.title or title), conflicts=merged.conflicts,
                             article_id=article_id)
    new_title = current.title if title == base_title and current.title else title
    added = [t for t in tags if t not in base_tags]
    log.info("update merged with the help centre's edit article_id=%r", article_id)
    return new_title, merged.text, list(dict.fromkeys([*current.tags, *added]))


def note_revision(session_factory: SessionFactory, reader: ArticleReader, *, article_id: int) -> None:
    """Record the help centre's revision of the article we just published."""
    current, _ = _current(session_factory, reader, article_id)
    if current is None:
        return
    with session_factory() as session:
        article = session.get(Article, article_id)
        if article is not None:
            article.external_revision = current.revision
