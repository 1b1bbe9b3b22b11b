"""Drafts and publishes that update an article synced from the team's help centre (`bot/kb/sync*.py`): read its
current text there first, draft the article plus the change, merge the docs team's edits at publish, and let
a person choose which article a draft updates (or a new one). The CLI and Slack call the same functions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, GapState
from bot.errors import FlywheelError, IllegalTransition, InvalidInput, PublishError
from bot.kb.search import conversation_query
from bot.kb.sync import ArticleReader
from bot.kb.sync_merge import UpdateConflict
from bot.kb.sync_readers import reader_for_article
from bot.kb.sync_update import compose_update, note_revision, rebase, refresh
from bot.llm.base import DraftArticle, Outline
from bot.publishers import ArticleToPublish, public_text
from bot.services import Services
from bot.services.gap_state import audit, get_gap
from storage.models import Article, Draft
from storage.models import Outline as OutlineRow

log = logging.getLogger(__name__)


class ArticleConflict(UpdateConflict):
    """`UpdateConflict` with what the Slack thread shows beside the conflicting lines: the article's title and link."""

    def __init__(self, conflict: UpdateConflict, *, title: str, url: str | None) -> None:
        super().__init__(conflict.message, conflicts=conflict.conflicts, article_id=conflict.article_id)
        self.title, self.url = title, url


def _reader(services: Services, article_id: int | None) -> ArticleReader | None:
    if article_id is None:
        return None
    with services.session() as session:
        article = session.get(Article, article_id)
        source = article.external_source if article else None
    return reader_for_article(source, services.settings, services.integrations)


def update_draft(services: Services, *, outline: Outline, drafted: DraftArticle) -> DraftArticle:
    """The draft of an update (the outline names an article): the article's current text, read from the help
    centre first when it is synced, plus the change. A draft of a new article is returned as it is."""
    target_id = outline.update_article_ids[0] if outline.update_article_ids else None
    if target_id is None:
        return drafted
    reader = _reader(services, target_id)
    if reader is not None:
        try:
            refresh(services.kb, services.session, reader, article_id=target_id, now=services.clock())
        except FlywheelError:  # the help centre is down: draft from the last synced text; publish re-checks
            log.warning("could not read the synced article before drafting article_id=%r", target_id)
    with services.session() as session:
        article = session.get(Article, target_id)
        if article is None:
            return drafted
        title, body, tags = compose_update(title=article.title, body=article.body, tags=list(article.tags),
                                           draft_title=drafted.title, draft_body=drafted.body,
                                           draft_tags=drafted.tags)
    return drafted.model_copy(update={"title": title, "body": body, "tags": tags})


def rebased(services: Services, payload: ArticleToPublish, target_id: int | None, draft_id: int | None
            ) -> ArticleToPublish:
    """An update of a synced article, merged with its current text in the help centre (`UpdateConflict`, a
    PublishError, when both changed the same lines; a help centre that cannot be read stops the publish)."""
    reader = _reader(services, target_id)
    if target_id is None or reader is None:
        return payload
    with services.session() as session:
        draft = session.get(Draft, draft_id) if draft_id else None
        base = draft.base_version if draft else None
    try:
        title, body, tags = rebase(services.kb, services.session, reader, article_id=target_id, base_version=base,
                                   title=payload.title, body=payload.body, tags=payload.tags, now=services.clock())
    except UpdateConflict as exc:
        with services.session() as session:
            article = session.get(Article, target_id)
            name, url = (article.title, article.external_url) if article else (payload.title, None)
        raise ArticleConflict(exc, title=name, url=url) from None
    except FlywheelError as exc:
        raise PublishError(f"Could not read the article's current text in the help centre, so nothing was "
                           f"published: {exc.message}") from None
    with services.session() as session:
        version = services.kb.get(session, target_id).version + 1
    return replace(payload, title=title, body=public_text(body), tags=tuple(tags), version=version)


def note_published_revision(services: Services, article_id: int) -> None:
    """After an update of a synced article: its new revision there, so our own edit is not taken for theirs."""
    reader = _reader(services, article_id)
    if reader is None:
        return
    try:
        note_revision(services.session, reader, article_id=article_id)
    except FlywheelError:  # published and recorded: the next sync reads the revision anyway
        log.warning("could not read the published article's revision article_id=%r", article_id)


def set_target(services: Services, *, gap_id: int, article: str | None, user: str | None) -> int | None:
    """Which article the gap's draft updates (`article`: id or slug), or None: a new article. The outline and the
    latest draft follow; write the draft again so it starts from the chosen article. Returns the article id."""
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if GapState(gap.state) not in ACTIVE_GAP_STATES:  # a published or dismissed gap's draft is history
            raise IllegalTransition(f"Gap #{gap_id} is {gap.state}; its draft's article can't change any more.")
        if article is not None and not article.isprintable():  # a NUL is a DataError on PostgreSQL, not "no article"
            raise InvalidInput("That is not an article id or slug (it has control characters).")
        target = services.kb.get(session, article) if article is not None else None
        if target is not None and target.withdrawn_at is not None:
            raise InvalidInput(f"Article #{target.id} is not live any more (deleted, archived or withdrawn).")
        row = session.scalar(select(OutlineRow).where(OutlineRow.gap_id == gap_id).order_by(OutlineRow.id.desc()))
        if row is not None:
            row.content = {**row.content, "update_article_ids": [target.id] if target else []}
        draft = session.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))
        if draft is not None:
            draft.target_article_id = target.id if target else None
            draft.base_version = target.version if target else None
        audit(session, gap, "target-chosen", actor=user, now=services.clock(), article_id=target.id if target else None)
        return target.id if target else None


@dataclass(frozen=True)
class TargetCandidate:
    """An article a gap's draft could update."""

    article_id: int
    title: str
    section: str | None = None  # its section in the help centre (synced articles)


def target_candidates(services: Services, *, gap_id: int, query: str = "", limit: int = 10) -> list[TargetCandidate]:
    """The live articles a person may choose for the gap's draft: with `query` (typed in the select), the KB's best
    matches for it; without, the outline's "articles to update instead", then the articles related to the
    conversation (as the outline saw them)."""
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if query.strip():
            hits = services.kb.search(query.strip(), limit)
            return [TargetCandidate(h.article_id, h.title, _section(session, h.article_id)) for h in hits
                    if h.article_id > 0]
        row = session.scalar(select(OutlineRow).where(OutlineRow.gap_id == gap_id).order_by(OutlineRow.id.desc()))
        named = [int(i) for i in (row.content.get("update_article_ids") or [])] if row else []
        pos = gap.flagged_position  # the conversation up to the flagged turn, as the outline searched it
        turns = [(m.role, m.text) for m in gap.conversation.messages if pos is None or m.position < pos]
        related = [h.article_id for h in services.kb.search(conversation_query(turns), limit) if h.article_id > 0]
        out: list[TargetCandidate] = []
        for article_id in dict.fromkeys(named + related):
            article = session.get(Article, article_id)
            if article is not None and article.withdrawn_at is None:
                out.append(TargetCandidate(article.id, article.title, article.external_section))
        return out[:limit]


def target_title(services: Services, article_id: int) -> TargetCandidate:
    """The chosen article, by id (its title as the KB has it now)."""
    with services.session() as session:
        article = services.kb.get(session, article_id)
        return TargetCandidate(article.id, article.title, article.external_section)


def _section(session: Session, article_id: int) -> str | None:
    article = session.get(Article, article_id)
    return article.external_section if article is not None else None
