"""App Home through a signed `app_home_opened`: no gap is listed twice (a gap of yours is not repeated in the team
backlog), and this week's numbers carry their change since last week (the report of `bot.services.weekly`)."""

from __future__ import annotations

from typing import Any

from bot.blocks.home import build_home_view
from bot.blocks.models import GapSummary, HomeView, StatsNumbers
from tests.insights_slack.conftest import BOB
from tests.support.harness import Harness, texts, wait
from tests.support.world import World


def full_home(harness: Harness, user: str) -> list[dict[str, Any]]:
    """The Home view once it is built (a loading view may come first)."""
    def ready() -> list[dict[str, Any]] | None:
        view = harness.slack.home_views.get(user)
        blocks = (view or {}).get("blocks") or []
        return blocks if any(b.get("block_id") == "week" for b in blocks) else None

    return wait(ready, what="the full App Home")


def test_app_home_lists_no_gap_twice_and_shows_the_week_against_the_last(world: World, harness: Harness) -> None:
    assert harness.event({"type": "app_home_opened", "user": BOB, "channel": "D0BOB", "tab": "home"}).status == 200
    blocks = full_home(harness, BOB)
    gap_ids = [b["block_id"].split("-", 1)[1] for b in blocks
               if b.get("block_id", "").split("-")[0] in ("mine", "drafts", "backlog")]
    assert f"{world.gap['d1']}" in gap_ids  # bob flagged d1: his, and open in the team backlog too…
    assert len(gap_ids) == len(set(gap_ids))  # …but listed once
    assert "listed above" in texts(blocks)
    week = next(b for b in blocks if b.get("block_id") == "week")
    assert "change since last week" in texts(week)
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for b in blocks for f in b.get("fields", [])}
    # week 48 so far against week 47: 6 new gaps against 2 (r1, r2), 3 verified against 1 (r1)
    assert fields["*New gaps (flagged)*"] == "6 ↑4" and fields["*Verified by replay*"] == "3 ↑2"


def test_the_backlog_counts_what_it_leaves_out() -> None:
    mine = GapSummary(gap_id=7, title="Refunds", state="open")
    view = HomeView(user_id="U1", my_gaps=(mine,), backlog=(mine, GapSummary(gap_id=8, title="Reset", state="open")),
                    backlog_total=5, week=StatsNumbers(flagged=2), week_before=StatsNumbers(flagged=3))
    blocks = view_blocks(view)
    ids = [b.get("block_id") for b in blocks]
    assert ids.count("mine-7") == 1 and "backlog-7" not in ids and "backlog-8" in ids
    text = texts(blocks)
    assert "1 of them listed above." in text and "…and 3 more" in text  # 5 = 1 above + 1 here + 3 more
    assert "*New gaps (flagged)*\n2 ↓1" in text


def view_blocks(view: HomeView) -> list[dict[str, Any]]:
    return build_home_view(view).to_dict()["blocks"]  # type: ignore[no-any-return]
