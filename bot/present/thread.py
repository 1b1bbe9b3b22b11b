"""The gap thread's notices as the builders' view models (pure: no DB, no I/O)."""

from __future__ import annotations

from bot.blocks.models import RegressionNoticeView
from bot.services.regression_notice import BrokenFix


def regression_notice_view(fix: BrokenFix) -> RegressionNoticeView:
    return RegressionNoticeView(
        gap_id=fix.gap_id, verdict=fix.verdict, question=fix.question, before=fix.before, after=fix.after,
        fixed_by=fix.fixed_by, changes=fix.changes, article_title=fix.article_title, article_url=fix.article_url,
        draft_id=fix.draft_id, rollback_article_id=fix.suspect_article_id, rollback_from=fix.suspect_version,
        rollback_title=fix.suspect_title,
    )
