"""The Bolt app: built by `create_app`, never at import time. Listeners live in `handlers/`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.blocks import build_error_message
from bot.blocks.models import ErrorView
from bot.errors import FlywheelError
from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client

log = logging.getLogger(__name__)

LISTENER_THREADS = 16  # Bolt's default of 5 lets a few slow LLM listeners starve everyone's ack()


def create_app(settings: Settings, services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app for one workspace: services on every listener's context, one error handler, all listeners.

    The token comes from `settings.slack_bot_token` through `make_web_client` (which honours
    SLACK_API_URL and adds the retry handlers); Bolt calls `auth.test` once here.
    """
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        client=client or make_web_client(settings),  # carries settings.slack_bot_token
        signing_secret=secret,  # empty in Socket Mode, where Bolt does not verify signatures
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="flywheel-listener"),
        ignoring_self_events_enabled=True,
        name="flywheel",
    )

    @app.use
    def provide_services(context: BoltContext, next: Callable[[], Any]) -> None:  # noqa: A002 - Bolt's name
        context["services"] = services  # injected as the `services` argument of any listener
        next()

    @app.error
    def handle_error(error: Exception, context: BoltContext, client: WebClient) -> None:
        show_error(error, context, client)

    from handlers import register_handlers

    register_handlers(app)
    return app


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
        text = "Something went wrong on our side, and nothing more was done."
    channel, user = context.channel_id, context.user_id
    if not (channel and user and client):
        log.warning("error not shown (no channel or user) type=%s error_id=%s", type(error).__name__, error_id)
        return error_id
    message = build_error_message(ErrorView(message=text, error_id=error_id))
    try:
        client.chat_postEphemeral(channel=channel, user=user, **message.as_kwargs())
    except Exception:  # noqa: BLE001 - the error message itself failed; the log has both
        log.exception("could not show the error to user=%r channel=%r error_id=%s", user, channel, error_id)
    return error_id
