"""The Bolt app: built by `create_app`, never at import time. Listeners live in `handlers/`.

`create_app` only assembles what lives elsewhere (docs/RELIABILITY.md):
* `bot.slack.dedupe`: an Events API delivery whose `event_id` was already processed is acked and dropped;
  listeners run in lanes (`Lanes`: acks never wait behind slow work); `/flywheel` hands its answer off
  (`context["handoff"]`) and the App Home builds one at a time per user (`context["home_builds"]`);
* `bot.slack.groups`: the admin group resolver for the permission checks in the services;
* `bot.slack.logfilter`: Slack's own loggers kept at INFO and free of payloads;
* `bot.slack.errors.show_error`: the one error handler (user-safe text, or a correlation id);
* catch-all listeners, so an unknown or outdated button gets a clear answer instead of a 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.lazy_listener import ThreadLazyListenerRunner
from slack_sdk import WebClient

from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.dedupe import Coalescer, Lanes, make_dedupe_middleware
from bot.slack.errors import show_error
from bot.slack.groups import make_group_resolver
from bot.slack.logfilter import guard_slack_logs
from bot.slack.workspace import guard_workspace
from handlers import register_handlers
from handlers.guard import handle_unknown_action, handle_unknown_view, shows_errors


def create_app(settings: Settings, services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app for one workspace: services on every listener's context, one error handler, all listeners.

    The token comes from `settings.slack_bot_token` through `make_web_client` (which honours
    SLACK_API_URL and adds the retry handlers); Bolt calls `auth.test` once here.
    """
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    lanes = Lanes()  # acks never wait behind slow work (bot/slack/dedupe.py)
    app = App(
        client=client or make_web_client(settings),  # carries settings.slack_bot_token
        signing_secret=secret,  # empty in Socket Mode, where Bolt does not verify signatures
        process_before_response=False,
        listener_executor=lanes,
        ignoring_self_events_enabled=True,
        name="flywheel",
        logger=guard_slack_logs(),
    )
    if isinstance(app.listener_runner.lazy_listener_runner, ThreadLazyListenerRunner):
        app.listener_runner.lazy_listener_runner.executor = lanes.work  # lazy listeners are slow work
    guard_workspace(app)  # first: only the installing workspace gets in (docs/SECURITY.md)
    if services.group_resolver is None:  # lazy: Slack is asked only when a role names a user group
        services.group_resolver = make_group_resolver(app.client)

    @app.use
    def provide_services(context: BoltContext, next: Callable[[], Any]) -> None:  # noqa: A002 - Bolt's name
        context["services"] = services  # injected as the `services` argument of any listener
        context["handoff"] = lanes.handoff  # slow work after the ack (handlers/commands.py)
        context["home_builds"] = home_builds  # one App Home build per user at a time (handlers/home.py)
        next()

    home_builds = Coalescer()
    app.use(lanes.choose_lane)
    app.use(make_dedupe_middleware(services, lanes=lanes, dispatch=app.dispatch))

    @app.error
    def handle_error(error: Exception, context: BoltContext, client: WebClient) -> None:
        show_error(error, context, client)

    register_handlers(app)
    # Registered last: only what no real listener took (outdated buttons, an older app version's modals).
    app.action(re.compile(".*"))(shows_errors(handle_unknown_action))
    app.view(re.compile(".*"))(handle_unknown_view)
    return app
