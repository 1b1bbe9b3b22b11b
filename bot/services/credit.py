"""Credit where it is due: who reviewed, flagged, drafted and fixed in a week, and the team's streak of days with a
closed loop. People listed in FLYWHEEL_CREDIT_OPT_OUT are never named; their work still counts in the team totals.

- reviewed: sampled conversations they reviewed (flagged or "looks good"), by `DigestItem.reviewed_by`;
- flagged: gaps they flagged or co-flagged (`GapFlagger`, one per gap);
- drafted: gaps they wrote a draft for (generated or edited: one per gap, however many versions);
- fixed: gaps verified in the week, credited to whoever published the version that passed (a verification that
  was resumed after a crash, or re-run by someone else, does not move the credit).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from bot.domain import GapState, ReviewStatus
from bot.services import Services
from bot.services.conversation_scan import as_utc
from storage.models import AuditEvent, DigestItem, Draft, GapFlagger

KINDS = ("reviewed", "flagged", "drafted", "fixed")
STREAK_HORIZON_DAYS = 366


class CreditSettings(BaseSettings):
    """Until `credit_opt_out` joins `bot.settings.Settings`: FLYWHEEL_CREDIT_OPT_OUT, comma-separated user ids."""

    model_config = SettingsConfigDict(env_prefix="FLYWHEEL_", env_file=".env", extra="ignore")
    credit_opt_out: str = ""


def opt_out_ids(raw: str | None = None) -> frozenset[str]:
    """The opted-out user ids, from `raw` or else FLYWHEEL_CREDIT_OPT_OUT."""
    text = CreditSettings().credit_opt_out if raw is None else raw
    return frozenset(u.strip() for u in text.split(",") if u.strip())


class Counts(BaseModel):
    reviewed: int = 0
    flagged: int = 0
    drafted: int = 0
    fixed: int = 0

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property (pydantic docs)
    @property
    def total(self) -> int:
        return self.reviewed + self.flagged + self.drafted + self.fixed


class PersonCredit(Counts):
    user: str


class Streak(BaseModel):
    days: int = 0  # consecutive days with at least one gap verified, ending today or yesterday
    start: dt.date | None = None
    end: dt.date | None = None  # today or yesterday; None when there is no streak
    today_done: bool = False  # a loop was closed today already (else today keeps the streak alive)


class Credit(BaseModel):
    week_start: dt.date
    week_end: dt.date  # exclusive
    people: list[PersonCredit]  # most credit first; opted-out people left out
    team: Counts  # everyone's work, opted-out people included
    streak: Streak


def weekly_credit(
    services: Services, *, week_start: dt.date | dt.datetime, week_end: dt.date | dt.datetime,
    now: dt.datetime | None = None, tz: dt.tzinfo = dt.UTC, opt_out: Iterable[str] | None = None,
) -> Credit:
    """Who did what in [week_start, week_end) (dates are midnights in `tz`), and the streak as of `now`."""
    start, end = _instant(week_start, tz), _instant(week_end, tz)
    hidden = opt_out_ids() if opt_out is None else frozenset(opt_out)
    per: dict[str, dict[str, set[object]]] = defaultdict(lambda: defaultdict(set))
    with services.session() as session:
        reviews = select(DigestItem.id, DigestItem.reviewed_by).where(
            DigestItem.reviewed_by.is_not(None), DigestItem.review_status != ReviewStatus.PENDING.value,
            DigestItem.reviewed_at >= start, DigestItem.reviewed_at < end)
        flags = select(GapFlagger.gap_id, GapFlagger.user_id).where(
            GapFlagger.added_at >= start, GapFlagger.added_at < end)
        drafts = select(Draft.gap_id, Draft.created_by).distinct().where(
            Draft.created_by.is_not(None), Draft.created_at >= start, Draft.created_at < end)
        for kind, stmt in (("reviewed", reviews), ("flagged", flags), ("drafted", drafts)):
            for thing, user in session.execute(stmt):
                if user is not None:
                    per[user][kind].add(thing)
        for gap_id, user in session.execute(_fixers(start, end)):
            if user:
                per[user]["fixed"].add(gap_id)
    people = [PersonCredit(user=u, **{k: len(v[k]) for k in KINDS}) for u, v in per.items()]
    team = Counts(**{k: sum(getattr(p, k) for p in people) for k in KINDS})
    shown = sorted((p for p in people if p.user not in hidden), key=lambda p: (-p.total, p.user))
    return Credit(week_start=start.astimezone(tz).date(), week_end=end.astimezone(tz).date(), people=shown,
                  team=team, streak=team_streak(services, now=now or services.clock(), tz=tz))


def _fixers(start: dt.datetime, end: dt.datetime) -> Select[int, str | None]:
    """(gap id, person) per verification in the window: the actor of the latest publish before it, else its own."""
    verified, published = aliased(AuditEvent), aliased(AuditEvent)
    publisher = (
        select(published.actor)
        .where(published.entity == "gap", published.entity_id == verified.entity_id,
               published.to_state == GapState.PUBLISHED.value, published.id < verified.id)
        .order_by(published.id.desc()).limit(1).scalar_subquery()
    )
    return select(verified.entity_id, func.coalesce(publisher, verified.actor)).where(
        verified.entity == "gap", verified.to_state == GapState.VERIFIED.value,
        verified.at >= start, verified.at < end)


def team_streak(services: Services, *, now: dt.datetime, tz: dt.tzinfo = dt.UTC) -> Streak:
    """Consecutive days (in `tz`) with at least one gap verified, ending today or yesterday."""
    now = as_utc(now)
    with services.session() as session:
        ats = session.scalars(select(AuditEvent.at).where(
            AuditEvent.entity == "gap", AuditEvent.to_state == GapState.VERIFIED.value,
            AuditEvent.at >= now - dt.timedelta(days=STREAK_HORIZON_DAYS), AuditEvent.at <= now))
        days = {as_utc(at).astimezone(tz).date() for at in ats}
    today = now.astimezone(tz).date()
    end = next((d for d in (today, today - dt.timedelta(days=1)) if d in days), None)
    if end is None:
        return Streak()
    start = end
    while start - dt.timedelta(days=1) in days:
        start -= dt.timedelta(days=1)
    return Streak(days=(end - start).days + 1, start=start, end=end, today_done=end == today)


def _instant(value: dt.date | dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return as_utc(value)
    return dt.datetime.combine(value, dt.time(), tzinfo=tz).astimezone(dt.UTC)
