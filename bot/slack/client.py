"""The one place that builds Slack Web API clients, plus a tiny posting layer.

`make_web_client` wires slack_sdk's retry handlers (429s are *not* retried by default).
`post_message` / `update_message` turn the few channel errors a user can fix into `SlackPostError`
(a user-safe `FlywheelError`); every other `SlackApiError` propagates to the app's error handler.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models.blocks import Block

from bot.errors import ConfigError, FlywheelError
from bot.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30

# Error codes a teammate can fix; the text is shown to users as is.
EXPECTED_ERRORS: dict[str, str] = {
    "channel_not_found": "I can't find that channel. Check the channel ID in Flywheel's settings "
    "(it must be an ID like C0123ABC, not a name).",
    "not_in_channel": "I'm not a member of that channel. Invite me with `/invite @Flywheel` and try again.",
    "is_archived": "That channel is archived. Unarchive it or pick another channel in Flywheel's settings.",
}


class SlackPostError(FlywheelError):
    """Posting failed for a reason the team can fix (see `EXPECTED_ERRORS`)."""

    def __init__(self, message: str, *, code: str, channel: str) -> None:
        super().__init__(message)
        self.code = code
        self.channel = channel


def make_web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A WebClient for `settings.slack_api_url` with rate-limit, connection and 5xx retries."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is not set; Flywheel can't talk to Slack without it.")
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=5),
            ConnectionErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _raise_expected(exc: SlackApiError, channel: str) -> None:
    code = str(exc.response.get("error", "")) if exc.response is not None else ""
    if code in EXPECTED_ERRORS:
        log.warning("slack post refused channel=%r error=%r", channel, code)
        raise SlackPostError(EXPECTED_ERRORS[code], code=code, channel=channel) from exc


def post_message(
    client: WebClient,
    *,
    channel: str,
    text: str,
    blocks: Sequence[Block | dict[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> str:
    """chat.postMessage without unfurls; returns the new message's ts."""
    try:
        response = client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=list(blocks) if blocks is not None else None,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        _raise_expected(exc, channel)
        raise
    return str(response["ts"])


def update_message(
    client: WebClient,
    *,
    channel: str,
    ts: str,
    text: str,
    blocks: Sequence[Block | dict[str, Any]] | None = None,
) -> None:
    """chat.update of a message we posted (same expected errors as `post_message`)."""
    try:
        client.chat_update(
            channel=channel, ts=ts, text=text, blocks=list(blocks) if blocks is not None else None
        )
    except SlackApiError as exc:
        _raise_expected(exc, channel)
        raise
