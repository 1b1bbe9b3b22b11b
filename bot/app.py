"""The Bolt app: built by `create_app`, never at import time. Listeners live in `handlers/`.

Besides the services, `create_app` adds what keeps the edge safe (docs/RELIABILITY.md):
* `dedupe_events`: an Events API delivery whose `event_id` was already processed (Slack's retries, a
  second instance) is answered 200 and dropped (`bot.services.events`);
* the admin group resolver (`usergroups.users.list`, cached `GROUP_CACHE_SECONDS`) for the permission
  checks in the services;
* log guards: slack_bolt and slack_sdk log request and response bodies (message text) at DEBUG, and Bolt
  logs the body of a request with a bad signature at INFO. Their loggers are kept at INFO and a filter
  cuts every payload out of their records, whatever level an operator sets;
* catch-all listeners, so an unknown or outdated button gets a clear answer instead of a 404.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.blocks import build_error_message
from bot.blocks.models import ErrorView
from bot.errors import FlywheelError
from bot.services import Services, events
from bot.settings import Settings
from bot.slack.client import make_web_client

log = logging.getLogger(__name__)

LISTENER_THREADS = 16  # Bolt's default of 5 lets a few slow LLM listeners starve everyone's ack()
GROUP_CACHE_SECONDS = 60.0  # admin group membership: fresh enough, and one API call a minute at most
PRUNE_EVERY_SECONDS = 3600.0  # old processed event ids are forgotten at most once an hour

# Loggers of the Slack libraries that log payloads (Bolt's own are configured from BOLT_LOGGER).
BOLT_LOGGER = "slack_bolt.flywheel"
SLACK_SDK_LOGGERS = ("slack_sdk.web.base_client", "slack_sdk.socket_mode.builtin.client",
                     "slack_sdk.socket_mode.builtin.internals")
_PAYLOAD = re.compile(r"\b(?:query_params|body_params|json_body|body|headers|payload|files)\b\s*[:=]|\{")


class SlackPayloadFilter(logging.Filter):
    """Keeps a Slack library's log line up to its first payload (`body: …`, `headers: …`, a dict dump):
    the method, URL and status stay; message text, tokens in bodies and signatures' bodies go."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: drop its arguments rather than the line
            text = str(record.msg)
        cut = _PAYLOAD.search(text)
        if cut is not None:
            record.msg, record.args = text[:cut.start()].rstrip(" ,(-") + " (payload not logged)", ()
        return True


def guard_slack_logs() -> logging.Logger:
    """Install the payload filter (once) and keep the Slack libraries at INFO unless set otherwise.
    Returns the base logger to hand to Bolt (its component loggers copy its level and filters)."""
    base = logging.getLogger(BOLT_LOGGER)
    for name in (BOLT_LOGGER, "slack_bolt", *SLACK_SDK_LOGGERS):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SlackPayloadFilter) for f in logger.filters):
            logger.addFilter(SlackPayloadFilter())
    for name in (BOLT_LOGGER, "slack_bolt", "slack_sdk"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)
    return base


def make_group_resolver(client: WebClient, *, ttl: float = GROUP_CACHE_SECONDS,
                        clock: Callable[[], float] = time.monotonic) -> Callable[[str], frozenset[str]]:
    """Members of a Slack user group (`usergroups.users.list`, scope usergroups:read), cached for `ttl`
    seconds. When Slack can't answer, nobody is a member (fail closed: FLYWHEEL_ADMINS still work)."""
    cache: dict[str, tuple[float, frozenset[str]]] = {}
    lock = threading.Lock()

    def resolve(group_id: str) -> frozenset[str]:
        with lock:
            hit = cache.get(group_id)
            if hit is not None and clock() - hit[0] < ttl:
                return hit[1]
        try:
            members = frozenset(client.usergroups_users_list(usergroup=group_id).get("users") or ())
        except Exception as exc:  # noqa: BLE001 - a permission check must answer, not crash
            response = getattr(exc, "response", None)  # a SlackApiError's; none for a connection error
            code = (response.get("error") if response is not None else None) or type(exc).__name__
            log.warning("admin group not resolved group=%r error=%r: only FLYWHEEL_ADMINS are admins",
                        group_id, code)
            return frozenset()
        with lock:
            cache[group_id] = (clock(), members)
        return members

    return resolve


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
        logger=guard_slack_logs(),
    )
    if settings.admin_group and services.group_resolver is None:
        services.group_resolver = make_group_resolver(app.client)

    @app.use
    def provide_services(context: BoltContext, next: Callable[[], Any]) -> None:  # noqa: A002 - Bolt's name
        context["services"] = services  # injected as the `services` argument of any listener
        next()

    next_prune = [0.0]

    @app.use
    def dedupe_events(body: dict[str, Any], request: BoltRequest,
                      next: Callable[[], Any]) -> BoltResponse | None:  # noqa: A002 - Bolt's name
        """Events API deliveries only (interactivity has no event_id): a redelivery is acked and dropped."""
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return next()
        event_id = body.get("event_id")
        if not events.valid_event_id(event_id):
            log.warning("event without a usable event_id processed without dedupe type=%r",
                        (body.get("event") or {}).get("type") if isinstance(body.get("event"), dict) else None)
            return next()
        retry = (request.headers.get("x-slack-retry-num") or [None])[0]
        try:
            first = events.first_delivery(services, event_id)
        except Exception:  # noqa: BLE001 - the database is unreachable: let Slack deliver it again later
            log.exception("event not recorded, asking Slack to retry event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=503, body={"error": "temporarily_unavailable"})
        if time.monotonic() >= next_prune[0]:
            next_prune[0] = time.monotonic() + PRUNE_EVERY_SECONDS
            try:
                events.prune(services)
            except Exception:  # noqa: BLE001 - housekeeping; the next hour tries again
                log.exception("pruning processed events failed")
        if not first:
            log.info("duplicate event dropped event_id=%r retry=%r", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    @app.error
    def handle_error(error: Exception, context: BoltContext, client: WebClient) -> None:
        show_error(error, context, client)

    from handlers import register_handlers
    from handlers.guard import handle_unknown_action, handle_unknown_view, shows_errors

    register_handlers(app)
    # Registered last: only what no real listener took (outdated buttons, an older app version's modals).
    app.action(re.compile(".*"))(shows_errors(handle_unknown_action))
    app.view(re.compile(".*"))(handle_unknown_view)
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
