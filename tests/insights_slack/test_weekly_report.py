"""The weekly report agrees everywhere: several weeks of a team's activity (the known world of
tests/support/world.py, plus a reviewed digest and model calls in week 47), then the headline and every funnel
number of `flywheel stats --json`, a signed `/flywheel stats`, `flywheel weekly --preview` and the Monday post
are compared with each other. Also `/flywheel stats share` (the chart to the channel, role-checked) and
`flywheel weekly` under the Monday job's claim.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from typer.testing import CliRunner

import bot.jobs as jobs
from bot.cli import app
from bot.services.gaps import flag, mark_looks_good
from bot.services.stats import FUNNEL_TERMS
from storage.models import Conversation, Digest, DigestItem, ModelCall
from tests.insights_slack.conftest import ANN, BOB, DAN, STATS
from tests.support.harness import Harness, texts, wait
from tests.support.world import NOW, World, t

MONDAY = t("2026-11-30 09:00")
PRICES = {"gpt-4o-mini": (0.15, 0.60)}
# funnel field in `stats --json` -> label of its field in Slack (bot/blocks/stats.py STAT_LABELS)
FIELDS = {"reviewed": "Conversations reviewed", "looks_good": "Looked good", "flagged": "New gaps (flagged)",
          "drafted": "Drafted", "published": "Published", "verified": "Verified by replay", "failed": "Replay failed",
          "dismissed": "Dismissed",
          "open_backlog": "Open backlog", "recurrences": "Came back after a fix"}
runner = CliRunner()


@pytest.fixture
def team(world: World, db_url_engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> World:
    """Week 47 gets a reviewed digest (4 random picks: 2 flagged as new gaps, 2 fine) and model calls in both weeks;
    the CLI runs on the same database, clock and prices."""
    svc = world.services
    world.at("2026-11-17 09:00")
    with svc.session() as s:
        digest = Digest(day=dt.date(2026, 11, 17), channel="C1", created_at=t("2026-11-17 09:00"))
        s.add(digest)
        s.flush()
        for pos, key in enumerate(("ra1", "sa1", "n3", "n4")):
            s.add(DigestItem(digest_id=digest.id, conversation_id=world.conv[key], position=pos, pick="random"))
            s.get(Conversation, world.conv[key]).sampled_on = dt.date(2026, 11, 17)
    for key in ("ra1", "sa1"):
        world.at("2026-11-17 10:00")
        assert flag(svc, conversation_id=world.conv[key], user=DAN, on_match="new").created
    for key in ("n3", "n4"):
        mark_looks_good(svc, conversation_id=world.conv[key], user=DAN)
    with svc.session() as s:
        for at, n in (("2026-11-18 10:00", 2), ("2026-11-24 10:00", 3)):
            s.add_all(ModelCall(at=t(at), task="outline", model="gpt-4o-mini", input_tokens=1000, output_tokens=500,
                                latency_ms=100, ok=True) for _ in range(n))
    svc.settings.model_prices = dict(PRICES)
    world.at(NOW)
    url, _ = db_url_engine
    for key, value in {"DATABASE_URL": url, "FLYWHEEL_LLM_PROVIDER": "offline", "COLUMNS": "200",
                       "FLYWHEEL_MODEL_PRICES": json.dumps(PRICES), "FLYWHEEL_STATS_CHANNEL": STATS,
                       "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": svc.settings.slack_api_url or ""}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("bot.services._utcnow", lambda: svc.clock())  # the CLI's clock is the world's
    monkeypatch.chdir(tmp_path)
    return world


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def stats_json() -> dict[str, Any]:
    return json.loads(cli("stats", "--json", "--weeks", "2"))  # type: ignore[no-any-return]


def slack_fields(blocks: list[dict[str, Any]]) -> dict[str, int]:
    """'*Label*\\n12 ↑3' fields -> {label: 12}."""
    out = {}
    for b in blocks:
        for f in b.get("fields", []):
            label, value = f["text"].split("\n")
            out[label.strip("*")] = int(value.split()[0])
    return out


def by_id(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {b["block_id"]: texts(b) for b in blocks if "block_id" in b}


def test_headline_and_funnel_agree_in_the_cli_and_slack(team: World, harness: Harness) -> None:
    data = stats_json()
    week, before = data["weeks"][-1], data["weeks"][-2]
    # week 48 so far: p1 flagged of 3 random picks; week 47: 2 of 4
    assert (week["random_flagged"], week["random_reviewed"], before["random_flagged"], before["random_reviewed"]) \
        == (1, 3, 2, 4)
    assert data["headline"] == ("The agent fell short in about 33% of conversations this week (6–79%, 3 random "
                                "reviews), down from 50% last week (within the margin of error).")
    # new gaps: p1, p2, s1, s2, b1, d1 (pa1 joined p1's gap: a co-flag is not a new gap)
    assert (week["flagged"], week["drafted"], week["published"], week["verified"]) == (6, 3, 3, 3)
    assert before["flagged"] == 4  # r1, r2, and the two flagged picks of the week-47 digest
    assert (week["model_calls"], before["model_calls"]) == (3, 2)
    assert week["cost_usd"] == pytest.approx(3 * (1000 * 0.15 + 500 * 0.60) / 1e6)
    assert set(data["definitions"]) == set(FUNNEL_TERMS) and "co-flag" in data["definitions"]["flagged"]

    assert harness.command("stats", user=ANN).status == 200
    answer = harness.slack.wait_for("webhook", 1, timeout=15)[-1].params
    blocks = by_id(answer["blocks"])
    assert data["headline"] in blocks["headline"]
    fields = slack_fields(answer["blocks"])
    assert fields == {label: week[key] for key, label in FIELDS.items()}
    assert "3 calls ↑1" in blocks["cost"] and "4,500 tokens" in blocks["cost"] and "$0.00" not in blocks["cost"]
    assert "*6 new gaps*" in blocks["funnel"] and "flagged conversations" not in texts(answer)
    assert answer["response_type"] == "ephemeral"


def test_the_monday_post_and_the_preview_say_what_stats_json_says(team: World, client: Any, slack: Any) -> None:
    team.at(MONDAY)
    data = stats_json()
    week = data["weeks"][-2]  # on Monday, the week the post is about is the one before the current
    preview = cli("weekly", "--preview")
    assert not slack.calls_to("chat.postMessage")  # --preview: no Slack call
    headline = ("The agent fell short in about 33% of conversations last week (6–79%, 3 random reviews), down from "
                "50% the week before (within the margin of error).")
    assert headline in " ".join(preview.split())
    assert f"Gaps: {week['flagged']} new → {week['drafted']} drafted → {week['published']} published → " \
           f"{week['verified']} verified" in preview
    assert "Model calls: 3 · 4,500 tokens" in preview and "Where to spend the next 30 minutes" in preview

    assert jobs.weekly_stats_job(team.services, client, now=MONDAY) is True
    (post,) = slack.calls_to("chat.postMessage")
    blocks = by_id(post.blocks)
    assert headline in blocks["headline"]
    assert slack_fields(post.blocks) == {label: week[key] for key, label in FIELDS.items() if key != "open_backlog"} \
        | {"Open backlog": week["open_backlog"]}
    # the order a manager reads: headline, funnel, topics, credit, cost
    order = [b.get("block_id") for b in post.blocks if b.get("block_id") in ("headline", "funnel", "top-topics",
                                                                             "credit", "cost")]
    assert order == ["headline", "funnel", "top-topics", "credit", "cost"]
    assert "3 calls" in blocks["cost"]
    # `flywheel weekly` now: the same claim as the Monday job, so nothing twice; --force posts again
    assert "already in" in cli("weekly")
    assert "Posted the weekly report" in cli("weekly", "--force")
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_top_topics_link_to_their_gaps_threads(team: World, threads: dict[int, tuple[str, str]], client: Any,
                                              slack: Any) -> None:
    team.at(MONDAY)
    assert jobs.weekly_stats_job(team.services, client, now=MONDAY) is True
    topics = by_id(slack.last("chat.postMessage").blocks)["top-topics"]
    raw = [b for b in slack.last("chat.postMessage").blocks if b.get("block_id") == "top-topics"][0]["text"]["text"]
    assert f"#{team.gap['p2']}" in topics
    assert f"|#{team.gap['p2']}>" in raw and "<https://" in raw  # a link to the gap's thread (chat.getPermalink)
    assert len(slack.calls_to("chat.getPermalink")) >= 2


def test_stats_share_posts_the_chart_to_the_channel(team: World, harness: Harness) -> None:
    assert harness.command("stats share", user=BOB).status == 200
    answer = harness.slack.wait_for("webhook", 1, timeout=15)[-1].params
    assert answer["response_type"] == "in_channel" and "fell short" in texts(answer)
    done = harness.slack.last("files.completeUploadExternal")
    assert done.ok and harness.slack.last("upload").body.startswith(b"\x89PNG")
    assert done.params["channel_id"] == harness.slack.calls_to("files.completeUploadExternal")[0].params["channel_id"]


def test_stats_share_is_role_checked(team: World, harness: Harness) -> None:
    team.services.settings.admins = ANN
    assert harness.command("stats share", user=BOB).status == 200
    refused = texts(wait(lambda: harness.slack.calls_to("chat.postEphemeral"), what="the refusal")[-1].params)
    assert "Only Flywheel admins may share the stats in the channel" in refused
    assert "FLYWHEEL_ROLE_SHARE_STATS" in refused and "digest" not in refused  # its own role, not `digest now`'s
    assert not harness.slack.calls_to("files.completeUploadExternal") and not harness.slack.calls_to("upload")
    assert not [c for c in harness.slack.calls_to("webhook") if c.params.get("response_type") == "in_channel"]


def test_stats_share_has_its_own_role(team: World, harness: Harness) -> None:
    settings = team.services.settings
    settings.admins, settings.role_share_stats = ANN, BOB  # BOB may share the stats, not post the digest now
    assert harness.command("digest now", user=BOB).status == 200
    refused = texts(wait(lambda: harness.slack.calls_to("chat.postEphemeral"), what="the refusal")[-1].params)
    assert "Only Flywheel admins may post the digest now" in refused
    assert harness.command("stats share", user=BOB).status == 200
    answer = harness.slack.wait_for("webhook", 1, timeout=15)[-1].params
    assert answer["response_type"] == "in_channel" and "fell short" in texts(answer)
    assert harness.slack.last("files.completeUploadExternal").ok
