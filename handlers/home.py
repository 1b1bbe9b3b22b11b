"""App Home: where to spend the next 30 minutes (the top open topics), the user's open gaps and drafts, the team
backlog, this week's numbers, the last digest.

Built after the ack, in the work lane; one build per user at a time (`context["home_builds"]`, a
`bot.slack.dedupe.Coalescer`): an open while that user's Home is being built makes it build once more after,
so two builds never publish out of order and the last view published is the newest."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.blocks import build_home_view
from bot.blocks.home import MAX_BACKLOG
from bot.present import topic_views
from bot.present.insights import funnel_numbers
from bot.services import Services, threads
from bot.services.loop_insights import top_topics
from bot.services.weekly import weekly_report
from bot.slack.client import publish_home
from handlers import present

log = logging.getLogger(__name__)


def handle_app_home_opened(event: dict[str, Any], services: Services, client: WebClient, context: BoltContext) -> None:
    if event.get("tab") != "home" or not isinstance(event.get("user"), str):
        return  # the Messages tab fires this event too
    user = event["user"]
    builds = context.get("home_builds")
    if builds is None:
        publish_full_home(services, client, user)
    elif not builds.run(user, lambda: publish_full_home(services, client, user)):
        log.info("home build already running, one more after it user=%r", user)


def publish_full_home(services: Services, client: WebClient, user: str) -> None:
    now = services.clock()
    mine, _ = threads.gap_rows(services, user=user)
    backlog, total = threads.gap_rows(services, limit=MAX_BACKLOG)
    report = weekly_report(services, now=now, insights=False)  # this week and last, for the arrows
    view = present.home_view(
        user, mine=mine, backlog=backlog, backlog_total=total, now=now, week=funnel_numbers(report.current),
        week_before=funnel_numbers(report.previous) if report.previous is not None else None,
        last_digest=present.digest_summary(threads.last_digest(services)),
        review_channel=services.settings.review_channel, topics=topic_views(top_topics(services, now=now)),
    )
    publish_home(client, user_id=user, view=build_home_view(view))
    log.info("home published user=%r gaps=%d backlog=%d", user, len(mine), total)
