"""The one place that builds Slack Web API clients, plus a tiny posting layer.

`make_web_client` wires slack_sdk's retry handlers (429s are *not* retried by default).
`post_message` / `update_message` turn the few channel errors a user can fix into `SlackPostError`
(a user-safe `FlywheelError`); every other `SlackApiError` propagates to the app's error handler.
Every Web API call of the project goes through a function here (tests/slack/test_one_client.py checks
it); `error_code` reads the error code out of any Slack exception.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

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


def error_code(exc: BaseException) -> str:
    """Slack's error code (`channel_not_found`, `ratelimited`…) of a `SlackApiError`; the exception's type
    name for anything else (no connection, a timeout): short, and safe to log."""
    response = getattr(exc, "response", None)  # a SlackApiError's; none for a connection error
    try:
        code = response.get("error") if response is not None else None
    except Exception:  # noqa: BLE001 - not a SlackResponse: fall back to the type name
        code = None
    return str(code) if code else type(exc).__name__


def _raise_expected(exc: SlackApiError, channel: str) -> None:
    code = error_code(exc)
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


def post_ephemeral(
    client: WebClient,
    *,
    channel: str,
    user: str,
    text: str,
    blocks: Sequence[Block | dict[str, Any]] | None = None,
) -> None:
    """chat.postEphemeral: a message only `user` sees in `channel`."""
    client.chat_postEphemeral(
        channel=channel, user=user, text=text, blocks=list(blocks) if blocks is not None else None
    )


def open_view(client: WebClient, *, trigger_id: str, view: View | dict[str, Any]) -> None:
    """views.open: a modal, within the 3 seconds the trigger id lives."""
    client.views_open(trigger_id=trigger_id, view=view)


def publish_home(client: WebClient, *, user_id: str, view: View | dict[str, Any]) -> None:
    """views.publish: the App Home tab of `user_id`."""
    client.views_publish(user_id=user_id, view=view)


def usergroup_members(client: WebClient, *, usergroup: str) -> frozenset[str]:
    """usergroups.users.list (scope usergroups:read): the member ids of a user group."""
    return frozenset(client.usergroups_users_list(usergroup=usergroup).get("users") or ())


def bot_identity(client: WebClient) -> tuple[str, str | None]:
    """auth.test: the (team_id, enterprise_id) of the workspace the bot token belongs to (no enterprise: None)."""
    response = client.auth_test()
    return str(response["team_id"]), (str(response.get("enterprise_id") or "") or None)


def granted_scopes(client: WebClient) -> frozenset[str]:
    """auth.test: the scopes granted to the bot token (its `x-oauth-scopes` header; `flywheel doctor`)."""
    response = client.auth_test()
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("x-oauth-scopes") or ""
    raw = raw[0] if isinstance(raw, list) else raw
    return frozenset(s.strip() for s in str(raw).split(",") if s.strip())


def upload_file(client: WebClient, *, channel: str, path: Path, title: str, initial_comment: str | None = None) -> None:
    """files_upload_v2 (files.getUploadURLExternal + completeUploadExternal; scope files:write) of a local file,
    shared in `channel` (an ID). Same expected errors as `post_message`."""
    try:
        client.files_upload_v2(channel=channel, file=str(path), filename=path.name, title=title,
                               initial_comment=initial_comment)
    except SlackApiError as exc:
        _raise_expected(exc, channel)
        raise


def set_reaction(client: WebClient, *, channel: str, ts: str, name: str, on: bool = True) -> bool:
    """reactions.add (`on`) or reactions.remove (scope reactions:write) of the bot's own `name` on a message.
    A marker is a nicety: already there, already gone, or any failure is logged and returns False."""
    try:
        if on:
            client.reactions_add(channel=channel, timestamp=ts, name=name)
        else:
            client.reactions_remove(channel=channel, timestamp=ts, name=name)
    except Exception as exc:  # noqa: BLE001 - never fail the caller over a reaction
        code = error_code(exc)
        if code not in {"already_reacted", "no_reaction"}:
            log.warning("reactions.%s failed channel=%r ts=%r error=%r", "add" if on else "remove", channel, ts, code)
        return False
    return True


USER_NAME_TTL_SECONDS = 3600.0
_USER_NAME_CACHE_SIZE = 2048
_user_names: dict[tuple[int, str], tuple[float, str | None]] = {}  # (client, user id) -> (when, name)
_user_names_lock = threading.Lock()


def user_display_name(client: WebClient, user_id: str, *, ttl: float = USER_NAME_TTL_SECONDS) -> str | None:
    """users.info (scope users:read): the name Slack shows for `user_id` (display name, else real name,
    else handle), cached per client for `ttl` seconds. None when Slack can't say (the caller keeps the id);
    a failed lookup is not cached, so the next message tries again."""
    key, now = (id(client), user_id), time.monotonic()
    with _user_names_lock:
        hit = _user_names.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except Exception as exc:  # noqa: BLE001 - a name is a nicety: never fail the caller over it
        log.warning("users.info failed user=%r error=%r", user_id, error_code(exc))
        return None
    profile = user.get("profile") or {}
    name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            or user.get("name") or None)
    with _user_names_lock:
        if len(_user_names) >= _USER_NAME_CACHE_SIZE:
            _user_names.clear()  # bounded: a workspace's active users fit; a flood just starts over
        _user_names[key] = (now, name)
    return name


def permalink(client: WebClient, *, channel: str, ts: str) -> str | None:
    """chat.getPermalink: a link to a message (a gap's thread in the weekly post). None when Slack can't say:
    a link is a nicety, the gap id is shown either way."""
    try:
        url = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as exc:  # noqa: BLE001 - never fail a post over a link
        log.warning("chat.getPermalink failed channel=%r ts=%r error=%r", channel, ts, error_code(exc))
        return None
    return str(url) if url else None


def channel_membership(client: WebClient, *, channel: str) -> tuple[bool, str | None]:
    """conversations.info (scopes channels:read, groups:read): whether the bot is a member of `channel`, and the
    channel's name. SlackApiError (channel_not_found, missing_scope…) propagates."""
    info = client.conversations_info(channel=channel).get("channel") or {}
    return bool(info.get("is_member")), (str(info["name"]) if info.get("name") else None)
