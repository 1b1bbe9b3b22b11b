"""Which article a gap's draft updates: the target select on the outline message (an external_select whose options
the bot loads on demand: the outline's "articles to update instead", related articles, or any article found by what
the person types, plus "New article"), and the message of a publish the help centre's edits refused (a conflict)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, ExternalDataSelectElement, Option, PlainTextObject

from bot.blocks.common import (
    LINK_URL_MAX,
    OPTION_TEXT_MAX,
    Message,
    actions,
    button,
    context,
    esc,
    link,
    link_button,
    mention,
    message,
    plain,
    quote,
    section,
)
from bot.blocks.ids import ActionId, GapRef, TargetRef
from bot.blocks.models import ConflictLinesView, ConflictView, TargetChoice
from bot.blocks.urls import safe_url

MAX_TARGET_OPTIONS = 20  # a short list: the candidates first; typing searches the whole KB
MAX_CONFLICTS = 3  # conflicting places shown; the rest are counted
CONFLICT_LINES = 300  # characters of each side of a conflict
NEW_ARTICLE = "New article"
OPTION_SECTION_MAX = 32  # the section's share of an option's 75 characters: the title is cut first


def target_option(gap_id: int, choice: TargetChoice | None) -> Option:
    """One option of the target select: an article ("Update #12: Refunds to your card", and its help-centre section
    when synced: "Update #12: Refunds to your card · Billing"), or None: a new one."""
    if choice is None:
        return Option(value=TargetRef(gap_id=gap_id).dump(), text=PlainTextObject(text=f":new: {NEW_ARTICLE}"))
    where = f" · {plain(choice.section, OPTION_SECTION_MAX)}" if choice.section and choice.section.strip() else ""
    label = plain(f"Update #{choice.article_id}: {choice.title}", OPTION_TEXT_MAX - len(where)) + where
    return Option(value=TargetRef(gap_id=gap_id, article_id=choice.article_id).dump(),
                  text=PlainTextObject(text=label))


def target_select(gap_id: int, article_id: int | None) -> ExternalDataSelectElement:
    """The select, showing the current choice (an article by its number: titles are loaded with the options)."""
    current = TargetChoice(article_id, f"article #{article_id}") if article_id is not None else None
    initial = target_option(gap_id, current)
    if current is not None:  # "Update #12: article #12" would say it twice
        initial = Option(value=initial.value, text=PlainTextObject(text=f"Update article #{article_id}"))
    return ExternalDataSelectElement(action_id=ActionId.PICK_TARGET, min_query_length=0, initial_option=initial,
                                     placeholder=PlainTextObject(text="Which article does the draft update?"))


def target_block(gap_id: int, article_id: int | None) -> Block:
    """The line on the outline message: what the draft will be, and the select to change it."""
    if article_id is not None:
        what = (f"*The draft updates article #{article_id}*: it starts from the article's current text (the help "
                "centre's edits kept) and adds the change.")
    else:
        what = "*The draft is a new article.* Pick an article here to update it instead."
    return section(what, accessory=target_select(gap_id, article_id), block_id=f"target-{gap_id}")


def build_target_options(gap_id: int, choices: Sequence[TargetChoice]) -> list[dict[str, Any]]:
    """The options the bot answers a block_suggestion with: the articles (no repeats), then "New article"."""
    seen: set[int] = set()
    options: list[dict[str, Any]] = []
    for choice in choices:
        if choice.article_id not in seen and len(options) < MAX_TARGET_OPTIONS:
            seen.add(choice.article_id)
            options.append(target_option(gap_id, choice).to_dict())
    return options + [target_option(gap_id, None).to_dict()]


def build_target_notice(gap_id: int, user: str, choice: TargetChoice | None) -> Message:
    """In the thread after a person chose: what the next draft will be, with *Write draft* to write it now."""
    where = f" in {esc(choice.section, 100)}" if choice and choice.section and choice.section.strip() else ""
    what = (f"article #{choice.article_id} “{esc(choice.title, 150)}”{where}: the next draft starts from its "
            "current text" if choice else "a new article")
    text = f":dart: {mention(user)} chose what gap #{gap_id}'s draft updates: {what}."
    blocks: list[Block] = [
        section(text),
        actions(button(":memo: Write draft", ActionId.WRITE_DRAFT, GapRef(gap_id=gap_id).dump(), style="primary"),
                block_id=f"target-notice-{gap_id}"),
    ]
    short = f"article #{choice.article_id}" if choice else "a new article"
    return message(f"Gap #{gap_id}: the draft now updates {short}", blocks)


def _side(lines: Sequence[str]) -> str:
    text = " / ".join(ln.strip() for ln in lines if ln.strip())
    return quote(esc(text, CONFLICT_LINES)) if text else "_(removed)_"


def _conflict_blocks(n: int, c: ConflictLinesView) -> list[Block]:
    was = f"\n_was:_ {esc(' / '.join(ln.strip() for ln in c.base if ln.strip()), 200)}" if c.base else ""
    return [section(f"*Conflict {n}*{was}\n*Help centre now*\n{_side(c.theirs)}\n*This draft*\n{_side(c.ours)}")]


def build_conflict_message(view: ConflictView) -> Message:
    """A publish the help centre's edits refused: which lines conflict (theirs vs ours, escaped and shortened) and
    *Rewrite from the help centre* (writes the draft again from the article's current text, now its latest version
    here), or open the article. No *Publish* or *Retry*: the same draft again would be refused again."""
    title = esc(view.article_title, 150)
    linked = safe_url(view.article_url, public=True, limit=LINK_URL_MAX) is not None
    named = link(view.article_url, view.article_title, public=True) if linked else f"“{title}”"
    n = len(view.conflicts)
    blocks: list[Block] = [section(
        f":twisted_rightwards_arrows: *Not published: {named} was edited in the help centre* on the lines this "
        f"draft changes ({n} place{'s' if n != 1 else ''}). Their text is now the article's latest version here; "
        "nothing of theirs was overwritten.")]
    for i, conflict in enumerate(list(view.conflicts)[:MAX_CONFLICTS], start=1):
        blocks += _conflict_blocks(i, conflict)
    if n > MAX_CONFLICTS:
        blocks.append(context(f"…and {n - MAX_CONFLICTS} more."))
    buttons = [button(":arrows_counterclockwise: Rewrite from the help centre", ActionId.WRITE_DRAFT,
                      GapRef(gap_id=view.gap_id).dump(), style="primary")]
    opener = link_button(":page_facing_up: Open the article", ActionId.OPEN_LINK, view.article_url, public=True)
    if opener is not None:
        buttons.append(opener)
    blocks.append(actions(*buttons, block_id=f"conflict-{view.gap_id}"))
    blocks.append(context("*Rewrite from the help centre* writes the draft again from their text plus the change; "
                          "then test and publish it."))
    return message(f"Gap #{view.gap_id}: not published, “{title}” was edited in the help centre on the same lines",
                   blocks)
