"""The Rollback button's rule, kept here so every edge behaves the same: roll back only the version the
verdict was about (a click on an older verdict, or after an automatic rollback, is refused), then record it
on the gap as well as on the article (`bot.services.rollback.rollback_article` does the rollback itself)."""

from __future__ import annotations

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.gap_state import audit, get_gap
from bot.services.rollback import RollbackOutcome, rollback_article


def rollback_from_verdict(services: Services, *, article_id: int, from_version: int, to_version: int,
                          gap_id: int | None, user: str) -> RollbackOutcome:
    with services.session() as session:
        current = services.kb.get(session, article_id).version
    if current != from_version:
        raise InvalidInput(f"Article #{article_id} changed since this verdict (it is at version {current} now), so "
                           f"nothing was rolled back. `flywheel kb history {article_id}` shows what happened.")
    done = rollback_article(services, article_id=article_id, to_version=to_version, user=user,
                            reason=f"Roll back on the verdict of gap #{gap_id}" if gap_id else "Roll back button")
    if gap_id is not None:
        with services.session() as session:
            audit(session, get_gap(session, gap_id), "article-rolled-back", actor=user, now=services.clock(),
                  article_id=article_id, version=done.version, restored_from=done.restored_from)
    return done
