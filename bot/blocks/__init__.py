"""Pure Block Kit builders: view models in, `slack_sdk.models` objects out. No I/O, no DB, no LLM.

Messages come back as `bot.blocks.common.Message(text, blocks)`; views as `slack_sdk.models.views.View`.
"""

from bot.blocks.common import Message
from bot.blocks.digest import build_digest_header, build_digest_item
from bot.blocks.draft import build_draft_messages, build_verdict_message
from bot.blocks.gap import build_gap_message, build_match_message
from bot.blocks.home import build_gap_list, build_home_view
from bot.blocks.insights import (
    build_draft_reminder,
    build_recurrence_notice,
    build_topics_message,
    build_weekly_message,
    with_top_topics,
)
from bot.blocks.modals import (
    build_conversation_modal,
    build_edit_draft_modal,
    build_edit_outline_modal,
    parse_edit_draft,
    parse_edit_outline,
)
from bot.blocks.notices import build_error_message, build_help_message
from bot.blocks.stats import build_stats_message

__all__ = [
    "Message",
    "build_conversation_modal",
    "build_digest_header",
    "build_digest_item",
    "build_draft_reminder",
    "build_draft_messages",
    "build_edit_draft_modal",
    "build_edit_outline_modal",
    "build_error_message",
    "build_gap_list",
    "build_gap_message",
    "build_help_message",
    "build_home_view",
    "build_match_message",
    "build_recurrence_notice",
    "build_stats_message",
    "build_topics_message",
    "build_verdict_message",
    "build_weekly_message",
    "parse_edit_draft",
    "parse_edit_outline",
    "with_top_topics",
]
