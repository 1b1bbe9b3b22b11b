"""The weekly report in Slack: the Monday post (and `flywheel weekly`), `/flywheel stats`, and the chart that
`/flywheel stats share` posts. One service call (`bot.services.weekly.weekly_report`), one mapping
(`bot.present.insights`), one builder (`bot.blocks.insights.build_weekly_message`), every Web API call through
`bot.slack.client`. Exactly once per (channel, week) under the `stats:<channel>` job claim, as the Monday job.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

from slack_sdk import WebClient

from bot.blocks.common import Message
from bot.blocks.insights import build_weekly_message
from bot.blocks.stats import with_stats_hint
from bot.present.insights import report_insights_view, report_stats_view
from bot.services import Services
from bot.services.claims import NotClaimed, job_claim
from bot.services.permissions import Action, require
from bot.services.stats import iso_week
from bot.services.weekly import GapThread, Period, WeeklyReport, last_week_moment, weekly_report
from bot.slack.client import permalink, post_message, upload_file

log = logging.getLogger(__name__)

CHART_WEEKS = 6


def gap_permalinks(client: WebClient | None, report: WeeklyReport) -> dict[int, str]:
    """Links to the threads of the top topics' gaps (at most a few chat.getPermalink calls)."""
    threads: Iterable[GapThread] = (g for tg in report.topics for g in tg.gaps)
    links: dict[int, str] = {}
    if client is None:
        return links
    for gap in threads:
        if gap.channel and gap.thread_ts and gap.gap_id not in links:
            url = permalink(client, channel=gap.channel, ts=gap.thread_ts)
            if url:
                links[gap.gap_id] = url
    return links


def report_message(report: WeeklyReport, client: WebClient | None = None) -> Message:
    """The weekly post as a message; with a client, each topic's gaps link to their threads."""
    return build_weekly_message(report_stats_view(report), report_insights_view(report, gap_permalinks(client, report)))


def upload_chart(services: Services, client: WebClient, *, channel: str, week_of: dt.datetime, key: str) -> None:
    """The trend chart (gap rate with its 95% interval, funnel, time to fix), as a file in `channel`."""
    from bot.services.trend import render_trend_chart, weekly_trend  # matplotlib: imported only when drawing

    with tempfile.TemporaryDirectory(prefix="flywheel-chart-") as tmp:
        path = render_trend_chart(weekly_trend(services, now=week_of, weeks=CHART_WEEKS),
                                  Path(tmp) / f"flywheel-{key}.png")
        upload_file(client, channel=channel, path=path, title=f"Flywheel loop {key}",
                    initial_comment=f"The trend, week by week (to {key}): the gap rate with its 95% "
                    "interval, the loop's funnel and the median time to fix.")


def preview_weekly(services: Services, *, now: dt.datetime) -> tuple[WeeklyReport, Message]:
    """What the Monday post would say now (no Slack call): last week's report and its message."""
    ref, _ = last_week_moment(services, now=now)
    report = weekly_report(services, now=now, week_of=ref)
    return report, report_message(report)


def post_weekly(services: Services, client: WebClient, *, now: dt.datetime, channel: str, force: bool = False) -> bool:
    """Post last ISO week's report and the trend chart to `channel`, once per week (the `stats:<channel>` claim):
    the Monday job, `flywheel weekly`. `force` posts again without the claim. True when posted by this call."""
    ref, key = last_week_moment(services, now=now)

    def post() -> None:
        report = weekly_report(services, now=now, week_of=ref)
        post_message(client, channel=channel, **report_message(report, client).as_kwargs())
        upload_chart(services, client, channel=channel, week_of=ref, key=key)

    if force:
        post()
    else:
        try:
            with job_claim(services, job=f"stats:{channel}", period=key):
                post()
        except NotClaimed as skipped:
            log.info("weekly stats not posted week=%s channel=%r: %s", key, channel, skipped.status)
            return False
    log.info("weekly stats posted week=%s channel=%r forced=%r", key, channel, force)
    return True


def stats_message(services: Services, client: WebClient | None, *, period: Period) -> Message:
    """`/flywheel stats [week|month]`: the period so far, the same report as the Monday post."""
    report = weekly_report(services, now=services.clock(), period=period)
    return with_stats_hint(report_message(report, client), period=period)


def share_chart(services: Services, client: WebClient, *, channel: str, user: str | None) -> None:
    """`/flywheel stats share`: the trend chart to the channel the command came from, if `user` has the
    FLYWHEEL_ROLE_SHARE_STATS role (else NotAllowed, nothing posted)."""
    require(services, user, Action.SHARE_STATS)
    now = services.clock()
    upload_chart(services, client, channel=channel, week_of=now, key=iso_week(now))
