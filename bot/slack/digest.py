"""Post the day's digest and the weekly stats to Slack, exactly once per (job, period).

The Slack edge of `bot.services.digest`: data from the services, views from `bot.present`, messages from the
`bot.blocks` builders, every Web API call through `bot.slack.client`. It takes a `WebClient` but never a Bolt
object, so the scheduler, the CLI and a slash command all call the same functions. Exactly once: a
`job_claim` gates each run; the header's and each item's ts are stored right after their post (renewing the
lease), so a resumed run posts only what is missing. Posts to one channel are paced (~1 a second).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot import present
from bot.blocks import build_digest_header, build_digest_item
from bot.errors import FlywheelError
from bot.services import Services
from bot.services import digest as data
from bot.services.claims import LEASE, ClaimStatus, NotClaimed, job_claim
from bot.slack.client import SlackPostError, error_code, post_message

log = logging.getLogger(__name__)

PACE_SECONDS = 1.1  # chat.postMessage allows ~1 message a second per channel


class DigestNotPosted(SlackPostError):
    """Slack refused the review channel (not found, bot not invited, archived): the operator must act."""


@dataclass(frozen=True)
class DigestPostResult:
    day: dt.date
    channel: str
    status: str  # "posted" | "already_posted" | "in_progress" (another run holds the claim)
    digest_id: int | None = None
    header_ts: str | None = None
    items: int = 0  # conversations in the digest
    posted: int = 0  # messages posted by this call (the header included)


class Pacer:
    """Keeps posts to one channel at least PACE_SECONDS apart."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self.sleep = sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None:
            remaining = PACE_SECONDS - (time.monotonic() - self.last)
            if remaining > 0:
                self.sleep(remaining)
        self.last = time.monotonic()


def _post(client: WebClient, channel: str, message: dict[str, Any], pacer: Pacer, day: dt.date) -> str:
    pacer.wait()
    try:
        return post_message(client, channel=channel, **message)
    except SlackPostError as exc:  # logged (code + channel) by post_message
        raise DigestNotPosted(f"The digest for {day} was not posted to channel {channel}: {exc.message}",
                              code=exc.code, channel=channel) from exc
    except SlackClientError as exc:  # SlackApiError (ok:false, 5xx after retries) or no connection at all
        code = error_code(exc)
        log.error("digest post failed channel=%r error=%r", channel, code)
        raise FlywheelError(f"Could not post the digest to {channel} ({code}). Run `flywheel digest` again later: "
                            "what was already posted is not posted twice.") from exc


# --- the daily digest ---------------------------------------------------------------------------
def post_digest(
    services: Services, client: WebClient, *, day: dt.date, channel: str,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestPostResult:
    """Post the digest of `day` to `channel` once: the header, then one message per conversation."""
    settings, posted = services.settings, 0
    try:
        with job_claim(services, job=f"digest:{channel}", period=day.isoformat()) as run:
            plan = data.prepare_digest(services, day=day, channel=channel)
            pacer, header_ts = Pacer(sleep), plan.header_ts
            if header_ts is None:
                view = present.digest_header_view(plan, data.loop_day(services, day=day), settings=settings,
                                                  waiting=data.waiting(services, now=services.clock()))
                header_ts = _post(client, channel, build_digest_header(view).as_kwargs(), pacer, day)
                data.record_header(services, run, digest_id=plan.digest_id, ts=header_ts)
                posted += 1
            for item in data.pending_items(services, plan.digest_id):
                message = build_digest_item(present.digest_item_view(item, settings=settings)).as_kwargs()
                data.record_item(services, run, item_id=item.item_id, ts=_post(client, channel, message, pacer, day))
                posted += 1
            run.on_finish(data.mark_posted(services, plan.digest_id))
    except NotClaimed as skipped:
        status = "already_posted" if skipped.status is ClaimStatus.DONE else "in_progress"
        log.info("digest not posted day=%s channel=%r: %s", day.isoformat(), channel, skipped.status)
        return DigestPostResult(day, channel, status)
    log.info("digest posted day=%s channel=%r digest_id=%r messages=%d", day.isoformat(), channel, plan.digest_id,
             posted)
    return DigestPostResult(day, channel, "posted", plan.digest_id, header_ts, plan.count, posted)


def catch_up(services: Services, client: WebClient, *, now: dt.datetime,
             sleep: Callable[[float], None] = time.sleep) -> DigestPostResult | None:
    """At startup: post today's digest if today is a digest day, its time has passed and it was not posted (the
    scheduler does not replay a run missed while the process was down)."""
    channel = services.settings.review_channel
    if not channel:
        log.info("catch-up skipped: FLYWHEEL_REVIEW_CHANNEL is not set")
        return None
    local = data.local_now(services, now)
    hour, minute = (int(p) for p in services.settings.digest_time.split(":"))
    if local.time() < dt.time(hour, minute) or not data.is_digest_day(services, local.date()):
        return None
    result = post_digest(services, client, day=local.date(), channel=channel, sleep=sleep)
    if result.status == "in_progress":  # another instance posting, or a run that crashed: its lease runs out
        sleep(LEASE.total_seconds() + 1)
        result = post_digest(services, client, day=local.date(), channel=channel, sleep=sleep)
    return result


# --- the weekly stats ---------------------------------------------------------------------------
def post_weekly_stats(services: Services, client: WebClient, *, now: dt.datetime, channel: str,
                      force: bool = False) -> bool:
    """Post last ISO week's report (headline, funnel, top topics, credit, cost) and the trend chart to `channel`,
    once per week (`bot.slack.weekly.post_weekly`). True when posted by this call."""
    from bot.slack.weekly import post_weekly

    return post_weekly(services, client, now=now, channel=channel, force=force)
