"""Five weeks of a team's loop, driven through the real services on a fixed, advancing clock (the team and its
ledger: tests/support/team_weeks.py): every Monday an import and the digest (random share + risk picks) posted to the
mock Slack, then reviews (looks good, flags, a conversation joining an older gap, a co-flag), drafts, publishes whose
replay passes or fails, a dismissal, a regression that breaks, and priced model calls. The expected numbers are
counted from the simulated events, not by the stats service. Each Sunday night `flywheel stats --json`, a signed
`/flywheel stats` and App Home (with its week-over-week arrows) must say them; each Monday, after the new week has
begun (and an older gap was closed that morning), `flywheel weekly --preview` and the Monday post say last week's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bot.services.gaps import dismiss
from bot.slack.client import make_web_client
from bot.slack.weekly import post_weekly
from tests.insights_slack.conftest import ANN, BOB, REVIEW, STATS
from tests.support.cli import cli_env, run
from tests.support.clock import Clock
from tests.support.harness import Harness, texts, wait
from tests.support.team_weeks import PRICES, WEEK1, Team, simulate_week

WEEKS = 5
LABELS = {"reviewed": "Conversations reviewed", "looks_good": "Looked good", "flagged": "New gaps (flagged)",
          "drafted": "Drafted", "published": "Published", "verified": "Verified by replay", "failed": "Replay failed",
          "dismissed": "Dismissed",
          "open_backlog": "Open backlog", "recurrences": "Came back after a fix"}


def wilson(k: int, n: int) -> tuple[float, float, float]:
    p, z2 = k / n, 1.96 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = 1.96 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def headline_bits(cur: dict[str, Any], prev: dict[str, Any], this: str, before: str) -> list[str]:
    """The fragments the headline must hold: the rate, its interval and sample, and the change in words."""
    rate, low, high = wilson(cur["random_flagged"], cur["random_reviewed"])
    n = cur["random_reviewed"]
    bits = [f"about {round(100 * rate)}% of conversations {this} ({round(100 * low)}–{round(100 * high)}%, "
            f"{n} random review{'s' if n != 1 else ''})"]
    if prev["random_reviewed"]:
        now, then = round(100 * rate), round(100 * prev["random_flagged"] / prev["random_reviewed"])
        change = f"{'down' if now < then else 'up'} from {then}% {before}"
        bits.append(f"the same as {before}" if now == then else change)
    return bits


def arrow(now: int, before: int) -> str:
    delta = now - before
    return " →" if delta == 0 else f" ↑{delta}" if delta > 0 else f" ↓{-delta}"


def field_texts(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """'*Label*\\n12 ↑3' fields -> {label: '12 ↑3'}."""
    return {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1] for b in blocks for f in b.get("fields", [])}


def expected_fields(cur: dict[str, Any], prev: dict[str, Any]) -> dict[str, str]:
    return {label: f"{cur[key]}{arrow(cur[key], prev[key])}" for key, label in LABELS.items()}


@pytest.fixture
def cli(services: Any, db_url_engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`flywheel …` on the same database, clock and prices as the team."""
    cli_env(tmp_path, monkeypatch, db_url_engine)
    monkeypatch.setenv("FLYWHEEL_MODEL_PRICES", json.dumps(PRICES))
    monkeypatch.setattr("bot.services._utcnow", lambda: services.clock())


def stats_json(weeks: int) -> dict[str, Any]:
    return json.loads(run("stats", "--json", "--weeks", str(weeks)))  # type: ignore[no-any-return]


def cost_bits(cur: dict[str, Any], prev: dict[str, Any]) -> list[str]:
    calls = cur["model_calls"]
    return [f"{calls} call{'' if calls == 1 else 's'}{arrow(calls, prev['model_calls'])}",
            f"{cur['input_tokens'] + cur['output_tokens']:,} tokens", f"about ${cur['cost_usd']:,.2f}"]


def by_id(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {b["block_id"]: texts(b) for b in blocks if "block_id" in b}


def check_sunday(team: Team, harness: Harness, k: int) -> None:
    """Sunday night of week k: `stats --json` (every week so far), `/flywheel stats` and App Home agree."""
    team.day(k, 6, 23)
    led = team.ledger
    cur, prev = led.week(k), led.week(k - 1)
    data = stats_json(k + 1)
    assert [{key: w[key] for key in cur} for w in data["weeks"]] == [led.week(j) for j in range(k + 1)]
    for bit in headline_bits(cur, prev, "this week", "last week"):
        assert bit in data["headline"], (bit, data["headline"])

    n = len(harness.slack.calls_to("webhook")) + 1
    assert harness.command("stats", user=ANN).status == 200
    answer = harness.slack.wait_for("webhook", n, timeout=15)[-1].params
    blocks = by_id(answer["blocks"])
    assert data["headline"] in blocks["headline"]
    assert field_texts(answer["blocks"]) == expected_fields(cur, prev)
    assert all(bit in blocks["cost"] for bit in cost_bits(cur, prev)), blocks["cost"]

    harness.slack.home_views.pop(BOB, None)
    assert harness.event({"type": "app_home_opened", "user": BOB, "channel": "D0BOB", "tab": "home"}).status == 200
    home = wait(lambda: next((v["blocks"] for v in [harness.slack.home_views.get(BOB) or {}]
                              if any(b.get("block_id") == "week" for b in v.get("blocks", []))), None),
                what="the full App Home")
    assert field_texts(home) == expected_fields(cur, prev)


def check_monday(team: Team, slack: Any, k: int) -> None:
    """Monday 09:30 after week k (the new week has begun): the preview and the post say week k's numbers."""
    team.day(k + 1, hours=9.5)
    cur, prev = team.ledger.week(k), team.ledger.week(k - 1)
    assert {key: stats_json(2)["weeks"][0][key] for key in cur} == cur
    preview = " ".join(run("weekly", "--preview").split())
    assert (f"Gaps: {cur['flagged']} new → {cur['drafted']} drafted → {cur['published']} published → "
            f"{cur['verified']} verified · {cur['failed']} failed · {cur['dismissed']} dismissed · "
            f"{cur['reviewed']} conversations reviewed ({cur['looks_good']} looked good)") in preview
    assert f"Open backlog: {cur['open_backlog']} gaps" in preview
    assert (f"Model calls: {cur['model_calls']} · {cur['input_tokens'] + cur['output_tokens']:,} tokens · "
            f"estimated ${cur['cost_usd']:.2f}") in preview
    bits = headline_bits(cur, prev, "last week", "the week before")
    assert all(bit in preview for bit in bits), (bits, preview)

    assert post_weekly(team.svc, team.client, now=team.clock(), channel=STATS)
    post = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == STATS][-1]
    blocks = by_id(post.blocks)
    assert all(bit in blocks["headline"] for bit in bits), blocks["headline"]
    assert field_texts(post.blocks) == expected_fields(cur, prev)
    assert all(bit in blocks["cost"] for bit in cost_bits(cur, prev)), blocks["cost"]


def test_five_weeks_of_a_team_agree_everywhere(services: Any, fake_llm: Any, harness: Harness, slack: Any,
                                               cli: None, tmp_path: Path) -> None:
    services.settings.digest_size, services.settings.random_share = 6, 0.5
    services.settings.model_prices = dict(PRICES)
    services.settings.model_calls_per_hour = 0  # the per-person budget runs on real time, not the team's clock
    services.clock = Clock(WEEK1)
    team = Team(services, make_web_client(services.settings), tmp_path, fake_llm, REVIEW)
    for k in range(WEEKS + 1):
        items = team.monday_start(k)
        team.day(k, hours=9.25)  # the first review, before last week's post
        first = team.review(*items[0], items[0][0] in team.gappy, ANN)
        if k == 4:  # an older gap closed on Monday morning, before last week's post: last week's backlog had it
            team.day(k, hours=9 + 1 / 3)
            dismiss(team.svc, gap_id=team.kept[2], user=BOB, reason="not worth an article")
            team.ledger.enter(team.kept[2], "dismissed", team.clock())
        if k:
            check_monday(team, slack, k - 1)
        if k < WEEKS:
            simulate_week(team, k, items, first)
            check_sunday(team, harness, k)
    led = team.ledger
    totals = {key: sum(led.week(j)[key] for j in range(WEEKS)) for key in ("published", "failed", "dismissed")}
    assert totals["failed"] >= 3 and totals["dismissed"] == 2  # two failed replays and a broken regression
    assert len(slack.calls_to("chat.postMessage")) > WEEKS * 7  # the digests and the Monday posts went out
