"""Slack listeners. `register_handlers(app)` wires every one of them; the modules have no side effects.

Every subscribed event has a listener (a no-op where we don't act), so Bolt never answers 404 and Slack
never retries. Action and view ids come from `handlers.ids`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import actions, commands, home, messages, reactions, views
from handlers.guard import shows_errors
from handlers.ids import ActionId, ViewId

ACTIONS: dict[ActionId, Callable[..., None]] = {
    ActionId.FLAG: actions.handle_flag_button,
    ActionId.LOOKS_GOOD: actions.handle_looks_good,
    ActionId.SHOW_CONVERSATION: actions.handle_show_conversation,
    ActionId.PICK_TURN: actions.handle_pick_turn,
    ActionId.TAKE_GAP: actions.handle_take_gap,
    ActionId.PICK_KIND: actions.handle_pick_kind,
    ActionId.PICK_TARGET: actions.handle_pick_target,
    ActionId.WRITE_DRAFT: actions.handle_write_draft,
    ActionId.EDIT_OUTLINE: actions.handle_edit_outline,
    ActionId.DISMISS: actions.handle_dismiss,
    ActionId.JOIN_GAP: actions.handle_join_gap,
    ActionId.NEW_GAP: actions.handle_new_gap,
    ActionId.EDIT_DRAFT: actions.handle_edit_draft,
    ActionId.TEST_DRAFT: actions.handle_test_draft,
    ActionId.PUBLISH: actions.handle_publish,
    ActionId.DISMISS_DRAFT: actions.handle_dismiss_draft,
    ActionId.EDIT_AND_RETRY: actions.handle_edit_and_retry,
    ActionId.VERDICT_WRONG: actions.handle_verdict_wrong,
    ActionId.ROLLBACK: actions.handle_rollback,
    ActionId.RETRY: actions.handle_retry,
    ActionId.OPEN_LINK: actions.handle_open_link,
}

VIEW_SUBMISSIONS: dict[ViewId, Callable[..., None]] = {
    ViewId.EDIT_DRAFT: views.handle_edit_draft_submission,
    ViewId.EDIT_OUTLINE: views.handle_edit_outline_submission,
    ViewId.VERDICT_OVERRIDE: views.handle_verdict_override_submission,
}

COMMAND = "/flywheel"


def register_handlers(app: Any) -> None:
    """Wire every listener on a Bolt `App` (order matters: the first matching listener wins)."""
    app.event("reaction_added", matchers=[reactions.is_flag_emoji])(reactions.handle_gap_flag)
    app.event("reaction_added", matchers=[reactions.is_ok_emoji])(reactions.handle_ok_reaction)
    app.event("reaction_added")(reactions.ignore_event)
    app.event("reaction_removed", matchers=[reactions.is_flag_emoji])(reactions.handle_flag_removed)
    app.event("reaction_removed")(reactions.ignore_event)
    app.event("message")(messages.handle_message)  # every subtype: note replies, their edits and deletions
    app.event("app_home_opened")(home.handle_app_home_opened)
    # Interactive listeners show their own errors (see handlers.guard); events use the app's @app.error.
    app.command(COMMAND)(shows_errors(commands.handle_flywheel_command))
    for action_id, handler in ACTIONS.items():
        app.action(action_id.value)(shows_errors(handler))
    app.options(ActionId.PICK_TARGET.value)(actions.handle_target_options)  # the target select's options
    for callback_id, handler in VIEW_SUBMISSIONS.items():
        app.view(callback_id.value)(shows_errors(handler))
