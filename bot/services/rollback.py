"""Put an older version of an article back: a new version whose text is the older one's (`reverted_from`),
in the built-in KB and in the team's KB (the same external article is updated), audited. A FAIL verdict after
publishing a new article takes it off both KBs instead (there is no previous version)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.publishers import ArticleToPublish
from bot.services import Services
from bot.services.conversation_scan import as_utc
from bot.services.gap_state import audit, get_gap
from bot.services.permissions import Action, require
from storage.models import Article, ArticleVersion, AuditEvent

log = logging.getLogger(__name__)


@dataclass
class RollbackOutcome:
    article_id: int
    version: int  # the new version
    restored_from: int  # the version whose text it has
    url: str | None = None


def _old_version(session: Session, article_id: int, number: int) -> ArticleVersion:
    row = session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article_id,
                                                      ArticleVersion.version == number))
    if row is None:
        raise NotFound(f"Article #{article_id} has no version {number}: `flywheel kb history {article_id}` lists them.")
    return row


def rollback_article(services: Services, *, article_id: int, to_version: int, user: str | None,
                     reason: str | None = None) -> RollbackOutcome:
    """Restore version `to_version` of the article as a new version, here and in the team's KB."""
    if user is not None:
        require(services, user, Action.PUBLISH)
    with services.session() as session:
        article = services.kb.get(session, article_id)
        old = _old_version(session, article.id, to_version)
        if (old.title, old.body, list(old.tags)) == (article.title, article.body, list(article.tags)):
            raise InvalidInput(f"Version {to_version} of article #{article_id} is its current text: nothing to undo.")
        payload = ArticleToPublish(slug=article.slug, title=old.title, body=old.body, tags=tuple(old.tags),
                                   external_id=article.external_id, locale=article.locale, gap_id=old.gap_id,
                                   author=user,
                                   version=article.version + 1,
                                   idempotency_key=f"rollback-{article.id}-{article.version + 1}")
    receipt = services.publisher.publish(payload)  # PublishError: nothing changed here
    now = services.clock()
    with services.session() as session:
        article, _ = services.kb.save(session, title=payload.title, body=payload.body, tags=payload.tags,
                                      author=user, gap_id=payload.gap_id, article_id=article_id, now=now)
        restore(services, session, article)
        row = _old_version(session, article.id, article.version)
        row.reverted_from = to_version
        if receipt.external_id or receipt.url:
            article.external_id, article.external_url = receipt.external_id, receipt.url
            row.external_id, row.external_url = receipt.external_id, receipt.url
        session.add(AuditEvent(entity="article", entity_id=article.id, action="rolled-back", actor=user, at=now,
                               detail={"to_version": to_version, "version": article.version, "reason": reason,
                                       "publisher": services.publisher.name}))
        log.info("article rolled back article_id=%r to_version=%r version=%r", article.id, to_version,
                 article.version)
        return RollbackOutcome(article.id, article.version, to_version, article.external_url)


def restore(services: Services, session: Session, article: Article) -> None:
    """A new version of a withdrawn article is published: searchable again (also when its text is unchanged)."""
    if article.withdrawn_at is not None:
        article.withdrawn_at = None
        services.kb.backend.index(session.connection(), article.id, article.title, article.body, list(article.tags))


def unpublish_article(services: Services, *, article_id: int, user: str | None, gap_id: int | None) -> None:
    """Take an article off the built-in KB's search and off the team's KB (a new article whose verdict failed).
    Its versions stay in the history."""
    with services.session() as session:
        article = session.get(Article, article_id)
        if article is None:
            raise NotFound(f"No article #{article_id}.")
        external_id = article.external_id
    unpublish = getattr(services.publisher, "unpublish", None)
    if external_id and callable(unpublish):
        unpublish(external_id, gap_id=gap_id)  # PublishError: still live here too, said to the user
    with services.session() as session:
        services.kb.backend.unindex(session.connection(), article_id)  # SQLite's index; PostgreSQL: the flag
        withdrawn = session.get(Article, article_id)
        assert withdrawn is not None
        withdrawn.withdrawn_at = services.clock()
        session.add(AuditEvent(entity="article", entity_id=article_id, action="unpublished", actor=user,
                               at=services.clock(), detail={"gap_id": gap_id, "publisher": services.publisher.name}))


def _was_off_before(session: Session, article_id: int, version: int) -> bool:
    """The version before `version` was itself taken off (its verdict failed): rolling back to it would put
    a failed article live again."""
    previous = session.scalar(select(ArticleVersion.created_at).where(ArticleVersion.article_id == article_id,
                                                                      ArticleVersion.version == version - 1))
    off_at = session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.entity == "article", AuditEvent.entity_id == article_id, AuditEvent.action == "unpublished"))
    return previous is not None and off_at is not None and as_utc(off_at) >= as_utc(previous)


def rollback_after_fail(services: Services, *, gap_id: int, article_id: int, user: str | None) -> str:
    """FLYWHEEL_PUBLISH_ON_FAIL=rollback: the previous version back, or a new article taken off. Returns what
    the thread and the CLI say."""
    with services.session() as session:
        article = services.kb.get(session, article_id)
        version, title = article.version, article.title
        was_off = _was_off_before(session, article_id, version)
    if version <= 1 or was_off:  # nothing was live before this publish: take it off again
        unpublish_article(services, article_id=article_id, user=user, gap_id=gap_id)
        text = (f":leftwards_arrow_with_hook: The replay failed, so the new article “{title}” was taken off the "
                "knowledge base again (FLYWHEEL_PUBLISH_ON_FAIL=rollback). Edit the draft and publish again.")
    else:
        done = rollback_article(services, article_id=article_id, to_version=version - 1, user=None,
                                reason=f"the replay of gap #{gap_id} failed")
        text = (f":leftwards_arrow_with_hook: The replay failed, so “{title}” was rolled back to version "
                f"{done.restored_from} (now version {done.version}; FLYWHEEL_PUBLISH_ON_FAIL=rollback). Edit the "
                "draft and publish again.")
    with services.session() as session:
        audit(session, get_gap(session, gap_id), "rolled-back-after-fail", actor=user, now=services.clock(),
              article_id=article_id)
    return text
