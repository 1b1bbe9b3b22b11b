"""Shared pieces of the pure Block Kit builders: Slack's limits, the `Message` result, and small
constructors that hold those limits by design (clip with a visible ellipsis, never fail at send time).

Text conventions: builders receive *raw* text. Conversation text goes through `excerpt()` (redact →
escape → shorten); article/outline/LLM text through `esc()` (escape → shorten, no redaction, since a
support phone number in an article is content, not PII); text in a `plain_text` object (a button, an
option, a confirm dialog, a header) through `plain()`, never `esc()` (Slack shows `&lt;` there as typed).
All three drop control characters first (`scrub`: a NUL, an escape, a bidi mark). Mentions only via
`mention()`; links only via `link()` and `button(url=...)`, both through `safe_url` (`bot/blocks/urls.py`):
a link from a help centre or another outside source with `public=True`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.blocks.urls import safe_url
from bot.slack.text import clean_plain, escape_mrkdwn, safe_excerpt, split_text, truncate

# Slack's limits (docs.slack.dev/block-kit; slack_sdk validators).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_MAX = 3000
FIELD_MAX = 2000
MAX_FIELDS = 10
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
VALUE_MAX = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_SELECT_OPTIONS = 100
OPTION_TEXT_MAX = 75
MODAL_TITLE_MAX = 24
INPUT_MAX = 3000  # plain_text_input max_length / initial_value
FALLBACK_MAX = 3000  # top-level `text` (Slack allows 4,000 before truncating)

# Room we leave in a section for our own prefix/suffix around a chunk of body text.
CHUNK = 2900
LINK_URL_MAX = 1000  # a <url|label> shares its section's 3,000 characters: a longer URL shows the label alone

ROLE_LABELS = {
    "user": ":bust_in_silhouette: *Customer*",
    "agent": ":robot_face: *Agent*",
    "human": ":technologist: *Teammate*",
    "system": ":gear: *System*",
}

_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,30}$")
_EMOJI = re.compile(r"^[a-z0-9_+'-]{1,64}$")
# Control characters (NUL, escapes, C1) and the bidi marks `escape_mrkdwn` keeps (LRM, RLM, ALM); tab and newline stay.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f]")


@dataclass(frozen=True)
class Message:
    """What a builder returns for chat.postMessage / chat.update / respond.

    `client.chat_postMessage(channel=c, **msg.as_kwargs())`; `text` is the escaped notification
    fallback, `blocks` are slack_sdk model objects.
    """

    text: str
    blocks: tuple[Block, ...]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": [b.to_dict() for b in self.blocks]}

    def to_dict(self) -> dict[str, Any]:
        return self.as_kwargs()


def message(text: str, blocks: Sequence[Block]) -> Message:
    """Assemble a Message, holding the 50-block limit with an explicit note if ever needed."""
    return Message(text=truncate(text, FALLBACK_MAX), blocks=tuple(cap_blocks(blocks, MAX_MESSAGE_BLOCKS)))


def cap_blocks(blocks: Sequence[Block], limit: int) -> list[Block]:
    """Last-resort guard: over the limit, keep the first blocks, say how many were dropped, and keep a
    trailing actions block (the buttons matter more than the middle of a long text)."""
    if len(blocks) <= limit:
        return list(blocks)
    tail = [blocks[-1]] if getattr(blocks[-1], "type", None) == "actions" else []
    kept = list(blocks[: limit - 1 - len(tail)])
    dropped = len(blocks) - len(kept) - len(tail)
    return [*kept, context(f"_{dropped} more blocks not shown: Slack's limit is {limit}._"), *tail]


# --- text ------------------------------------------------------------------------------------------
def scrub(text: str | None) -> str:
    """Text without control characters: Slack has no use for a NUL or an escape, and a bidi mark reorders what
    a reader sees (`escape_mrkdwn`/`clean_plain` drop the invisible and the bidi overrides themselves)."""
    return _CONTROL.sub("", (text or "").replace("\r\n", "\n"))


def esc(text: str | None, limit: int, *, flatten: bool = True) -> str:
    """Escape (no redaction) and shorten: for article, outline and other LLM text."""
    return safe_excerpt(scrub(text), limit, flatten=flatten, redactor=None)


def excerpt(text: str | None, limit: int, *, flatten: bool = True) -> str:
    """Redact, escape and shorten: for anything a customer wrote (or an agent said to one)."""
    return safe_excerpt(scrub(text), limit, flatten=flatten)


def plain(text: str | None, limit: int) -> str:
    """For plain_text objects: cleaned, whitespace-flattened, shortened with an ellipsis."""
    return truncate(" ".join(clean_plain(scrub(text)).split()), limit) or "-"


def mention(user_id: str | None) -> str:
    """`<@U…>` for a real user id; anything else is shown escaped, so it can never ping."""
    if not user_id:
        return "someone"
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape_mrkdwn(user_id)


def mentions(user_ids: Iterable[str], *, limit: int = 10) -> str:
    ids = list(dict.fromkeys(user_ids))
    shown = ", ".join(mention(u) for u in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def channel_link(channel_id: str | None) -> str:
    if channel_id and _CHANNEL_ID.match(channel_id):
        return f"<#{channel_id}>"
    return escape_mrkdwn(channel_id or "the review channel")


def emoji(name: str | None, default: str) -> str:
    name = (name or "").strip(":")
    return f":{name if _EMOJI.match(name) else default}:"


def link(url: str | None, label: str, *, public: bool = False) -> str:
    """`<url|label>` for a URL `safe_url` takes (and short enough to share a section), else the (escaped) label.
    `public=True` for a link from outside the team (a help centre's article)."""
    label = esc(label, 200)
    url = safe_url(url, public=public, limit=LINK_URL_MAX)
    return f"<{url}|{label}>" if url else label


def quote(text: str) -> str:
    """Prefix every line with `>` (text must already be escaped)."""
    return "\n".join("> " + line for line in (text.splitlines() or [""]))


def bullets(items: Iterable[str], *, limit: int = 300, max_items: int = 15) -> str:
    items = [i for i in items if i and i.strip()]
    lines = [f"• {esc(i, limit)}" for i in items[:max_items]]
    if len(items) > max_items:
        lines.append(f"_…and {len(items) - max_items} more_")
    return "\n".join(lines)


def trend(current: int, previous: int | None) -> str:
    if previous is None:
        return ""
    delta = current - previous
    if delta > 0:
        return f" ↑{delta}"
    if delta < 0:
        return f" ↓{-delta}"
    return " →"


# --- blocks ----------------------------------------------------------------------------------------
def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str, *, accessory: Any = None, block_id: str | None = None) -> SectionBlock:
    """A section of already-safe mrkdwn, clipped to 3,000 chars with a visible ellipsis."""
    return SectionBlock(text=md(truncate(text, SECTION_MAX) or " "), accessory=accessory, block_id=block_id)


def fields_section(fields: Sequence[str], *, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(
        fields=[md(truncate(f, FIELD_MAX) or " ") for f in fields[:MAX_FIELDS]], block_id=block_id
    )


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=plain(text, HEADER_MAX), emoji=True))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[md(truncate(t, SECTION_MAX) or " ") for t in texts[:MAX_CONTEXT_ELEMENTS]])


def button(
    label: str,
    action_id: str,
    value: str | None = None,
    *,
    style: str | None = None,
    url: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    """A button; its `url` goes through `safe_url` (check `.url` when the button is only a link: None means the URL
    was refused, and a link button without it opens nothing: leave it out, as `link_button` does)."""
    if value is not None and len(value) > VALUE_MAX:
        raise ValueError(f"button value for {action_id} is {len(value)} chars (limit {VALUE_MAX})")
    return ButtonElement(
        text=PlainTextObject(text=plain(label, BUTTON_TEXT_MAX), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
        url=safe_url(url),
        confirm=confirm,
    )


def link_button(label: str, action_id: str, url: str | None, *, public: bool = False) -> ButtonElement | None:
    """A button that only opens `url`, or None when `safe_url` refuses it (`public=True`: from outside the team)."""
    safe = safe_url(url, public=public)
    return button(label, action_id, url=safe) if safe else None


def confirm(title: str, text: str, yes: str, no: str = "Cancel") -> ConfirmObject:
    return ConfirmObject(
        title=PlainTextObject(text=plain(title, 100)),
        text=PlainTextObject(text=plain(text, 300)),
        confirm=PlainTextObject(text=plain(yes, 30)),
        deny=PlainTextObject(text=plain(no, 30)),
    )


def actions(*elements: Any, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=list(elements)[:MAX_ACTIONS_ELEMENTS], block_id=block_id)


def chunk_sections(text: str, *, limit: int = CHUNK) -> list[SectionBlock]:
    """Split safe mrkdwn into sections on paragraph/line/word boundaries (nothing dropped,
    whitespace-only pieces skipped since Slack would trim them anyway)."""
    return [section(chunk) for chunk in split_text(text, limit) if chunk.strip()]
