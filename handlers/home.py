"""App Home: where to spend the next 30 minutes (the top open topics), the user's open gaps and drafts, the team
backlog, this week's numbers, the last digest."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.blocks import build_home_view
from bot.blocks.home import MAX_BACKLOG
from bot.present import stats_view, topic_views
from bot.services import Services, threads
from bot.services.digest import stats_detail
from bot.services.loop_insights import top_topics
from bot.services.stats import weekly_stats
from bot.slack.client import publish_home
from handlers import present

log = logging.getLogger(__name__)


def handle_app_home_opened(event: dict[str, Any], services: Services, client: WebClient) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab fires this event too
    user, now = event["user"], services.clock()
    mine, _ = threads.gap_rows(services, user=user)
    backlog, total = threads.gap_rows(services, limit=MAX_BACKLOG)
    week = stats_view(stats_detail(services, weekly_stats(services, now=now, weeks=1))).current
    view = present.home_view(
        user, mine=mine, backlog=backlog, backlog_total=total, now=now, week=week,
        last_digest=present.digest_summary(threads.last_digest(services)),
        review_channel=services.settings.review_channel, topics=topic_views(top_topics(services, now=now)),
    )
    publish_home(client, user_id=user, view=build_home_view(view))
    log.info("home published user=%r gaps=%d backlog=%d", user, len(mine), total)
