"""Topics ranked by impact through the real entry points: a signed `/flywheel gaps topics` (and `gaps open`), and
App Home. Known world at NOW, last 28 days: passwords (impact 14), refunds (13), shipping (8), deletion (2) are open;
billing is fixed."""

from __future__ import annotations

from typing import Any

from tests.insights_slack.conftest import ANN, BOB
from tests.support.harness import Harness, texts
from tests.support.world import World

ORDER = ("p1", "r1", "s1", "d1")  # topic ids are their smallest gap ids
FIRST_OPEN = {"p1": "p2", "r1": "r2", "s1": "s2", "d1": "d1"}


def respond(harness: Harness, text: str, *, user: str = ANN) -> dict[str, Any]:
    before = len(harness.slack.calls_to("webhook"))
    assert harness.command(text, user=user).status == 200
    return harness.slack.wait_for("webhook", before + 1, timeout=15)[-1].params


def test_gaps_topics_lists_open_topics_by_impact(world: World, harness: Harness) -> None:
    answer = respond(harness, "gaps topics share")
    assert answer["response_type"] == "in_channel" and answer["text"].startswith("Open topics by impact: 4, first ")
    topics = [b for b in answer["blocks"] if b.get("block_id", "").startswith("topic-")]
    assert [b["block_id"] for b in topics] == [f"topic-{world.gap[k]}" for k in ORDER]
    lines = [b["text"]["text"] for b in topics]
    assert [line.split("_Impact ")[1].split(" ")[0] for line in lines] == ["14", "13", "8", "2"]
    assert "password" in lines[0] and "refund" in lines[1] and "shipping" in lines[2]
    assert "8 conversations in 28 days, 6 went wrong (5 escalated)" in lines[0]
    for line, key in zip(lines, ORDER, strict=True):
        assert f"start with gap #{world.gap[FIRST_OPEN[key]]}" in line
    assert "Impact:" in texts(answer["blocks"])  # says how impact is counted


def test_gaps_open_starts_with_the_top_three_topics(world: World, harness: Harness) -> None:
    answer = respond(harness, "gaps open", user=BOB)
    assert answer["text"] == "Open gaps: 4 gaps"  # the list itself is unchanged
    header, top, *rest = answer["blocks"]
    assert header["type"] == "header" and top["block_id"] == "top-topics"
    lines = top["text"]["text"].splitlines()
    assert "Where to spend the next 30 minutes" in lines[0]
    assert [line.split("*")[1].split(".")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert all(f"open gap #{world.gap[FIRST_OPEN[k]]}" in line for line, k in zip(lines[1:], ORDER, strict=False))
    assert {b.get("block_id") for b in rest} >= {f"gap-{world.gap[k]}" for k in ("r2", "p2", "s2", "d1")}
    mine = respond(harness, "gaps mine", user=BOB)
    assert "top-topics" not in {b.get("block_id") for b in mine["blocks"]}


def test_app_home_shows_where_to_spend_the_next_30_minutes(world: World, harness: Harness) -> None:
    assert harness.event({"type": "app_home_opened", "user": ANN, "channel": "D0ANN", "tab": "home"}).status == 200
    view = harness.slack.wait_for("views.publish")[-1].json_param("view")
    ids = [b.get("block_id") for b in view["blocks"]]
    assert "top-topics" in ids and ids.index("top-topics") < ids.index(f"backlog-{world.gap['r2']}")
    top = view["blocks"][ids.index("top-topics")]["text"]["text"]
    assert "Where to spend the next 30 minutes" in top
    assert top.index("password") < top.index("refund") < top.index("shipping")
    assert f"gap #{world.gap['d1']}" not in top  # the fourth topic: only the top three
    assert f"start with gap #{world.gap['p2']}" in top


def test_app_home_still_shows_when_ranking_topics_fails(world: World, harness: Harness, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr("bot.services.loop_insights.rank_topics", broken)
    assert harness.event({"type": "app_home_opened", "user": ANN, "channel": "D0ANN", "tab": "home"}).status == 200
    view = harness.slack.wait_for("views.publish")[-1].json_param("view")
    ids = [b.get("block_id") for b in view["blocks"]]
    assert "top-topics" not in ids and f"backlog-{world.gap['r2']}" in ids  # the rest of the tab is there
    assert any(r.getMessage() == "insight failed part=top topics" and r.exc_info for r in caplog.records)
