"""Draft messages (a long draft spans several sections and, if needed, several messages) and the
replay verdict."""

from __future__ import annotations

import re

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
    quote,
    section,
)
from bot.blocks.models import DraftView, VerdictView
from bot.slack.text import escape_mrkdwn, split_text
from bot.blocks.ids import ActionId, DraftRef

SECTIONS_PER_MESSAGE = 10  # ≤ ~29,000 chars of body per message, well under the 50-block limit
MAX_DRAFT_MESSAGES = 10  # beyond that we say so explicitly instead of flooding the thread

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)


def markdown_to_mrkdwn(body: str) -> str:
    """Escape an article's Markdown and map the bits Slack renders differently (headings,
    **bold**, list bullets). Links and code stay as written: nothing is turned into a Slack link."""
    text = escape_mrkdwn(body)
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _BULLET.sub(r"\1• ", text)


def _draft_buttons(view: DraftView) -> list:
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
    messages = []
    for n, group in enumerate(groups, start=1):
        blocks: list = []
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
}
KIND_LINES = {
    "shadow": "shadow test of the draft (nothing published)",
    "publish": "replayed after publishing",
    "regression": "regression check",
    "manual": "manual replay",
}


def build_verdict_message(view: VerdictView) -> Message:
    verdict = view.verdict if view.verdict in VERDICT_HEADERS else "unclear"
    article = link(view.article_url, view.article_title or "the article")
    blocks: list = [header(VERDICT_HEADERS[verdict]), section(f"Gap #{view.gap_id} · {article}")]
    if view.question:
        blocks.append(section(f"*Customer asked*\n{quote(excerpt(view.question, 600))}"))
    before = quote(excerpt(view.before, 1800)) if view.before else "_(no answer)_"
    after = quote(excerpt(view.after, 1800)) if view.after else "_(no answer)_"
    blocks.append(fields_section([f"*Before*\n{before}", f"*After*\n{after}"]))
    if view.reasons:
        blocks += chunk_sections(f"*Why*\n{bullets(view.reasons, limit=400, max_items=8)}")
    if view.missing_facts:
        blocks += chunk_sections(f"*Missing facts*\n{bullets(view.missing_facts, limit=300, max_items=10)}")
    meta = [KIND_LINES.get(view.kind, esc(view.kind, 30))]
    if view.confidence is not None:
        meta.insert(0, f"Confidence {round(max(0.0, min(1.0, view.confidence)) * 100)}%")
    blocks.append(context(" · ".join(meta)))
    if view.draft_id is not None:
        value = DraftRef(gap_id=view.gap_id, draft_id=view.draft_id).dump()
        if verdict != "pass":
            retry = button(":pencil2: Edit and retry", ActionId.EDIT_AND_RETRY, value, style="primary")
            blocks.append(actions(retry))
        elif view.kind == "shadow":
            blocks.append(actions(button(":rocket: Publish", ActionId.PUBLISH, value, style="primary")))
    return message(f"Gap #{view.gap_id}: {verdict} ({esc(view.article_title, 150)})", blocks)
