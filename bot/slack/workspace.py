"""Only the installing workspace gets in (docs/SECURITY.md, "Who gets in").

A signed request proves it comes from Slack for this app, not that it comes from this app's workspace:
the same app can be reached from another workspace of an Enterprise Grid org, and Slack Connect channels
bring users of other organisations. `guard_workspace(app)` registers, before every other middleware and
listener, a check that each workspace and organisation id a request names is the bot's own (auth.test,
looked up once through `bot.slack.client.bot_identity` and cached):

* Events API deliveries from elsewhere are answered 200 and dropped (a non-2xx would make Slack retry
  and count toward disabling the app's event subscriptions);
* commands, buttons, modals and menus from elsewhere get 403 `workspace_not_allowed`;
* events from a Slack Connect channel pass only when the acting user's team is named and is ours.

Nothing is posted, no listener runs, and one log line names the ids (never the payload). The same call
also swaps Bolt's signature check for one that can't fail open (`bot.slack.verify`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.slack.client import bot_identity, error_code
from bot.slack.verify import harden_verification

log = logging.getLogger(__name__)

Identity = tuple[str, str | None]  # (team_id, enterprise_id) of the bot's own workspace
EVENT_TYPES = frozenset({"event_callback", "app_rate_limited"})
REFUSED = {"error": "workspace_not_allowed"}


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _ids(*values: Any) -> set[str]:
    return {v for v in map(_id, values) if v is not None}


def claimed_ids(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Every workspace id and every organisation id a request names, wherever Slack puts them."""
    teams = {body.get("team_id"), _id(body.get("team")), body.get("user_team")}
    orgs = {body.get("enterprise_id"), _id(body.get("enterprise"))}
    if isinstance(body.get("team"), dict):
        orgs.add(body["team"].get("enterprise_id"))
    for part in (body.get("user"), body.get("view")):
        if isinstance(part, dict):
            teams.update((part.get("team_id"), part.get("app_installed_team_id")))
            orgs.add(part.get("enterprise_id"))
    for auth in body.get("authorizations") or ():
        if isinstance(auth, dict):
            teams.add(auth.get("team_id"))
            orgs.add(auth.get("enterprise_id"))
    event = body.get("event")
    if isinstance(event, dict):
        teams.update(_actor_teams(event))
        if isinstance(event.get("user"), dict):
            teams.add(event["user"].get("team_id"))
    return _ids(*teams), _ids(*orgs)


def _actor_teams(event: dict[str, Any]) -> set[str]:
    found = _ids(event.get("user_team"), event.get("source_team"), event.get("team"))
    for inner in (event.get("message"), event.get("previous_message")):  # message_changed / message_deleted
        if isinstance(inner, dict):  # the edited message's author: a sibling or partner must not edit in a note
            found |= _ids(inner.get("user_team"), inner.get("source_team"), inner.get("team"))
    return found


def refusal(body: dict[str, Any], identity: Identity) -> str | None:
    """Why this request is not from the bot's own workspace (a short reason), or None when it is."""
    team_id, enterprise_id = identity
    teams, orgs = claimed_ids(body)
    if not teams:
        return "no workspace id"
    # In a Grid org Slack may name the organisation where a team is expected (event.user_team = E…).
    if not teams <= {team_id, *([enterprise_id] if enterprise_id else [])}:
        return "another workspace"
    if orgs and orgs != {enterprise_id}:
        return "another organisation"
    event = body.get("event")
    if body.get("is_ext_shared_channel") is True and isinstance(event, dict) and not _actor_teams(event):
        return "Slack Connect event without the user's workspace"
    return None


def make_workspace_guard(client: WebClient, *,
                         identity: Callable[[WebClient], Identity] = bot_identity) -> Callable[..., Any]:
    """The Bolt middleware; auth.test is asked once, on the first signed request, then cached."""
    known: list[Identity] = []
    lock = threading.Lock()

    def own() -> Identity:
        with lock:
            if not known:
                known.append(identity(client))
            return known[0]

    def guard_workspace_ids(body: dict[str, Any], context: BoltContext,
                            next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002 - Bolt's name
        if not isinstance(body, dict):
            return next()
        is_event = body.get("type") in EVENT_TYPES
        try:
            ours = own()
        except Exception as exc:  # noqa: BLE001 - Slack unreachable: nobody can be checked, nobody gets in
            log.warning("workspace check unavailable (auth.test failed error=%r); request refused", error_code(exc))
            return BoltResponse(status=503, body={"error": "temporarily_unavailable"})
        reason = refusal(body, ours)
        if reason is None:
            return next()
        teams, orgs = claimed_ids(body)
        log.warning("request from outside the workspace refused reason=%r kind=%r team_ids=%r enterprise_ids=%r "
                    "user=%r", reason, "event" if is_event else "interaction", sorted(teams), sorted(orgs),
                    context.user_id)
        if is_event:
            return BoltResponse(status=200, body="")  # acked, so Slack does not retry; nothing is done
        return BoltResponse(status=403, body=REFUSED)

    return guard_workspace_ids


def guard_workspace(app: App) -> None:
    """Register the workspace check (call it right after building the App, before any `app.use`)."""
    harden_verification(app)
    app.use(make_workspace_guard(app.client))
