"""Render docs/SLACK_MESSAGES.md: what the bot posts at each step of the loop, from the real builders.

    python scripts/render_slack_examples.py          # rewrite the doc
    python scripts/render_slack_examples.py --check  # exit 1 if the doc is out of date (tests run this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.blocks import (
    Message,
    build_digest_header,
    build_digest_item,
    build_draft_messages,
    build_gap_message,
    build_verdict_message,
)
from bot.blocks.insights import build_recurrence_notice, build_weekly_message
from bot.blocks.models import (
    AgentTurnChoice,
    CollateralView,
    ConflictLinesView,
    ConflictView,
    CostView,
    CreditView,
    DigestHeaderView,
    DigestItemView,
    DraftView,
    FlagView,
    LoopLine,
    OutlineSectionView,
    OutlineView,
    OverrideNoticeView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    RegressionNoticeView,
    StatsNumbers,
    StatsView,
    TargetChoice,
    TopicView,
    VerdictView,
    WaitingLine,
    WeeklyInsightsView,
)
from bot.blocks.notices import build_regression_notice
from bot.blocks.target import build_conflict_message, build_target_notice, build_target_options
from bot.blocks.verdict import build_override_notice

DOC = Path(__file__).resolve().parents[1] / "docs" / "SLACK_MESSAGES.md"
Q = "Who do I call about a missed garbage collection?"
FACT = "Call Republic Services at (800) 320-8077 before 12 noon for a return trip the same day."
DONT_KNOW = "I'm sorry, I don't have information about that. Let me connect you with a teammate."


def steps() -> list[tuple[str, object]]:
    flag = FlagView(gap_id=12, flagged_by="UANA0001", co_flaggers=("UBEN0002",), state="open",
                    agent_turns=(AgentTurnChoice(1, "Hello! How can I help?"), AgentTurnChoice(3, DONT_KNOW)),
                    flagged_position=3, owner="UBEN0002", kind="missing", notes_count=1)
    outline = OutlineView(title="Missed garbage collection: who to call", summary="The agent had no article on it.",
                          sections=(OutlineSectionView("Answer", (FACT,)),), required_facts=(FACT,),
                          questions=("Does the same-day return trip also apply to recycling?",), provider="offline",
                          update_article_id=64)
    return [
        ("1. The daily digest header (review channel; Monday to Friday by default)", build_digest_header(
            DigestHeaderView(day="2026-11-23", count=8, risk_count=6,
                             yesterday=LoopLine(flagged=2, drafted=1, published=1, verified=1, since="since Friday"),
                             waiting=WaitingLine(drafts=3, stale_drafts=1, failed=1)))),
        ("2. One digest item: the turns around the one that went wrong, one reason, a linked reference (each item "
         "has its own reactions and thread)", build_digest_item(DigestItemView(
            item_id=41, conversation_id=7, conversation_ref="8812", pick="risk",
            reason="The agent said it didn't know", total_turns=9, reference="Zendesk #8812",
            url="https://acme.zendesk.com/agent/tickets/8812", focus=1,
            excerpt_turns=(("user", Q), ("agent", DONT_KNOW), ("human", FACT))))),
        ("3. After a 📚 reaction: who flagged, the owner, the turn, the kind, the suggested outline, the article the "
         "draft updates (a select: change it, or “New article”) and how to add notes (in the item's thread)",
         build_gap_message(flag, outline)),
        ("4. The draft (after teammates' replies and “Write draft”)", build_draft_messages(DraftView(
            gap_id=12, draft_id=30, title=outline.title, body=f"{FACT}\n\n## Sources\n- conversation ticket-8812",
            author="UANA0001", provider="offline", notes_folded=1, notes_now=1))[0]),
        ("5. The verdict after “Publish”: before/after of the flagged turn", build_verdict_message(VerdictView(
            gap_id=12, verdict="pass", before=DONT_KNOW, after=FACT, question=Q, confidence=1.0,
            reasons=("The new answer states all 1 required facts.",), article_title=outline.title, run_id=41))),
        ("6. What a manager sees each week (stats channel; the trend chart is uploaded with it)",
         build_weekly_message(
             StatsView(period_label="Week 48 (23–29 Nov)", current=StatsNumbers(
                 reviewed=38, flagged=6, looks_good=31, gaps_opened=6, drafts=5, published=4, verified=3, failed=1,
                 open_backlog=4, recurrences=1), previous=StatsNumbers(reviewed=30, flagged=5, gaps_opened=5,
                 drafts=4, published=3, verified=2, open_backlog=5),
                 judge="Judge agrees with people on 9/10 reviewed verdicts (90%)",
                 headline="The agent fell short in about 12% of conversations last week (8–17%, 160 random "
                          "reviews), down from 15% the week before (within the margin of error).",
                 cost=CostView(calls=212, input_tokens=301_400, output_tokens=58_900, cost_usd=0.08,
                               previous_calls=180, previous_cost_usd=0.07)),
             WeeklyInsightsView(
                 credit=CreditView(people=(PersonCredit("UANA0001", reviewed=20, flagged=4, drafted=3, fixed=2),
                                           PersonCredit("UBEN0002", reviewed=18, flagged=3, drafted=2, fixed=1)),
                                   team=PersonCredit("team", reviewed=38, flagged=7, drafted=5, fixed=3),
                                   streak_days=4, streak_today_done=True),
                 topics=(TopicView(topic_id=12, label="garbage, collection, cart", open_gap_ids=(12, 15), gap_count=3,
                                   conversations=41, went_wrong=9, escalated=6, impact=50,
                                   gap_links=((12, "https://example.slack.com/archives/C0REVIEW/p1764000000000100"),)),
                         TopicView(topic_id=9, label="refund, credit card", open_gap_ids=(9,), gap_count=1,
                                   conversations=17, went_wrong=3, escalated=2, impact=20))))),
        ("7. A fix that did not hold in the real world (in the gap's original thread): the newest conversation's "
         "broken turn beside the answer when the fix was verified",
         build_recurrence_notice(RecurrenceNoticeView(
             gap_id=12, gap_title=outline.title, fixed_by="UANA0001",
             items=(RecurrenceItem("ticket-9120", "2026-11-27", ("escalated",)),), question=Q, before=FACT,
             after=DONT_KNOW, article_url="https://help.example.gov/articles/missed-collection", draft_id=30))),
        ("8. A shadow test that fixes the question but breaks another answer (not a clean pass)",
         build_verdict_message(VerdictView(
             gap_id=12, verdict="collateral", before=DONT_KNOW, after=FACT, question=Q, confidence=1.0, kind="shadow",
             reasons=("The new answer states all 1 required facts.",
                      "Another turn got worse (message 3): it now answers a different question."),
             article_title=outline.title, draft_id=30, run_id=40,
             collateral=(CollateralView(3, "What are the hours of collection?",
                                        "Service hours are Monday - Friday from 7:00 a.m. to 3:00 p.m.",
                                        "Call Republic Services before 12 noon for a return trip.",
                                        "It now answers a different question."),)))),
        ("9. “Verdict is wrong”: a person overrules the judge (in the thread)",
         build_override_notice(OverrideNoticeView(
             run_id=41, judge_verdict="fail", human_verdict="pass", user="UANA0001",
             reason="It states the 5 business days, in other words.", note="Gap #12 moved failed → verified.",
             agrees=False))),
        ("10. A fix the nightly regression replay broke (in the gap's thread): before/after and three ways out",
         build_regression_notice(RegressionNoticeView(
             gap_id=12, verdict="fail", question=Q, before=FACT, after=DONT_KNOW, fixed_by="UBEN0002",
             changes=("KB changed since last pass (rev 64 -> 66: articles #64)",), article_title=outline.title,
             article_url="https://help.example.gov/articles/missed-collection", draft_id=30,
             rollback_article_id=64, rollback_from=2, rollback_title="Collection schedule"))),
        ("11. The article select's options (the bot's answer when it opens, or to what a person types)",
         build_target_options(12, (TargetChoice(64, "Collection schedule"), TargetChoice(71, "Bulk item pickup")))),
        ("12. After a person chose the article (in the thread): the next draft starts from its current text",
         build_target_notice(12, "UBEN0002", TargetChoice(64, "Collection schedule"))),
        ("13. A publish refused because the docs team edited the same lines in the help centre (nothing published)",
         build_conflict_message(ConflictView(
             gap_id=12, article_id=64, article_title="Collection schedule",
             article_url="https://acme.zendesk.com/hc/en-us/articles/360001", conflicts=(ConflictLinesView(
                 base=("Call before 12 noon for a return trip.",),
                 theirs=("Call before 11 a.m. for a return trip the same day.",),
                 ours=("Call Republic Services at (800) 320-8077 before 12 noon for a return trip the same day.",)),
             )))),
    ]


def render() -> str:
    parts = ["# What Flywheel posts in Slack", "",
             "Generated from the real Block Kit builders by `scripts/render_slack_examples.py` (a test checks it",
             "is current). Paste any `blocks` array into Slack's Block Kit Builder to see it rendered.", ""]
    for title, message in steps():
        if isinstance(message, list):  # not a message: a payload the bot answers with (select options)
            parts += [f"## {title}", "", "```json", json.dumps({"options": message}, indent=2, ensure_ascii=False),
                      "```", ""]
            continue
        assert isinstance(message, Message)
        parts += [f"## {title}", "", f"Notification text: “{message.text}”", "", "```json",
                  json.dumps([b.to_dict() for b in message.blocks], indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if DOC.exists() and DOC.read_text(encoding="utf-8") == text else 1)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
