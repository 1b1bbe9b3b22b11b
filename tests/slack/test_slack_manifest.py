"""manifest.yml stays valid (key constraints of Slack's manifest schema v1) and in sync with what the
bot needs. When handlers register events/commands, extend EVENTS/COMMANDS here (or derive them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

COMMANDS = {"/flywheel"}
EVENTS = {"reaction_added", "reaction_removed", "message.channels", "app_home_opened"}
SCOPES = {"chat:write", "reactions:read", "reactions:write", "channels:history", "commands", "files:write",
          "users:read", "usergroups:read", "channels:read"}
# event -> scope it needs (slack-platform.md §3); app_home_opened needs none
EVENT_SCOPES = {"reaction_added": "reactions:read", "reaction_removed": "reactions:read",
                "message.channels": "channels:history"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_parses_with_known_top_level_keys(manifest: dict[str, Any]) -> None:
    assert set(manifest) <= {"_metadata", "display_information", "features", "oauth_config", "settings"}
    assert manifest["_metadata"]["major_version"] == 1


def test_display_information(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    assert info["name"] == "Flywheel" and 1 <= len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])


def test_features(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert set(features["app_home"]) <= {"home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"}
    assert 1 <= len(features["bot_user"]["display_name"]) <= 80
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) == COMMANDS
    for cmd in commands.values():
        assert re.match(r"^/", cmd["command"]) and 2 <= len(cmd["command"]) <= 32
        assert 1 <= len(cmd["description"]) <= 2000 and len(cmd.get("usage_hint", "")) <= 1000
        assert "url" not in cmd  # Socket Mode: no URLs


def test_scopes_are_exactly_the_least_privilege_set(manifest: dict[str, Any]) -> None:
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(bot_scopes) == len(set(bot_scopes))
    assert set(bot_scopes) == SCOPES


def test_events_and_their_scopes(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    events = settings["event_subscriptions"]["bot_events"]
    assert set(events) == EVENTS and len(events) == len(set(events))
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for event in events:
        needed = EVENT_SCOPES.get(event)
        assert needed is None or needed in scopes, f"{event} needs {needed}"


def test_socket_mode_by_default(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["token_rotation_enabled"] is False
    assert "request_url" not in settings["event_subscriptions"]
    assert "request_url" not in settings["interactivity"]
    text = MANIFEST.read_text(encoding="utf-8")
    assert "/slack/events" in text  # the HTTP switch is documented in comments
