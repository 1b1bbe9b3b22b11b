"""Draft messages (a long draft spans several sections and, if needed, several messages) and the
replay verdict."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement

from bot.blocks.common import (
    CHUNK,
    Message,
    actions,
    bullets,
    button,
    chunk_sections,
    confirm,
    context,
    esc,
    excerpt,
    fields_section,
    header,
    link,
    mention,
    message,
    plain,
    quote,
    scrub,
    section,
)
from bot.blocks.ids import ActionId, DraftRef, RollbackRef, RunRef
from bot.blocks.models import DraftView, VerdictView
from bot.slack.text import escape_mrkdwn, split_text

SECTIONS_PER_MESSAGE = 10  # ≤ ~29,000 chars of body per message, well under the 50-block limit
MAX_DRAFT_MESSAGES = 10  # beyond that we say so explicitly instead of flooding the thread

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)


def markdown_to_mrkdwn(body: str) -> str:
    """Escape an article's Markdown and map the bits Slack renders differently (headings,
    **bold**, list bullets). Links and code stay as written: nothing is turned into a Slack link."""
    text = escape_mrkdwn(scrub(body))
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _BULLET.sub(r"\1• ", text)


def _draft_buttons(view: DraftView) -> list[Any]:
    value = DraftRef(gap_id=view.gap_id, draft_id=view.draft_id).dump()
    return [
        button("Edit", ActionId.EDIT_DRAFT, value),
        button(":test_tube: Test", ActionId.TEST_DRAFT, value),
        button(
            ":rocket: Publish",
            ActionId.PUBLISH,
            value,
            style="primary",
            confirm=confirm(
                "Publish this article?",
                "It goes into the knowledge base, then I replay the conversation to check it.",
                "Publish",
            ),
        ),
        button(
            "Dismiss",
            ActionId.DISMISS_DRAFT,
            value,
            style="danger",
            confirm=confirm("Dismiss this draft?", "The gap stays open.", "Dismiss"),
        ),
    ]


def notes_line(view: DraftView) -> str | None:
    """How many of the gap's notes the draft folds in, and how many came after it."""
    if view.notes_folded is None:
        return None
    n = view.notes_folded
    line = f"{n} note{'s' if n != 1 else ''} folded in" if n else "no notes folded in"
    newer = view.notes_now - n
    if newer > 0 and view.state == "draft":
        line += f" ({newer} newer: write the draft again to fold {'them' if newer > 1 else 'it'})"
    return line


def build_draft_messages(view: DraftView) -> list[Message]:
    """One message for most drafts; very long ones continue in follow-up messages ("part 2/3").
    The body is never cut silently: every character is in some section, or an explicit note says
    how much could not be shown. Buttons are on the last message."""
    chunks = [c for c in split_text(markdown_to_mrkdwn(view.body), CHUNK) if c.strip()]
    if not chunks:
        chunks = ["_(the draft is empty)_"]
    groups = [chunks[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(chunks), SECTIONS_PER_MESSAGE)]
    hidden_chars = sum(len(c) for g in groups[MAX_DRAFT_MESSAGES:] for c in g)
    groups = groups[:MAX_DRAFT_MESSAGES]
    title = esc(view.title, 250)
    meta = [f"Draft #{view.draft_id} · revision {view.revision}"]
    if view.author:
        meta.append(f"by {mention(view.author)}")
    if view.provider:
        meta.append(f"written with {esc(view.provider, 60)}")
    if view.last_test:
        meta.append(f"last test: {esc(view.last_test, 20)}")
    notes = notes_line(view)
    if notes:
        meta.append(notes)
    messages = []
    for n, group in enumerate(groups, start=1):
        blocks: list[Any] = []
        if n == 1:
            blocks += [header(f"Draft for gap #{view.gap_id}"), section(f"*{title}*")]
        else:
            blocks.append(context(f"Draft #{view.draft_id}, continued (part {n}/{len(groups)})"))
        blocks += [section(chunk) for chunk in group]
        if n == len(groups):
            if hidden_chars:
                blocks.append(
                    context(
                        f":warning: {hidden_chars:,} more characters are not shown here (too long for "
                        "Slack). Edit or publish to see the full text in the knowledge base."
                    )
                )
            blocks.append(context(" · ".join(meta)))
            if view.state == "draft":
                blocks.append(actions(*_draft_buttons(view), block_id=f"draft-{view.draft_id}"))
            else:
                blocks.append(context(f"This draft is {esc(view.state, 20)}."))
        part = f" (part {n}/{len(groups)})" if len(groups) > 1 else ""
        messages.append(message(f"Draft for gap #{view.gap_id}: {title}{part}", blocks))
    return messages


VERDICT_HEADERS = {
    "pass": "✅ Pass: the agent now answers this",
    "fail": "❌ Fail: the agent still falls short",
    "unclear": "❔ Unclear: the judge could not decide",
    "collateral": "⚠️ Not a clean pass: another answer got worse",
}
# A shadow test never looks like a live verdict: nothing is published, so its headline says so.
SHADOW_HEADERS = {
    "pass": "✅ Shadow test (nothing published): Pass, the draft would fix this",
    "fail": "❌ Shadow test (nothing published): Fail, the draft would not fix this",
    "unclear": "❔ Shadow test (nothing published): Unclear, the judge could not decide",
    "collateral": "⚠️ Shadow test (nothing published): Not a clean pass, another answer would get worse",
}
MAX_COLLATERAL = 3  # turns shown with before/after; the rest are counted
KIND_LINES = {
    "shadow": "shadow test of the draft (nothing published)",
    "publish": "replayed after publishing",
    "regression": "regression check",
    "manual": "manual replay",
}


def build_verdict_message(view: VerdictView) -> Message:
    verdict = view.verdict if view.verdict in VERDICT_HEADERS else "unclear"
    article = link(view.article_url, view.article_title or "the article", public=True)
    headline = (SHADOW_HEADERS if view.kind == "shadow" else VERDICT_HEADERS)[verdict]
    blocks: list[Block] = [header(headline), section(f"Gap #{view.gap_id} · {article}")]
    if view.question:
        blocks.append(section(f"*Customer asked*\n{quote(excerpt(view.question, 600))}"))
    before = quote(excerpt(view.before, 1800)) if view.before else "_(no answer)_"
    after = quote(excerpt(view.after, 1800)) if view.after else "_(no answer)_"
    blocks.append(fields_section([f"*Before*\n{before}", f"*After*\n{after}"]))
    if view.reasons:
        blocks += chunk_sections(f"*Why*\n{bullets(view.reasons, limit=400, max_items=8)}")
    if view.missing_facts:
        blocks += chunk_sections(f"*Missing facts*\n{bullets(view.missing_facts, limit=300, max_items=10)}")
    blocks += _collateral_blocks(view)
    meta = [KIND_LINES.get(view.kind, esc(view.kind, 30))]
    if view.run_id is not None:
        meta.append(f"run {view.run_id}")
    if view.human_verdict:
        meta.append(f"a person's verdict: {esc(view.human_verdict, 20)}")
    if view.confidence is not None:
        meta.insert(0, f"Confidence {round(max(0.0, min(1.0, view.confidence)) * 100)}%")
    blocks.append(context(" · ".join(meta)))
    buttons = []
    if view.draft_id is not None:
        value = DraftRef(gap_id=view.gap_id, draft_id=view.draft_id).dump()
        if verdict != "pass":
            buttons.append(button(":pencil2: Edit and retry", ActionId.EDIT_AND_RETRY, value, style="primary"))
        elif view.kind == "shadow":
            buttons.append(button(":rocket: Publish", ActionId.PUBLISH, value, style="primary"))
    if view.run_id is not None:
        wrong = RunRef(run_id=view.run_id, gap_id=view.gap_id).dump()
        buttons.append(button(":scales: Verdict is wrong", ActionId.VERDICT_WRONG, wrong))
    if view.kind != "shadow" and view.article_id is not None and (view.article_version or 0) > 1:
        buttons.append(_rollback_button(view, view.article_id, view.article_version or 0))
    if buttons:
        blocks.append(actions(*buttons))
    what = "shadow test" if view.kind == "shadow" else "verdict"
    return message(f"Gap #{view.gap_id}: {what} {verdict} ({esc(view.article_title, 150)})", blocks)


def _rollback_button(view: VerdictView, article_id: int, version: int) -> ButtonElement:
    ref = RollbackRef(article_id=article_id, from_version=version, to_version=version - 1, gap_id=view.gap_id)
    sure = confirm("Roll back the article?", f"Version {version - 1} of “{plain(view.article_title, 150)}” goes "
                   "live again as a new version, in the team's knowledge base too. The history is kept.", "Roll back")
    return button(f":rewind: Roll back to v{version - 1}", ActionId.ROLLBACK, ref.dump(), confirm=sure)


def _collateral_blocks(view: VerdictView) -> list[Block]:
    """Each other turn that got worse: the customer's message, the answer before and after, and why."""
    blocks: list[Block] = []
    for turn in list(view.collateral)[:MAX_COLLATERAL]:
        asked = f"*Another answer got worse* (message {turn.position})\n{quote(excerpt(turn.question, 300))}"
        blocks.append(section(asked))
        blocks.append(fields_section([f"*Before*\n{quote(excerpt(turn.before, 900))}",
                                      f"*After*\n{quote(excerpt(turn.after, 900))}"]))
        blocks.append(context(excerpt(turn.reason, 300)))
    if len(view.collateral) > MAX_COLLATERAL:
        blocks.append(context(f"…and {len(view.collateral) - MAX_COLLATERAL} more turns got worse."))
    return blocks
