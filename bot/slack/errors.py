"""The app's one error renderer: a `FlywheelError`'s user-safe message, or only a correlation id.

Used by the app's `@app.error` handler (events) and by `handlers.guard.shows_errors` (interactive
listeners, which must never raise after `ack()`). The traceback goes to the log under the id; the user
never sees exception text.
"""

from __future__ import annotations

import logging
import uuid

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.blocks import build_error_message
from bot.blocks.models import ErrorView
from bot.errors import FlywheelError
from bot.slack.client import post_ephemeral

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on our side, and nothing more was done."


def show_error(error: Exception, context: BoltContext, client: WebClient | None) -> str | None:
    """Show a FlywheelError's user-safe message, or only a correlation id for anything else (the
    traceback goes to the log under that id). Ephemeral to the user where there is a channel.
    Returns the correlation id, if one was made."""
    error_id = None
    if isinstance(error, FlywheelError):
        text = error.message
        log.info("user-facing error %s user=%r channel=%r", type(error).__name__, context.user_id, context.channel_id)
    else:
        error_id = uuid.uuid4().hex[:8]
        log.exception("unexpected error error_id=%s user=%r channel=%r", error_id, context.user_id,
                      context.channel_id, exc_info=error)
        text = UNEXPECTED
    channel, user = context.channel_id, context.user_id
    if not (channel and user and client):
        log.warning("error not shown (no channel or user) type=%s error_id=%s", type(error).__name__, error_id)
        return error_id
    message = build_error_message(ErrorView(message=text, error_id=error_id))
    try:
        post_ephemeral(client, channel=channel, user=user, **message.as_kwargs())
    except Exception:  # noqa: BLE001 - the error message itself failed; the log has both
        log.exception("could not show the error to user=%r channel=%r error_id=%s", user, channel, error_id)
    return error_id
