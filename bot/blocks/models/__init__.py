"""View models for the Block Kit builders: frozen dataclasses of primitives (ids, strings, ints,
floats, tuples of those). Handlers/services fill them from the database; builders never see ORM rows.

All text fields are *raw* (not escaped): builders escape, redact and shorten as needed.
User fields (`flagged_by`, `owner`, …) are Slack user ids (`U…`/`W…`).
States use the strings of `bot.domain` (`GapState`, `ReviewStatus`, `Verdict`, `ReplayKind`).

One module per area (digest, thread, home, notices, modals); `from bot.blocks.models import X` works for all.
"""

from bot.blocks.models.digest import (
    DigestHeaderView,
    DigestItemView,
    LoopLine,
    WaitingLine,
)
from bot.blocks.models.home import (
    CostView,
    CreditView,
    DigestSummary,
    GapSummary,
    HomeView,
    PersonCredit,
    StatsNumbers,
    StatsView,
    TopicView,
    WeeklyInsightsView,
)
from bot.blocks.models.modals import (
    ConversationView,
    EditDraftView,
    EditedDraft,
    EditedOutline,
    EditOutlineView,
    TurnView,
)
from bot.blocks.models.notices import (
    RecurrenceItem,
    RecurrenceNoticeView,
    RegressionNoticeView,
    ReminderView,
)
from bot.blocks.models.thread import (
    AgentTurnChoice,
    CollateralView,
    ConflictLinesView,
    ConflictView,
    DraftView,
    ErrorView,
    FlagView,
    MatchView,
    OutlineSectionView,
    OutlineView,
    OverrideNoticeView,
    OverrideView,
    TargetChoice,
    VerdictView,
)

__all__ = [
    "AgentTurnChoice",
    "CollateralView",
    "ConflictLinesView",
    "ConflictView",
    "ConversationView",
    "CostView",
    "CreditView",
    "DigestHeaderView",
    "DigestItemView",
    "DigestSummary",
    "DraftView",
    "EditDraftView",
    "EditOutlineView",
    "EditedDraft",
    "EditedOutline",
    "ErrorView",
    "FlagView",
    "GapSummary",
    "HomeView",
    "LoopLine",
    "MatchView",
    "OutlineSectionView",
    "OutlineView",
    "OverrideNoticeView",
    "OverrideView",
    "PersonCredit",
    "RecurrenceItem",
    "RecurrenceNoticeView",
    "RegressionNoticeView",
    "ReminderView",
    "StatsNumbers",
    "StatsView",
    "TargetChoice",
    "TopicView",
    "TurnView",
    "VerdictView",
    "WaitingLine",
    "WeeklyInsightsView",
]
