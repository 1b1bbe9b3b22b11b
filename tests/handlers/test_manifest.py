"""manifest.yml and `register_handlers` stay in sync: every event and command the code listens to is
declared, every declared one is handled (Bolt answers 404 to an unhandled event and Slack retries it),
and every button/modal id the builders use has a listener."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from handlers import register_handlers
from handlers.ids import ActionId, ViewId
from tests.support.harness import ANA, REVIEW, Harness

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
# the conversation modal is read-only
MODALS_WITH_SUBMIT = {ViewId.EDIT_DRAFT, ViewId.EDIT_OUTLINE, ViewId.VERDICT_OVERRIDE}


class RecordingApp:
    """Stands in for a Bolt App and records what `register_handlers` wires."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.commands: list[str] = []
        self.actions: list[str] = []
        self.views: list[str] = []
        self.suggestions: list[str] = []  # options loads of external selects (block_suggestion)

    def _record(self, where: list[str], name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        where.append(str(name))

        def register(func: Callable[..., Any]) -> Callable[..., Any]:
            assert callable(func)
            return func

        return register

    def event(self, name: str, matchers: Any = None) -> Callable[..., Any]:
        return self._record(self.events, name)

    def command(self, name: str) -> Callable[..., Any]:
        return self._record(self.commands, name)

    def action(self, action_id: str) -> Callable[..., Any]:
        return self._record(self.actions, action_id)

    def view(self, callback_id: str) -> Callable[..., Any]:
        return self._record(self.views, callback_id)

    def options(self, action_id: str) -> Callable[..., Any]:
        assert action_id in self.actions, "an external select needs its block_actions listener too"
        return self._record(self.suggestions, action_id)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"register_handlers used app.{name}: teach this test about it")


def _manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def _declared_events() -> set[str]:
    """Bot events as Bolt sees them: message.channels / .groups / .im / .mpim all arrive as `message`."""
    events = _manifest()["settings"]["event_subscriptions"]["bot_events"]
    return {e.split(".")[0] for e in events}


def _recorded() -> RecordingApp:
    app = RecordingApp()
    register_handlers(app)
    return app


def test_every_registered_event_and_command_is_declared_and_vice_versa() -> None:
    app, manifest = _recorded(), _manifest()
    assert set(app.events) == _declared_events()
    declared_commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert set(app.commands) == declared_commands == {"/flywheel"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # we listen to buttons and modals
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True  # app_home_opened publishes it


def test_every_action_and_submittable_modal_has_a_listener() -> None:
    app = _recorded()
    assert set(app.actions) == {a.value for a in ActionId}
    assert len(app.actions) == len(set(app.actions))
    assert set(app.views) == {v.value for v in MODALS_WITH_SUBMIT}


def test_the_real_app_answers_every_declared_event_with_200(harness: Harness) -> None:
    samples = {
        "reaction_added": {"reaction": "thumbsup", "item": {"type": "message", "channel": REVIEW, "ts": "1.000001"}},
        "reaction_removed": {"reaction": "thumbsup", "item": {"type": "message", "channel": REVIEW, "ts": "1.000001"}},
        "message": {"channel": REVIEW, "text": "hello", "ts": "1.000002", "channel_type": "channel"},
        "app_home_opened": {"channel": "D0ANA", "tab": "messages"},
    }
    declared = _declared_events()
    assert declared <= set(samples), f"add a sample event for {declared - set(samples)}"
    for kind in sorted(declared):
        response = harness.event({"type": kind, "user": ANA, **samples[kind]})
        assert response.status == 200, (kind, response.status)
    # The check can fail: an event nobody listens to gets Bolt's 404 (which Slack would retry).
    assert harness.event({"type": "member_joined_channel", "user": ANA, "channel": REVIEW}).status == 404
