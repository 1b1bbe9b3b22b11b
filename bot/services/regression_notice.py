"""What the thread of a fix that broke is told: the broken turn before and after, and what to do about it.

Read after a regression run (`regression.run_case`) for each case that broke: the customer's message, the agent's
answer when the case last passed and its answer now, what changed since, the gap's article, its latest draft
("edit and retry") and the article most likely to blame (the one changed last since the pass: "roll back").
Services only: `bot.present.regression_notice_view` maps it, `bot.blocks.notices.build_regression_notice` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import ReplayKind, Verdict
from bot.services import Services
from bot.services.authoring import latest_draft
from bot.services.regression import RegressionResult
from storage.models import Article, ArticleVersion, Gap, ReplayRun, ReplayTurn


@dataclass(frozen=True)
class BrokenFix:
    gap_id: int
    channel: str
    thread_ts: str
    verdict: str | None
    question: str | None
    before: str | None  # the agent's answer at the last pass
    after: str | None  # its answer now
    fixed_by: str | None
    changes: tuple[str, ...]
    article_title: str | None
    article_url: str | None
    draft_id: int | None
    suspect_article_id: int | None  # changed since the last pass: rolling it back is one way out
    suspect_version: int | None  # its current version
    suspect_title: str | None


def _question(session: Session, run: ReplayRun) -> str | None:
    """The customer's message of the flagged turn, as replayed."""
    turns = list(session.scalars(select(ReplayTurn).where(ReplayTurn.run_id == run.id)
                                 .order_by(ReplayTurn.position)))
    turn = next((t for t in turns if t.position == run.flagged_position), turns[-1] if turns else None)
    return turn.user_text if turn is not None else None


def broken_fix(services: Services, result: RegressionResult) -> BrokenFix | None:
    """The notice's content for a case that broke and has a thread; None otherwise."""
    if not (result.broke and result.thread_channel and result.thread_ts and result.run_id):
        return None
    with services.session() as s:
        gap = s.get(Gap, result.gap_id)
        run = s.get(ReplayRun, result.run_id)
        if gap is None or run is None:  # gone meanwhile: say what the result says
            return BrokenFix(result.gap_id, result.thread_channel, result.thread_ts, result.verdict, None, None, None,
                             result.fixed_by, tuple(result.changes), None, None, None, None, None, None)
        last = s.scalar(select(ReplayRun).where(
            ReplayRun.gap_id == run.gap_id, ReplayRun.id < run.id, ReplayRun.verdict == Verdict.PASS.value,
            ReplayRun.kind.in_([ReplayKind.PUBLISH.value, ReplayKind.REGRESSION.value])).order_by(ReplayRun.id.desc()))
        article = s.get(Article, gap.article_id) if gap.article_id else None
        suspect = None
        if last is not None and run.kb_revision > last.kb_revision:
            changed = s.scalar(select(ArticleVersion.article_id).where(
                ArticleVersion.id > last.kb_revision, ArticleVersion.id <= run.kb_revision)
                .order_by(ArticleVersion.id.desc()))
            suspect = s.get(Article, changed) if changed is not None else None
        draft = latest_draft(s, gap.id)
        return BrokenFix(
            gap_id=gap.id, channel=result.thread_channel, thread_ts=result.thread_ts, verdict=result.verdict,
            question=_question(s, run), before=last.after_answer if last is not None else None,
            after=run.after_answer, fixed_by=result.fixed_by or gap.owner, changes=tuple(result.changes),
            article_title=article.title if article else None, article_url=article.external_url if article else None,
            draft_id=draft.id if draft else None,
            suspect_article_id=suspect.id if suspect else None, suspect_version=suspect.version if suspect else None,
            suspect_title=suspect.title if suspect else None,
        )
