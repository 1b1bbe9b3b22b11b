"""The Slack-facing digest service: post the day's digest, and the weekly stats, exactly once.

It takes a `WebClient` but never a Bolt object, so the scheduler, the CLI and a slash command all call the
same functions. Exactly once per (job, period): a `JobClaim` row inserted with ON CONFLICT DO NOTHING is the
gate; `Digest.header_ts` and `DigestItem.slack_ts`, each stored right after its post in its own short
transaction, make a resumed run post only what is missing. A claim is a lease renewed with every post: a
run that fails releases it at once, a crashed one loses it after `LEASE`; a rerun then resumes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from bot.blocks import build_digest_header, build_digest_item, build_weekly_message
from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine, StatsNumbers, StatsView
from bot.domain import GapState, ReviewStatus
from bot.errors import FlywheelError
from bot.services import Services
from bot.services.recurrence import recurrence_counts
from bot.services.sampling import SampleItem, create_sample
from bot.services.stats import StatsReport, WeekStats, weekly_stats
from bot.slack.client import SlackPostError, post_message
from storage.models import AuditEvent, Conversation, Digest, DigestItem, Draft, Gap, JobClaim

log = logging.getLogger(__name__)

PACE_SECONDS = 1.1  # chat.postMessage allows ~1 message a second per channel
LEASE = dt.timedelta(minutes=5)  # an unfinished claim not renewed for this long belongs to a crashed run
STATS_WEEKS = 6


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


# --- the claim ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    job: str
    period: str
    owner: str = field(default_factory=lambda: f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}")

    def mine(self) -> tuple[ColumnElement[bool], ...]:
        return JobClaim.job_name == self.job, JobClaim.period_key == self.period, JobClaim.owner == self.owner


def claim(services: Services, c: Claim) -> str:
    """Take the (job, period) claim: "claimed" (new, or resuming an unfinished one nobody holds),
    "done" (finished before) or "busy" (another run holds a fresh lease)."""
    now = services.clock()
    insert = pg_insert if services.engine.dialect.name == "postgresql" else sqlite_insert
    where = (JobClaim.job_name == c.job, JobClaim.period_key == c.period)
    with services.session() as s:
        stmt = (insert(JobClaim).values(job_name=c.job, period_key=c.period, owner=c.owner, claimed_at=now)
                .on_conflict_do_nothing(index_elements=["job_name", "period_key"]).returning(JobClaim.id))
        if s.execute(stmt).scalar_one_or_none() is not None:  # RETURNING: rowcount is -1 on psycopg
            return "claimed"
    with services.session() as s:  # resume an unfinished run that released its claim or crashed
        stale = or_(JobClaim.owner.is_(None), JobClaim.claimed_at < now - LEASE)
        stmt = update(JobClaim).where(*where, JobClaim.finished_at.is_(None), stale)
        if s.execute(stmt.values(owner=c.owner, claimed_at=now)).rowcount == 1:
            log.info("resuming job=%r period=%r", c.job, c.period)
            return "claimed"
        finished = s.scalar(select(JobClaim.finished_at).where(*where))
    return "done" if finished is not None else "busy"


def heartbeat(services: Services, session: Session, c: Claim) -> None:
    """Renew the lease (in the caller's transaction, with the progress it records)."""
    session.execute(update(JobClaim).where(*c.mine()).values(claimed_at=services.clock()))


def release(services: Services, c: Claim) -> None:
    """Give an unfinished claim back so the next run resumes it at once (never raises: the caller
    is already handling the error that stopped the run)."""
    try:
        with services.session() as s:
            s.execute(update(JobClaim).where(*c.mine()).values(owner=None))
    except Exception:  # noqa: BLE001 - the lease then expires on its own
        log.exception("could not release job=%r period=%r", c.job, c.period)


def finish(services: Services, c: Claim, digest_id: int | None = None) -> None:
    now = services.clock()
    with services.session() as s:
        s.execute(update(JobClaim).where(*c.mine()).values(finished_at=now))
        if digest_id is not None:
            s.execute(update(Digest).where(Digest.id == digest_id).values(posted_at=now))


# --- the daily digest ---------------------------------------------------------------------------
def post_digest(
    services: Services, client: WebClient, *, day: dt.date, channel: str,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestPostResult:
    """Post the digest of `day` to `channel` once: the header, then one message per conversation."""
    c = Claim(f"digest:{channel}", day.isoformat())
    state = claim(services, c)
    if state != "claimed":
        log.info("digest not posted day=%s channel=%r: %s", c.period, channel, state)
        return DigestPostResult(day, channel, "already_posted" if state == "done" else "in_progress")
    try:
        digest_id, sample = create_sample(services, day=day, channel=channel)
        pacer = _Pacer(sleep)
        header_ts, posted = _post_header(services, client, c, digest_id, sample, day, channel, pacer)
        for view in _pending_items(services, digest_id):
            ts = _post(client, channel, build_digest_item(view).as_kwargs(), pacer, day)
            with services.session() as s:
                s.execute(update(DigestItem).where(DigestItem.id == view.item_id).values(slack_ts=ts))
                heartbeat(services, s, c)
            posted += 1
    except BaseException:
        release(services, c)
        raise
    finish(services, c, digest_id)
    log.info("digest posted day=%s channel=%r digest_id=%r messages=%d", c.period, channel, digest_id, posted)
    return DigestPostResult(day, channel, "posted", digest_id, header_ts, len(sample), posted)


class _Pacer:
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


def _post(client: WebClient, channel: str, message: dict[str, Any], pacer: _Pacer, day: dt.date) -> str:
    pacer.wait()
    try:
        return post_message(client, channel=channel, **message)
    except SlackPostError as exc:  # logged (code + channel) by post_message
        raise DigestNotPosted(f"The digest for {day} was not posted to channel {channel}: {exc.message}",
                              code=exc.code, channel=channel) from exc
    except SlackClientError as exc:  # SlackApiError (ok:false, 5xx after retries) or no connection at all
        response = getattr(exc, "response", None)
        code = str(response.get("error", "")) if response is not None else type(exc).__name__
        log.error("digest post failed channel=%r error=%r", channel, code)
        raise FlywheelError(f"Could not post the digest to {channel} ({code}). Run `flywheel digest` again later: "
                            "what was already posted is not posted twice.") from exc


def _post_header(services: Services, client: WebClient, c: Claim, digest_id: int, sample: list[SampleItem],
                 day: dt.date, channel: str, pacer: _Pacer) -> tuple[str | None, int]:
    with services.session() as s:
        header_ts = s.scalar(select(Digest.header_ts).where(Digest.id == digest_id))
    if header_ts:
        return header_ts, 0
    settings = services.settings
    view = DigestHeaderView(
        day=day.isoformat(), count=len(sample), risk_count=sum(1 for i in sample if i.pick == "risk"),
        flag_emoji=settings.flag_emoji, ok_emoji=settings.ok_emoji, yesterday=loop_line(services, day=day),
    )
    ts = _post(client, channel, build_digest_header(view).as_kwargs(), pacer, day)
    with services.session() as s:
        s.execute(update(Digest).where(Digest.id == digest_id).values(header_ts=ts))
        heartbeat(services, s, c)
    return ts, 1


def _pending_items(services: Services, digest_id: int) -> list[DigestItemView]:
    """View models of the items not posted yet, built inside one short read."""
    settings = services.settings
    with services.session() as s:
        rows = s.scalars(
            select(DigestItem)
            .where(DigestItem.digest_id == digest_id, DigestItem.slack_ts.is_(None))
            .options(selectinload(DigestItem.conversation).selectinload(Conversation.messages))
            .order_by(DigestItem.position)
        ).all()
        return [
            DigestItemView(
                item_id=i.id, conversation_id=i.conversation_id, conversation_ref=i.conversation.external_id,
                excerpt_turns=tuple((m.role, m.text) for m in i.conversation.messages),
                pick=i.pick, reasons=tuple(str(r) for r in i.reasons), status=i.review_status,
                position=i.position + 1, total_turns=len(i.conversation.messages), reviewed_by=i.reviewed_by,
                flag_emoji=settings.flag_emoji, ok_emoji=settings.ok_emoji,
            )
            for i in rows
        ]


def loop_line(services: Services, *, day: dt.date) -> LoopLine:
    """What the loop did the day before `day` (midnight to midnight in the configured timezone)."""
    tz = ZoneInfo(services.settings.timezone)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    stop = start + dt.timedelta(days=1)
    counted = (GapState.PUBLISHED.value, GapState.VERIFIED.value, GapState.FAILED.value)
    with services.session() as s:
        flagged = s.scalar(select(func.count()).select_from(Gap).where(Gap.flagged_at >= start, Gap.flagged_at < stop))
        drafted = s.scalar(select(func.count(func.distinct(Draft.gap_id)))
                           .where(Draft.created_at >= start, Draft.created_at < stop))
        moves = dict(s.execute(
            select(AuditEvent.to_state, func.count())
            .where(AuditEvent.entity == "gap", AuditEvent.to_state.in_(counted),
                   AuditEvent.at >= start, AuditEvent.at < stop)
            .group_by(AuditEvent.to_state)
        ).all())
    return LoopLine(flagged=flagged or 0, drafted=drafted or 0, published=moves.get("published", 0),
                    verified=moves.get("verified", 0), failed=moves.get("failed", 0))


def local_now(services: Services, now: dt.datetime) -> dt.datetime:
    aware = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    return aware.astimezone(ZoneInfo(services.settings.timezone))


def catch_up(services: Services, client: WebClient, *, now: dt.datetime,
             sleep: Callable[[float], None] = time.sleep) -> DigestPostResult | None:
    """At startup: post today's digest if its time has passed and it was not posted (the scheduler
    does not replay a run missed while the process was down)."""
    channel = services.settings.review_channel
    if not channel:
        log.info("catch-up skipped: FLYWHEEL_REVIEW_CHANNEL is not set")
        return None
    local = local_now(services, now)
    hour, minute = (int(p) for p in services.settings.digest_time.split(":"))
    if local.time() < dt.time(hour, minute):
        return None
    result = post_digest(services, client, day=local.date(), channel=channel, sleep=sleep)
    if result.status == "in_progress":  # another instance posting, or a run that crashed: its lease runs out
        sleep(LEASE.total_seconds() + 1)
        result = post_digest(services, client, day=local.date(), channel=channel, sleep=sleep)
    return result


# --- the weekly stats ---------------------------------------------------------------------------
def stats_view(services: Services, report: StatsReport) -> StatsView:
    """The builder's view model of a stats report (the current period and the one before)."""
    def numbers(week: WeekStats) -> StatsNumbers:
        start = dt.datetime.combine(week.week_start, dt.time(), tzinfo=dt.UTC)
        stop = dt.datetime.combine(week.week_end, dt.time(), tzinfo=dt.UTC)
        with services.session() as s:
            reviews = dict(s.execute(
                select(DigestItem.review_status, func.count())
                .where(DigestItem.reviewed_at >= start, DigestItem.reviewed_at < stop)
                .group_by(DigestItem.review_status)
            ).all())
        return StatsNumbers(
            reviewed=week.reviewed, flagged=reviews.get(ReviewStatus.FLAGGED.value, 0),
            looks_good=reviews.get(ReviewStatus.LOOKS_GOOD.value, 0), gaps_opened=week.flagged,
            drafts=week.drafted, published=week.published, verified=week.verified, failed=week.failed,
            open_backlog=week.open_backlog, recurrences=recurrence_counts(services, start=start, end=stop),
        )

    previous = numbers(report.previous) if report.previous is not None else None
    return StatsView(period_label=report.current.label, current=numbers(report.current), previous=previous,
                     period=report.period)


def post_weekly_stats(services: Services, client: WebClient, *, now: dt.datetime, channel: str) -> bool:
    """Post last ISO week's stats, credit, streak and top topics, and the trend chart, to `channel`, once per week.
    True when posted by this call."""
    # Posted on Monday morning: the report is about the week that just ended.
    local = local_now(services, now)
    ref = local - dt.timedelta(days=local.weekday() + 1)
    year, week, _ = ref.isocalendar()
    key = f"{year}-W{week:02d}"
    c = Claim(f"stats:{channel}", key)
    state = claim(services, c)
    if state != "claimed":
        log.info("weekly stats not posted week=%s channel=%r: %s", key, channel, state)
        return False
    try:
        from bot.services.loop_insights import weekly_insights
        from bot.services.trend import render_trend_chart, weekly_trend  # matplotlib: imported only when drawing

        report = weekly_stats(services, now=ref, weeks=STATS_WEEKS)
        insights = weekly_insights(services, now=now, week_start=ref.date() - dt.timedelta(days=ref.weekday()))
        message = build_weekly_message(stats_view(services, report), insights)
        post_message(client, channel=channel, **message.as_kwargs())
        with tempfile.TemporaryDirectory(prefix="flywheel-chart-") as tmp:
            path = render_trend_chart(weekly_trend(services, now=ref, weeks=STATS_WEEKS),
                                      Path(tmp) / f"flywheel-{key}.png")
            client.files_upload_v2(channel=channel, file=str(path), filename=path.name, title=f"Flywheel loop {key}",
                                   initial_comment=f"The trend, week by week (to {key}): the gap rate with its 95% "
                                   "interval, the loop's funnel and the median time to fix.")
    except BaseException:
        release(services, c)
        raise
    finish(services, c)
    log.info("weekly stats posted week=%s channel=%r", key, channel)
    return True
