"""Error messages (with a retry button), the `/flywheel help` text, and the notice of a fix that broke."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement

from bot.blocks.common import (
    Message,
    actions,
    button,
    confirm,
    context,
    emoji,
    esc,
    excerpt,
    fields_section,
    header,
    link,
    link_button,
    mention,
    message,
    plain,
    quote,
    section,
)
from bot.blocks.ids import ActionId, DraftRef, RetryRef, RollbackRef
from bot.blocks.models import ErrorView, RegressionNoticeView

COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "this help"),
    ("stats [week|month]", "the loop's numbers, with the trend"),
    ("digest now", "post today's digest now"),
    ("gaps [mine|open]", "knowledge gaps: yours, or the team's open ones"),
    ("gaps topics", "open topics ranked by impact: where to spend the next 30 minutes"),
    ("search <text>", "search the knowledge base"),
    ("replay <conversation>", "replay a conversation against today's knowledge base"),
    ("regress", "re-run every fixed gap to catch regressions"),
)


def build_error_message(view: ErrorView) -> Message:
    """A user-safe error; optional retry button and the correlation id that is in the logs."""
    blocks: list[Block] = [section(f":warning: {esc(view.message, 1500, flatten=False)}")]
    if view.error_id:
        blocks.append(context(f"Error id `{esc(view.error_id, 64)}` (give it to whoever runs Flywheel)"))
    if view.retry_action:
        retry = RetryRef(
            action=ActionId(view.retry_action),
            gap_id=view.gap_id,
            item_id=view.item_id,
            draft_id=view.draft_id,
            conversation_id=view.conversation_id,
        )
        blocks.append(actions(button(":arrows_counterclockwise: Retry", ActionId.RETRY, retry.dump())))
    return message(f"Something went wrong: {esc(view.message, 300)}", blocks)


def build_help_message(
    command: str = "/flywheel", *, flag_emoji: str = "books", ok_emoji: str = "white_check_mark"
) -> Message:
    cmd = esc(command, 32)
    lines = "\n".join(f"• `{cmd} {esc(usage, 60)}`: {esc(what, 200)}" for usage, what in COMMANDS)
    loop = (
        f"*How the loop works*\nEvery day I post a sample of the agent's conversations. React with "
        f"{emoji(flag_emoji, 'books')} to flag a knowledge gap or "
        f"{emoji(ok_emoji, 'white_check_mark')} if it looks good. "
        "I answer in the thread with an article outline; replies there that start with `note:` become notes "
        "(other replies stay out of the article), and “I'll write this” makes you the gap's owner. "
        "*Write draft* → *Test* (a shadow replay) → *Publish*, and I replay the conversation to check "
        "the agent now gets it right."
    )
    blocks = [header("Flywheel help"), section(f"*Commands*\n{lines}"), section(loop)]
    text = f"Flywheel help: {cmd} help | stats | digest now | gaps | gaps topics | search | replay | regress"
    return message(text, blocks)


def turn_blocks(question: str | None, before: str | None, after: str | None, *, then: str, now: str = "Now"
                ) -> list[Block]:
    """The broken turn: what the customer asked, then the agent's answer then and now, side by side (redacted,
    escaped, shortened)."""
    blocks: list[Block] = []
    if question:
        blocks.append(section(f"*Customer asked*\n{quote(excerpt(question, 500))}"))
    was = quote(excerpt(before, 900)) if before else "_(not recorded)_"
    is_ = quote(excerpt(after, 900)) if after else "_(no answer)_"
    blocks.append(fields_section([f"*{esc(then, 40)}*\n{was}", f"*{esc(now, 40)}*\n{is_}"]))
    return blocks


def fix_buttons(gap_id: int, article_url: str | None, draft_id: int | None) -> list[ButtonElement]:
    """The ways out of a fix that no longer holds: open the article (its help centre's link, when `safe_url` takes it
    as a public http(s) URL), edit the gap's draft and retry."""
    opener = link_button(":page_facing_up: Open the article", ActionId.OPEN_LINK, article_url, public=True)
    buttons = [opener] if opener is not None else []
    if draft_id is not None:
        ref = DraftRef(gap_id=gap_id, draft_id=draft_id).dump()
        buttons.append(button(":pencil2: Edit and retry", ActionId.EDIT_AND_RETRY, ref, style="primary"))
    return buttons


BROKE_VERDICTS = {"fail": "fails", "unclear": "is unclear", "collateral": "passes, but another answer got worse"}


def build_regression_notice(view: RegressionNoticeView) -> Message:
    """In a verified gap's thread: its regression replay (nightly, after a publish, or /flywheel regress) no
    longer passes. The broken turn's answer when it last
    passed and now (redacted, escaped, shortened), what changed, and the three ways out: open the article,
    edit and retry (the draft modal), roll back the article that changed."""
    verdict = BROKE_VERDICTS.get(view.verdict or "", "gave no verdict")
    who = f" {mention(view.fixed_by)}," if view.fixed_by else ""
    article = f" ({link(view.article_url, view.article_title, public=True)})" if view.article_title else ""
    blocks: list[Block] = [section(
        f":rotating_light:{who} the regression replay of *gap #{view.gap_id}*{article} {verdict} now. "
        "The fix no longer holds, so the gap is back to failed.")]
    blocks += turn_blocks(view.question, view.before, view.after, then="When it passed")
    if view.changes:
        blocks.append(context(f"What changed since it passed: {'; '.join(esc(c, 200) for c in view.changes[:4])}"))
    buttons = fix_buttons(view.gap_id, view.article_url, view.draft_id)
    if view.rollback_article_id is not None and (view.rollback_from or 0) > 1:
        version = view.rollback_from or 0
        ref = RollbackRef(article_id=view.rollback_article_id, from_version=version, to_version=version - 1,
                          gap_id=view.gap_id).dump()
        title = view.rollback_title or f"article #{view.rollback_article_id}"  # plain_text: plain(), never esc()
        sure = confirm("Roll back the article?", f"Version {version - 1} of “{plain(title, 150)}” goes live again as "
                       "a new version, in the team's knowledge base too. The history is kept.", "Roll back")
        label = f":rewind: Roll back “{plain(title, 40)}” to v{version - 1}"  # the version always shows
        buttons.append(button(label, ActionId.ROLLBACK, ref, confirm=sure))
    if buttons:
        blocks.append(actions(*buttons, block_id=f"regression-{view.gap_id}"))
    return message(f"Regression: gap #{view.gap_id} {verdict} now.{who.rstrip(',')}", blocks)
