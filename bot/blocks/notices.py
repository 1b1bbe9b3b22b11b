"""Error messages (with a retry button) and the `/flywheel help` text."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.common import Message, actions, button, context, emoji, esc, header, message, section
from bot.blocks.ids import ActionId, RetryRef
from bot.blocks.models import ErrorView

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
        "I answer in the thread with an article outline; your replies there become notes. "
        "*Write draft* → *Test* (a shadow replay) → *Publish*, and I replay the conversation to check "
        "the agent now gets it right."
    )
    blocks = [header("Flywheel help"), section(f"*Commands*\n{lines}"), section(loop)]
    text = f"Flywheel help: {cmd} help | stats | digest now | gaps | gaps topics | search | replay | regress"
    return message(text, blocks)
