"""Named scheduled jobs, registered in one place.

Each job takes `now` (tests call it directly with a fixed time), owns its units of work through the
services, and logs and swallows its own exceptions so one failing run never stops the scheduler.
Exactly once across instances: every job runs under `bot.services.claims.job_claim` (the digest and the
weekly post take theirs in `bot.slack.digest`). With a work queue (serve, run) the slow ones (`QUEUED`) are queued
when they fire and run by a worker (`bot/queue/tasks.py: scheduled`), under the same claims.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient

from bot import present
from bot.blocks import build_draft_reminder, build_recurrence_notice
from bot.blocks.notices import build_regression_notice
from bot.services import Services
from bot.services.claims import NotClaimed, job_claim, last_finished
from bot.services.conversation_scan import as_utc
from bot.services.digest import is_digest_day, local_now
from bot.slack.client import SlackPostError, post_message
from bot.slack.digest import DigestPostResult, post_digest, post_weekly_stats

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[..., Any]

JOB_DEFAULTS = {"misfire_grace_time": 3600, "coalesce": True, "max_instances": 1}
RECURRENCE_TIME = (7, 0)  # daily, after the nightly imports
RECURRENCE_WINDOW = dt.timedelta(days=1)  # scanned at least; more when the last scan is older
RECURRENCES = "recurrences"  # the recurrence scan's job name (its claims tell when it last ran)


def _guarded(job: Callable[..., T]) -> Callable[..., T | None]:
    """Log (with the traceback) and swallow any exception: the scheduler keeps running."""

    @functools.wraps(job)
    def run(services: Services, client: WebClient, *, now: dt.datetime) -> T | None:
        try:
            return job(services, client, now=now)
        except Exception:
            log.exception("scheduled job %s failed now=%s", job.__name__, now.isoformat())
            return None

    return run


@_guarded
def digest_job(services: Services, client: WebClient, *, now: dt.datetime) -> DigestPostResult | None:
    """Today's digest to the review channel (a no-op when it was already posted)."""
    channel = services.settings.review_channel
    if not channel:
        log.warning("digest job skipped: FLYWHEEL_REVIEW_CHANNEL is not set")
        return None
    day = local_now(services, now).date()
    if not is_digest_day(services, day):  # FLYWHEEL_DIGEST_DAYS (`flywheel digest` posts on any day)
        log.info("digest job skipped day=%s: not one of FLYWHEEL_DIGEST_DAYS", day.isoformat())
        return None
    return post_digest(services, client, day=day, channel=channel)


@_guarded
def weekly_stats_job(services: Services, client: WebClient, *, now: dt.datetime) -> bool:
    """Last week's stats and chart to the stats channel."""
    channel = services.settings.stats_channel
    if not channel:
        log.info("weekly stats job skipped: FLYWHEEL_STATS_CHANNEL is not set")
        return False
    return post_weekly_stats(services, client, now=now, channel=channel)


@_guarded
def regression_job(services: Services, client: WebClient, *, now: dt.datetime) -> int:
    """Replay the regression suite; tell each broken gap's thread. Returns how many broke."""
    from bot.services.permissions import SCHEDULER
    from bot.services.regression import run_regressions
    from bot.services.regression_notice import broken_fix

    night = local_now(services, now).date().isoformat()
    try:
        with job_claim(services, job="regressions", period=night):  # once a night across instances
            results = run_regressions(services, actor=SCHEDULER)
    except NotClaimed:
        log.info("nightly regressions already run or running night=%s", night)
        return 0
    broke = [r for r in results if r.broke]
    log.info("nightly regressions cases=%d broke=%d errors=%d", len(results), len(broke),
             sum(1 for r in results if r.error))
    for r in broke:
        try:  # the broken turn before/after, with open the article / edit and retry / roll back
            fix = broken_fix(services, r)
            if fix is None:
                continue  # flagged outside Slack: no thread to post in
            notice = build_regression_notice(present.regression_notice_view(fix))
            post_message(client, channel=fix.channel, thread_ts=fix.thread_ts, **notice.as_kwargs())
        except Exception:  # noqa: BLE001 - one thread we cannot post to must not hide the others
            log.exception("regression notice failed gap_id=%r channel=%r", r.gap_id, r.thread_channel)
    return len(broke)


@_guarded
def reminder_job(services: Services, client: WebClient, *, now: dt.datetime) -> int:
    """A friendly reminder in the thread of each draft quiet for `draft_reminder_hours`, once per quiet period.
    Returns how many were posted."""
    from bot.services.reminders import due_reminders, record_reminder

    posted = 0
    try:
        # once an hour across instances
        with job_claim(services, job="reminders", period=local_now(services, now).strftime("%Y-%m-%dT%H")):
            for r in due_reminders(services, now=now):
                if not (r.thread_channel and r.thread_ts):
                    continue  # flagged outside Slack: no thread to post in
                try:
                    post_message(client, channel=r.thread_channel, thread_ts=r.thread_ts,
                                 **build_draft_reminder(present.reminder_view(r, now=now)).as_kwargs())
                except SlackPostError:  # the thread's channel is gone or closed to us: don't retry every hour
                    record_reminder(services, r, now=now, posted=False)
                    continue
                except Exception:  # noqa: BLE001 - one thread we cannot post to must not hide the others
                    log.exception("draft reminder failed gap_id=%r channel=%r", r.gap_id, r.thread_channel)
                    continue
                record_reminder(services, r, now=now)
                posted += 1
    except NotClaimed:
        return 0
    log.info("draft reminders posted=%d", posted)
    return posted


@_guarded
def recurrence_job(services: Services, client: WebClient, *, now: dt.datetime) -> int:
    """Link the conversations imported since the last scan that came back wrong after their gap was fixed, and say
    so in each fixed gap's thread (mentioning who fixed it). Returns how many notices were posted."""
    from bot.services.loop_insights import recurrence_notices
    from bot.services.recurrence import scan_recurrences

    day = local_now(services, now).date().isoformat()
    try:
        with job_claim(services, job=RECURRENCES, period=day):  # once a day across instances
            last = last_finished(services, RECURRENCES, before=day)
            since = min(filter(None, (as_utc(now) - RECURRENCE_WINDOW, last)))
            found = scan_recurrences(services, since=since)  # links each once: a rerun finds nothing new
    except NotClaimed:
        log.info("recurrence scan already run or running day=%s", day)
        return 0
    posted = 0
    newest = {r.gap_id: r.conversation_id for r in sorted(found, key=lambda r: as_utc(r.imported_at))}
    for notice in recurrence_notices(services, found):
        view = present.recurrence_notice_view(notice)
        view = replace(view, **_recurrence_turn(services, notice.gap_id, newest.get(notice.gap_id)))
        message = build_recurrence_notice(view).as_kwargs()
        try:
            post_message(client, channel=notice.channel, thread_ts=notice.thread_ts, **message)
            posted += 1
        except Exception:  # noqa: BLE001 - one thread we cannot post to must not hide the others
            log.exception("recurrence notice failed gap_id=%r channel=%r", notice.gap_id, notice.channel)
    log.info("recurrence scan since=%s found=%d notices=%d", since.isoformat(), len(found), posted)
    return posted


def _recurrence_turn(services: Services, gap_id: int, conversation_id: int | None) -> dict[str, Any]:
    """The recurrence notice's before/after: the newest conversation's broken turn (the customer's message and the
    agent's answer), the agent's answer when the fix last passed its replay, the gap's article and latest draft."""
    from sqlalchemy import select

    from bot.domain import ReplayKind, Verdict
    from bot.services.authoring import latest_draft
    from bot.services.digest_focus import focus_turn
    from bot.services.matching import question_for
    from storage.models import Article, Conversation, Gap, ReplayRun

    with services.session() as s:
        gap, conv = s.get(Gap, gap_id), s.get(Conversation, conversation_id) if conversation_id else None
        if gap is None:
            return {}
        passed = s.scalar(select(ReplayRun.after_answer).where(
            ReplayRun.gap_id == gap_id, ReplayRun.verdict == Verdict.PASS.value,
            ReplayRun.kind.in_([ReplayKind.PUBLISH.value, ReplayKind.REGRESSION.value])).order_by(ReplayRun.id.desc()))
        article = s.get(Article, gap.article_id) if gap.article_id else None
        draft = latest_draft(s, gap_id)
        turn = {}
        if conv is not None:
            messages = list(conv.messages)
            focus = focus_turn([(m.role, m.text, m.meta or {}) for m in messages])
            if focus is not None:
                turn = {"question": question_for(messages, messages[focus].position), "after": messages[focus].text}
        return {**turn, "before": passed, "article_url": article.external_url if article else None,
                "draft_id": draft.id if draft else None}


@_guarded
def verification_job(services: Services, client: WebClient, *, now: dt.datetime) -> int:
    """Publishes a crash cut short, and verifications the agent could not run ("published, verification
    pending"), finished by themselves when due (each gap under its own claim). Returns the gaps done."""
    from bot.services.publishing import resume_verifications

    return len(resume_verifications(services))


@_guarded
def pull_job(services: Services, client: WebClient, *, now: dt.datetime) -> dict[str, Any]:
    """The scheduled conversation pulls (FLYWHEEL_PULL_SCHEDULE, FLYWHEEL_PULL_SOURCES), each under its source's
    lock: a pull already running (a manual `flywheel pull`, another instance) is skipped. Returns the reports."""
    from bot.integrations.sources import pull_scheduled

    return dict(pull_scheduled(services))


@_guarded
def kb_sync_job(services: Services, client: WebClient, *, now: dt.datetime) -> int:
    """The scheduled help-centre sync (FLYWHEEL_KB_SYNC_SOURCE on FLYWHEEL_KB_SYNC_SCHEDULE), once per tick across
    instances. Returns how many articles were created, updated or removed from search."""
    from bot.services.kb_sync import SyncBusy, run_sync

    source = services.settings.kb_sync_source
    if source is None:
        return 0
    try:
        with job_claim(services, job="kb-sync", period=as_utc(now).strftime("%Y-%m-%dT%H:%M")):
            done = run_sync(services, source)
    except (NotClaimed, SyncBusy):  # this tick ran elsewhere, or a `kb sync` from the CLI is running
        log.info("kb sync already run or running source=%s", source)
        return 0
    return done.created + done.updated + done.removed + done.restored


@_guarded
def retention_job(services: Services, client: WebClient, *, now: dt.datetime) -> int | None:
    """The work queue's leftovers (`queued_results`) older than FLYWHEEL_QUEUE_RESULTS_DAYS, deleted once a day
    across instances (`bot/services/retention.py`). Returns the rows deleted; None when already run today."""
    from bot.services.retention import prune_daily

    return prune_daily(services, day=local_now(services, now).date().isoformat(), now=now)


# Run as queued jobs when the process has a work queue (the task name is what a queued job stores: never rename).
QUEUED: dict[str, Job] = {job.__name__: job for job in (digest_job, weekly_stats_job, pull_job, kb_sync_job)}


def fire(services: Services, client: WebClient, job: Job, now: dt.datetime) -> None:
    """What the scheduler runs at a trigger: a queued job (`QUEUED`, with a work queue; one per job and minute
    while it waits), else the job itself, here."""
    if services.queue is None or job.__name__ not in QUEUED:
        job(services, client, now=now)
        return
    key = f"{job.__name__}:{as_utc(now):%Y-%m-%dT%H:%M}"
    try:
        services.queue.enqueue("scheduled", {"job": job.__name__, "now": now.isoformat()}, key=key)
    except Exception:  # noqa: BLE001 - the queue is down: the next trigger tries again; the scheduler goes on
        log.exception("scheduled job not queued job=%s", job.__name__)


def _at(hhmm: str) -> tuple[int, int]:
    hour, minute = hhmm.split(":")
    return int(hour), int(minute)


def build_scheduler(services: Services, client: WebClient) -> BackgroundScheduler:
    """The scheduler with every job, in `settings.timezone` (not started)."""
    settings = services.settings
    tz = ZoneInfo(settings.timezone)
    scheduler = BackgroundScheduler(timezone=tz, job_defaults=dict(JOB_DEFAULTS))

    def add(job: Job, trigger: CronTrigger) -> None:
        def run() -> None:
            fire(services, client, job, services.clock())

        scheduler.add_job(run, trigger, id=job.__name__, name=job.__name__, replace_existing=True, **JOB_DEFAULTS)

    hour, minute = _at(settings.digest_time)
    add(digest_job, CronTrigger(day_of_week=settings.digest_days, hour=hour, minute=minute, timezone=tz))
    if settings.stats_channel:
        add(weekly_stats_job, CronTrigger(day_of_week="mon", hour=9, minute=0, timezone=tz))
    else:
        log.info("weekly stats not scheduled: FLYWHEEL_STATS_CHANNEL is not set")
    add(regression_job, CronTrigger(hour=2, minute=0, timezone=tz))
    add(recurrence_job, CronTrigger(hour=RECURRENCE_TIME[0], minute=RECURRENCE_TIME[1], timezone=tz))
    add(reminder_job, CronTrigger(minute=30, timezone=tz))  # hourly
    add(verification_job, CronTrigger(minute="*/10", timezone=tz))
    add(retention_job, CronTrigger(hour=3, minute=30, timezone=tz))  # daily, after the nightly regressions
    if services.integrations.pull_schedule:  # e.g. "0 * * * *"; checked when the settings are read
        add(pull_job, CronTrigger.from_crontab(services.integrations.pull_schedule, timezone=tz))
    if settings.kb_sync_source:
        add(kb_sync_job, CronTrigger.from_crontab(settings.kb_sync_schedule, timezone=tz))
    return scheduler
