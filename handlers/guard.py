"""Interactive listeners (buttons, selects, modals, the slash command) show their own errors.

Bolt 1.30 can lose the ack of a listener that raises right after `ack()`: its error path sets
`ack.response` back to None, and when the request thread has not seen the ack yet (it polls every
10 ms) it waits out the 3 seconds, logs "didn't call ack()" and answers 404
(slack_bolt/listener/thread_runner.py, `run_ack_function_asynchronously`). Slack then shows the click
as failed. So these listeners never raise: `shows_errors` hands the error to the app's one error
renderer (`bot.slack.errors.show_error`: user-safe text, or a correlation id that is in the log) and returns.
Events don't need this: Bolt acks them before the listener runs, and `@app.error` shows their errors.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.errors import InvalidInput
from bot.slack.errors import show_error

log = logging.getLogger(__name__)

ARGS = ("ack", "body", "command", "view", "respond", "services", "client", "context")


def shows_errors(func: Callable[..., None]) -> Callable[..., None]:
    wanted = inspect.getfullargspec(func).args
    unknown = set(wanted) - set(ARGS)
    if unknown:
        raise TypeError(f"{func.__name__} takes {sorted(unknown)}: add them to handlers.guard.ARGS")

    # Bolt injects arguments by the names of this signature (no functools.wraps: Bolt would unwrap it).
    def listener(ack: Ack, body: dict[str, Any], command: Any, view: Any, respond: Any, services: Any,
                 client: WebClient, context: BoltContext) -> None:
        available = {"ack": ack, "body": body, "command": command, "view": view, "respond": respond,
                     "services": services, "client": client, "context": context}
        try:
            func(**{name: available[name] for name in wanted})
        except Exception as exc:  # noqa: BLE001 - shown to the user and logged by show_error
            if ack.response is None:
                ack()  # failed before acking: still answer Slack within its 3 seconds
            show_error(exc, context, client)

    listener.__name__, listener.__qualname__, listener.__doc__ = func.__name__, func.__qualname__, func.__doc__
    listener.__module__ = func.__module__
    return listener


# --- what no real listener took (registered last by `bot.app.create_app`) ---------------------------------
def handle_unknown_action(ack: Ack, body: dict[str, Any]) -> None:
    """A button or select we don't know (a message from an older version, a tampered payload): a clear
    ephemeral answer instead of Bolt's 404 (which Slack shows as a failed click)."""
    ack()
    actions = body.get("actions") or [{}]
    action_id = actions[0].get("action_id") if isinstance(actions[0], dict) else None
    log.warning("unknown action action_id=%r", str(action_id)[:80])
    raise InvalidInput("This button is out of date, so nothing was done. Use the buttons on the latest message.")


def handle_unknown_view(ack: Ack, body: dict[str, Any]) -> None:
    """A modal we don't know any more: close it (nothing saved) and log its callback id."""
    view = body.get("view")
    callback_id = view.get("callback_id") if isinstance(view, dict) else None
    log.warning("unknown view submission callback_id=%r", str(callback_id)[:80])
    ack()
