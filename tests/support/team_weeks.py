"""Five weeks of a team's loop for tests/insights_slack/test_weeks_simulation.py: `Team` acts through the real
services (import, the digest posted to a mock Slack, reviews, flags, joins, co-flags, drafts, publishes whose replay
passes or fails, a dismissal, a regression that breaks, model calls) on a settable clock, and writes each event in
its `Ledger`, from which the expected weekly numbers are counted without the stats service."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.domain import Verdict
from bot.llm.base import Judgement
from bot.llm.remote import ModelUsage, report_usage
from bot.services.authoring import write_draft
from bot.services.conversations import resolve
from bot.services.gaps import dismiss, flag, mark_looks_good
from bot.services.publishing import publish
from bot.services.regression import run_regressions
from bot.slack.digest import post_digest
from storage.models import DigestItem, Gap, RegressionCase
from tests.support.clock import Clock
from tests.support.factories import load

WEEK1 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)  # a Monday: ISO week 2026-W41
PRICES = {"gpt-4o": (2.5, 10.0)}  # USD per 1M input and output tokens
ACTIVE = {"open", "drafting", "failed"}
FAIL = Judgement(verdict=Verdict.FAIL, reasons=["the answer still lacks the fact"], confidence=0.9)
ANN, BOB, CAT, DAN, EVE = "U0ANN", "U0BOB", "U0CAT", "U0DAN", "U0EVE"


@dataclass
class Ledger:
    """What the simulation did, as it did it: the expected numbers are counted from this alone."""

    reviews: dict[int, tuple[str, str, dt.datetime]] = field(default_factory=dict)  # conv -> (pick, status, at)
    flagged: dict[int, dt.datetime] = field(default_factory=dict)  # new gap -> when
    drafted: dict[int, dt.datetime] = field(default_factory=dict)  # gap -> first draft
    states: list[tuple[int, str, dt.datetime]] = field(default_factory=list)  # every state a gap entered
    calls: list[tuple[dt.datetime, int, int]] = field(default_factory=list)  # (at, input, output tokens)

    def enter(self, gap: int, state: str, at: dt.datetime) -> None:
        self.states.append((gap, state, at))

    def state_of(self, gap: int) -> str:
        return [s for g, s, _ in self.states if g == gap][-1]

    def week(self, k: int) -> dict[str, Any]:
        start, end = WEEK1 + dt.timedelta(weeks=k), WEEK1 + dt.timedelta(weeks=k + 1)

        def inside(at: dt.datetime) -> bool:
            return start <= at < end

        done = [r for r in self.reviews.values() if inside(r[2])]
        moved = {s: len({g for g, st, at in self.states if st == s and inside(at)})
                 for s in ("published", "verified", "failed", "dismissed")}
        last: dict[int, str] = {}
        for gap, state, at in sorted(self.states, key=lambda e: e[2]):
            if at < end:
                last[gap] = state
        calls = [c for c in self.calls if inside(c[0])]
        rin, rout = PRICES["gpt-4o"]
        return {"reviewed": len(done), "looks_good": sum(1 for r in done if r[1] == "looks_good"),
                "random_reviewed": sum(1 for r in done if r[0] == "random"),
                "random_flagged": sum(1 for r in done if r[0] == "random" and r[1] == "flagged"),
                "flagged": sum(1 for at in self.flagged.values() if inside(at)),
                "drafted": sum(1 for at in self.drafted.values() if inside(at)), **moved,
                "open_backlog": sum(1 for s in last.values() if s in ACTIVE), "recurrences": 0,
                "model_calls": len(calls), "input_tokens": sum(c[1] for c in calls),
                "output_tokens": sum(c[2] for c in calls),
                "cost_usd": round(sum(c[1] * rin + c[2] * rout for c in calls) / 1e6, 6)}


class Team:
    """The simulated team: every action goes through a real service (or the Slack digest job) at `clock`."""

    def __init__(self, services: Any, client: Any, tmp_path: Path, fake_llm: Any, review: str) -> None:
        self.svc, self.client, self.tmp, self.llm, self.review_channel = services, client, tmp_path, fake_llm, review
        self.clock: Clock = services.clock
        self.ledger, self.gappy, self.umbrella = Ledger(), set[int](), 0
        self.to_fix: list[int] = []  # failed (replay or regression): edited and published again next week
        self.kept: list[int] = []  # gaps left undrafted

    def at(self, when: dt.datetime) -> None:
        self.clock.now = when

    def day(self, k: int, days: int = 0, hours: float = 0) -> None:
        """Week k, `days` after its Monday, at `hours` (UTC)."""
        self.at(WEEK1 + dt.timedelta(weeks=k, days=days, hours=hours))

    def monday_start(self, k: int) -> list[tuple[int, str]]:
        """Import the week's conversations and post the digest; returns its items (conversation, pick)."""
        day = WEEK1 + dt.timedelta(weeks=k)
        self.day(k, hours=8)
        load(self.svc, self.tmp, [conversation(k, i, gap=gap) for i in range(6) for gap in (True, False)],
             name=f"week{k}.jsonl")
        self.gappy |= {resolve(self.svc, f"test:w{k}g{i}") for i in range(6)}
        self.day(k, hours=9)
        result = post_digest(self.svc, self.client, day=day.date(), channel=self.review_channel, sleep=lambda _: None)
        assert result.status == "posted" and result.digest_id
        with self.svc.session() as s:
            items = s.execute(select(DigestItem.conversation_id, DigestItem.pick)
                              .where(DigestItem.digest_id == result.digest_id).order_by(DigestItem.position)).all()
        assert sorted(p for _, p in items) == ["random"] * 3 + ["risk"] * 3
        return [(c, p) for c, p in items]

    def review(self, conv: int, pick: str, gap_like: bool, user: str, *, join: int | None = None) -> int | None:
        now = self.clock()
        if not gap_like:
            mark_looks_good(self.svc, conversation_id=conv, user=user)
            self.ledger.reviews[conv] = (pick, "looks_good", now)
            return None
        result = flag(self.svc, conversation_id=conv, user=user, on_match=join if join else "new")
        self.ledger.reviews[conv] = (pick, "flagged", now)
        if join:
            assert result.joined and not result.created and result.gap_id == join
            return None
        assert result.created and result.gap_id
        self.ledger.flagged[result.gap_id] = now
        self.ledger.enter(result.gap_id, "open", now)
        return result.gap_id

    def draft(self, gap: int, user: str) -> None:
        write_draft(self.svc, gap_id=gap, user=user)
        self.ledger.drafted.setdefault(gap, self.clock())
        self.ledger.enter(gap, "drafting", self.clock())

    def publish(self, gap: int, user: str, *, passes: bool = True) -> None:
        if not passes:
            self.llm.enqueue("judge", FAIL)
        outcome = publish(self.svc, gap_id=gap, user=user)
        assert outcome.state == ("verified" if passes else "failed")
        self.ledger.enter(gap, "published", self.clock())
        self.ledger.enter(gap, outcome.state, self.clock())

    def model_calls(self, n: int) -> None:
        for i in range(n):
            report_usage(ModelUsage("draft", "gpt-4o", 20_000 + 1000 * i, 9_000, 1.5, True))
            self.ledger.calls.append((self.clock(), 20_000 + 1000 * i, 9_000))


def conversation(k: int, i: int, *, gap: bool) -> dict[str, Any]:
    """Week k's conversation i: the agent did not know (a human answered), or a fine one."""
    topic = f"feature {chr(65 + k)}{i}"
    if not gap:
        return {"id": f"w{k}n{i}", "metadata": {"resolved": True, "csat": 5}, "messages": [
            {"role": "user", "text": "Where can I see my order status?"},
            {"role": "agent", "text": "Open Orders in your account to see the status of each order."}]}
    return {"id": f"w{k}g{i}", "metadata": {"escalated": True, "resolved": False, "csat": 2}, "messages": [
        {"role": "user", "text": f"How do I turn on {topic} for my team account?"},
        {"role": "agent", "text": "I'm sorry, I don't have information about that."},
        {"role": "human", "text": f"Turn on {topic} under Settings, then Team, then {topic}: admins only."}]}


def simulate_week(team: Team, k: int, items: list[tuple[int, str]], first: int | None) -> None:
    """The rest of week k after the digest (item 0 was reviewed at 09:15, giving `first`)."""
    led = team.ledger

    def at(days: int, hour: int) -> None:
        team.day(k, days, hour)

    new, joined = [first] if first else [], False
    for n, (conv, pick) in enumerate(items[1:5], start=1):  # the last item stays pending: not a review
        at(0, 9 + n)
        join = team.umbrella if k and conv in team.gappy and not joined else None
        joined |= join is not None
        gap = team.review(conv, pick, conv in team.gappy, (ANN, BOB, CAT, DAN)[n % 4], join=join)
        new += [gap] if gap else []
    assert joined or not k, f"week {k}: no conversation joined the older gap"
    at(0, 15)
    team.model_calls(k + 1)
    if not team.umbrella:
        team.umbrella = new.pop(0)  # stays open: the older gap that later conversations join
    assert len(new) >= 2, f"week {k}: {new}"
    at(1, 9)  # a co-flag: a second teammate flags a conversation that already has a gap
    with team.svc.session() as s:
        conv = s.get_one(Gap, new[0]).conversation_id
    co = flag(team.svc, conversation_id=conv, user=EVE, on_match="new")
    assert co.joined and not co.created and co.gap_id == new[0]
    drafted = new[:-1]
    team.kept.append(new[-1])
    for i, gap in enumerate(drafted):
        at(1, 14 + i)
        team.draft(gap, BOB)
    failing = drafted[0] if k in (1, 3) else None
    for i, gap in enumerate(drafted):
        at(2, 10 + i)
        team.publish(gap, CAT, passes=gap != failing)
    for i, gap in enumerate(team.to_fix):  # failed last week: edited and published again
        at(2, 16 + i)
        team.draft(gap, ANN)
        team.publish(gap, ANN)
    team.to_fix = [failing] if failing else []
    if k == 2:  # the gap left undrafted last week is dismissed
        at(3, 10)
        dismiss(team.svc, gap_id=team.kept[1], user=ANN, reason="duplicate")
        led.enter(team.kept[1], "dismissed", team.clock())
    at(3, 12)
    team.model_calls(2)
    if k == 3:  # the nightly replay breaks a fix of week 0
        at(4, 2)
        broken = next(g for g in sorted(led.drafted) if led.state_of(g) == "verified")
        with team.svc.session() as s:
            case = s.scalar(select(RegressionCase.id).where(RegressionCase.gap_id == broken))
        team.llm.enqueue("judge", FAIL)
        (result,) = run_regressions(team.svc, case_ids=[case])
        assert result.broke
        led.enter(broken, "failed", team.clock())
        team.to_fix.append(broken)
