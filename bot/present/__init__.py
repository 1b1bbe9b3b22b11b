"""The presentation layer: service results (plain dataclasses) -> the view models of `bot.blocks.models`.

Pure functions: no DB, no I/O, no Slack call. Services return data and know nothing of Slack; the Slack edge
(`handlers/`, `bot/slack/digest.py`, `bot/jobs.py`) calls a service, maps its result here, and renders the view
with a `bot.blocks` builder. (`handlers/present.py` holds the handlers' own mappings: one copy of each.)
"""

from __future__ import annotations

from bot.present.digest import digest_header_view, digest_item_view, loop_line
from bot.present.insights import (
    credit_view,
    recurrence_notice_view,
    reminder_view,
    topic_view,
    topic_views,
)
from bot.present.thread import regression_notice_view

__all__ = [
    "credit_view",
    "digest_header_view",
    "digest_item_view",
    "loop_line",
    "recurrence_notice_view",
    "regression_notice_view",
    "reminder_view",
    "topic_view",
    "topic_views",
]
