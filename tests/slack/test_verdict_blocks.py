"""The verdict message (shadow vs live, collateral turns, 'Verdict is wrong'), the override modal and its
thread notice, and the judge's agreement in the stats post: pure builders, within Slack's limits."""

from __future__ import annotations

from bot.blocks.draft import build_verdict_message
from bot.blocks.ids import ActionId, InputId, RunRef, ThreadMeta
from bot.blocks.models import CollateralView, OverrideNoticeView, OverrideView, StatsNumbers, StatsView, VerdictView
from bot.blocks.stats import build_stats_message
from bot.blocks.verdict import build_override_modal, build_override_notice, parse_override
from tests.support.block_rules import message_problems, view_problems
from tests.support.blockkit import action_ids, all_text, by_action, message_dict, view_dict

HOURS = CollateralView(position=3, question="What are the hours of collection? Mail me at ana@example.com",
                       before="Monday - Friday from 7:00 a.m. to 3:00 p.m.", after="Call Republic Services.",
                       reason="It answers a different question.")


def _verdict(**kw: object) -> dict:  # type: ignore[type-arg]
    base: dict[str, object] = {"gap_id": 4, "verdict": "pass", "before": "I don't know.", "after": "5 days.",
                               "run_id": 12, "kind": "publish"}
    return message_dict(build_verdict_message(VerdictView(**{**base, **kw})))  # type: ignore[arg-type]


def test_a_shadow_test_never_headlines_like_a_live_verdict() -> None:
    for verdict in ("pass", "fail", "unclear", "collateral"):
        shadow, live = _verdict(kind="shadow", verdict=verdict), _verdict(verdict=verdict)
        assert "Shadow test (nothing published): " in shadow["blocks"][0]["text"]["text"]
        assert "Shadow test" not in live["blocks"][0]["text"]["text"]
        assert "shadow test" in shadow["text"] and "verdict" in live["text"]


def test_collateral_is_not_a_pass_and_names_the_turn_before_and_after() -> None:
    msg = _verdict(verdict="collateral", collateral=(HOURS,), draft_id=9)
    text = all_text(msg)
    assert msg["blocks"][0]["text"]["text"].endswith("Not a clean pass: another answer got worse")
    assert "Another answer got worse* (message 3)" in text and "7:00 a.m." in text and "Call Republic" in text
    assert "ana@example.com" not in text  # customer text is redacted
    assert ActionId.EDIT_AND_RETRY in action_ids(msg) and ActionId.PUBLISH not in action_ids(msg)
    many = _verdict(verdict="collateral", collateral=(HOURS,) * 7)
    assert "…and 4 more turns got worse." in all_text(many)
    assert message_problems(many["blocks"]) == []


def test_every_judged_verdict_has_verdict_is_wrong() -> None:
    msg = _verdict(kind="shadow", draft_id=9)
    assert action_ids(msg) == [ActionId.PUBLISH, ActionId.VERDICT_WRONG]
    assert RunRef.load(by_action(msg, ActionId.VERDICT_WRONG)["value"]) == RunRef(run_id=12, gap_id=4)
    assert ActionId.VERDICT_WRONG not in action_ids(_verdict(run_id=None))
    assert message_problems(msg["blocks"]) == []


def test_override_modal_round_trip_and_notice() -> None:
    view = view_dict(build_override_modal(OverrideView(run_id=12, judge_verdict="fail", gap_id=4, channel="C1",
                                                       thread_ts="1.2")))
    assert view_problems(view) == []
    meta = ThreadMeta.load(view["private_metadata"])
    assert (meta.run_id, meta.gap_id, meta.channel, meta.thread_ts) == (12, 4, "C1", "1.2")
    radio = next(b for b in view["blocks"] if b.get("block_id") == InputId.OVERRIDE_VERDICT)["element"]
    assert radio["initial_option"]["value"] == "pass"  # the opposite of the judge's
    submitted = {"state": {"values": {
        InputId.OVERRIDE_VERDICT.value: {InputId.OVERRIDE_VERDICT.value: {"selected_option": {"value": "pass"}}},
        InputId.OVERRIDE_REASON.value: {InputId.OVERRIDE_REASON.value: {"value": "  Same facts,\nother words. "}},
    }}}
    given = parse_override(submitted)
    assert (given.verdict, given.reason) == ("pass", "Same facts, other words.")
    notice = message_dict(build_override_notice(OverrideNoticeView(
        run_id=12, judge_verdict="fail", human_verdict="pass", user="U1", reason=given.reason,
        note="Gap #4 moved failed → verified.", agrees=False)))
    assert "<@U1> overruled the judge on run 12: fail → *pass*" in all_text(notice)
    assert message_problems(notice["blocks"]) == []


def test_stats_post_shows_the_judges_agreement() -> None:
    line = "Judge agrees with people on 3/4 reviewed verdicts (75%); self-agreement 90% over 5 verdicts"
    msg = message_dict(build_stats_message(StatsView(period_label="2026-W48", current=StatsNumbers(), judge=line)))
    assert line in all_text(msg)
    assert "Judge agrees" not in all_text(message_dict(build_stats_message(
        StatsView(period_label="2026-W48", current=StatsNumbers()))))
