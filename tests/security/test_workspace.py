"""Issue 12, item 6: only the installing workspace gets in. Signed requests that name another workspace or
organisation (events, Slack Connect users, buttons, commands, modals) are refused before any listener
runs: nothing is posted, one log line with ids only. The same requests from the bot's workspace work."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App

from tests.security.conftest import SECRET
from tests.support import slack_methods
from tests.support.mock_slack import TEAM_ID, MockSlack
from tests.support.signing import FORM, JSON, SignedRequest, command_fields, event_envelope, interaction_request, sign

OTHER, PARTNER, ORG = "T0OTHER99", "T0PARTNER", "E0OTHERORG"
NOTE = "a confidential note about the merger"  # must never reach a log line


def event(*, team: str = TEAM_ID, enterprise: str | None = None, shared_user_team: str | None = "",
          inner: dict[str, Any] | None = None) -> SignedRequest:
    """An app_mention; `shared_user_team` != "" makes it a Slack Connect delivery (None: no user_team)."""
    body = event_envelope(inner or {"type": "app_mention", "user": "U0ANA", "text": NOTE, "channel": "C0SHARED",
                                    "ts": f"{time.time():.6f}"}, team_id=team)
    if enterprise:
        body["enterprise_id"] = enterprise
        body["authorizations"][0]["enterprise_id"] = enterprise
    if shared_user_team != "":
        body["is_ext_shared_channel"] = True
        if shared_user_team is not None:
            body["event"]["user_team"] = shared_user_team
    return sign(json.dumps(body), secret=SECRET, content_type=JSON)


def click(*, team: str = TEAM_ID, user_team: str = TEAM_ID) -> SignedRequest:
    return interaction_request({
        "type": "block_actions", "user": {"id": "U0ANA", "team_id": user_team}, "api_app_id": "A111",
        "team": {"id": team}, "channel": {"id": "C0SHARED"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0SHARED"},
        "actions": [{"action_id": "probe_button", "type": "button", "value": "{}", "action_ts": "1.2"}]},
        secret=SECRET)


def command(*, team: str = TEAM_ID, enterprise: str = "") -> SignedRequest:
    fields = {**command_fields("help", channel_id="C0SHARED"), "team_id": team, "enterprise_id": enterprise}
    return sign(urlencode(fields), secret=SECRET, content_type=FORM)


def submit(*, team: str = TEAM_ID) -> SignedRequest:
    return interaction_request({
        "type": "view_submission", "team": {"id": team}, "user": {"id": "U0ANA", "team_id": team},
        "api_app_id": "A111", "trigger_id": "1.2.3",
        "view": {"id": "V0PROBE", "type": "modal", "callback_id": "probe_view", "team_id": team,
                 "state": {"values": {}}, "private_metadata": ""}}, secret=SECRET)


REFUSED = {
    "event from another workspace": (lambda: event(team=OTHER), 200),
    "event from another organisation": (lambda: event(enterprise=ORG), 200),
    "Slack Connect user's event": (lambda: event(shared_user_team=PARTNER), 200),
    "Slack Connect event without the user's team": (lambda: event(shared_user_team=None), 200),
    "Slack Connect user's button": (lambda: click(user_team=PARTNER), 403),
    "button from another workspace": (lambda: click(team=OTHER, user_team=OTHER), 403),
    "command from another workspace": (lambda: command(team=OTHER), 403),
    "command from another organisation": (lambda: command(enterprise=ORG), 403),
    "modal from another workspace": (lambda: submit(team=OTHER), 403),
}
ALLOWED = {
    "event": (lambda: event(), "event"),
    "Slack Connect event by our own user": (lambda: event(shared_user_team=TEAM_ID), "event"),
    "button": (lambda: click(), "action"),
    "command": (lambda: command(), "command"),
    "modal": (lambda: submit(), "view"),
}


def settle(app: App) -> None:
    time.sleep(0.3)  # a listener that (wrongly) started would have run by now
    app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_request_from_outside_the_workspace_runs_nothing(app: App, ran, slack: MockSlack, caplog, case) -> None:  # type: ignore[no-untyped-def]
    build, status = REFUSED[case]
    caplog.set_level(logging.INFO)
    response = app.dispatch(build().to_bolt())
    settle(app)
    assert response.status == status  # events: acked so that Slack does not retry; the rest: 403
    assert ran == []
    assert slack.calls_to("chat.postMessage") == [] and slack.calls_to("chat.postEphemeral") == []
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.slack.workspace"]
    assert len(lines) == 1 and "refused" in lines[0]
    assert NOTE not in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize("case", list(ALLOWED))
def test_the_same_request_from_the_workspace_works(app: App, ran, slack: MockSlack, case) -> None:  # type: ignore[no-untyped-def]
    build, listener = ALLOWED[case]
    assert app.dispatch(build().to_bolt()).status == 200
    settle(app)
    assert ran == [listener]
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["C0PROBE01"]


def test_the_log_line_has_ids_only(app: App, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    app.dispatch(event(shared_user_team=PARTNER).to_bolt())
    line = next(r.getMessage() for r in caplog.records if r.name == "bot.slack.workspace")
    assert PARTNER in line and TEAM_ID in line and "U0ANA" in line and NOTE not in line


def test_auth_test_is_asked_once_and_cached(app: App, ran, slack: MockSlack) -> None:  # type: ignore[no-untyped-def]
    before = len(slack.calls_to("auth.test"))  # Bolt's own, when the app was built
    for build in (lambda: event(), lambda: click(), lambda: event(team=OTHER), lambda: command(team=OTHER)):
        app.dispatch(build().to_bolt())
    settle(app)
    assert len(slack.calls_to("auth.test")) == before + 1


def test_in_an_enterprise_grid_only_the_installing_workspace_gets_in(app: App, ran, slack: MockSlack,  # type: ignore[no-untyped-def]
                                                                   monkeypatch) -> None:
    grid = "E0OURGRID"
    plain = slack_methods.METHODS["auth.test"]
    monkeypatch.setitem(slack_methods.METHODS, "auth.test", lambda mock, p: {**plain(mock, p), "enterprise_id": grid})
    assert app.dispatch(event(team="T0SIBLING", enterprise=grid).to_bolt()).status == 200  # a sibling: dropped
    assert app.dispatch(command(team="T0SIBLING", enterprise=grid).to_bolt()).status == 403
    assert app.dispatch(command(enterprise=ORG).to_bolt()).status == 403  # our team id, another org
    assert app.dispatch(command(enterprise=grid).to_bolt()).status == 200
    assert app.dispatch(event(shared_user_team=grid).to_bolt()).status == 200  # Slack may name the org there
    settle(app)
    assert sorted(ran) == ["command", "event"]


def test_refused_over_http_too(serve, ran, slack: MockSlack) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    for signed, status in ((click(user_team=PARTNER), 403), (event(team=OTHER), 200)):
        request = urllib.request.Request(f"http://127.0.0.1:{server.server_port}/slack/events",
                                         data=signed.body.encode(), headers=signed.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                got = response.status
        except urllib.error.HTTPError as exc:
            got = exc.code
        assert got == status
    time.sleep(0.3)
    assert ran == [] and slack.calls_to("chat.postMessage") == []
