"""`flywheel doctor` names each misconfiguration with a fix, one case per misconfiguration, through the CLI
(typer's CliRunner) against the mock Slack API and a real database; exit 1 on any failure, 0 when all pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.support.mock_slack as mock_slack_module
from bot.cli import app
from bot.doctor import manifest_scopes
from storage.db import make_engine, migrate
from tests.support.mock_slack import MockSlack

Setup = Callable[[MockSlack, Path], dict[str, str]]


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> MockSlack:
    monkeypatch.setattr(mock_slack_module, "SCOPES", ",".join(sorted(manifest_scopes())))
    with MockSlack() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def good_env(tmp_path: Path, slack: MockSlack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'flywheel.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)  # no developer .env
    env = {"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "s3cret",
           "SLACK_API_URL": slack.url, "FLYWHEEL_REVIEW_CHANNEL": "C0REVIEW", "FLYWHEEL_LLM_PROVIDER": "offline"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def doctor(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str, list[str]]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["doctor"], catch_exceptions=False)
    failed = [" ".join(line.split()) for line in result.output.splitlines() if line.startswith("✗")]
    return result.exit_code, result.output, failed


def test_a_good_setup_passes(good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, output, failed = doctor(monkeypatch)
    assert code == 0 and failed == [], output
    assert re.search(r"\d+ checks, 0 failed", output)
    assert "xoxb-test-token" not in output and "s3cret" not in output  # secrets are never printed


CASES: list[tuple[str, dict[str, str], list[str], str]] = [
    ("signing secret missing", {"SLACK_SIGNING_SECRET": ""},
     ["✗ SLACK_SIGNING_SECRET: missing or empty"], "Signing Secret"),
    ("signing secret blank", {"SLACK_SIGNING_SECRET": "   "}, ["✗ SLACK_SIGNING_SECRET: missing or empty"], ""),
    ("bot token missing", {"SLACK_BOT_TOKEN": ""}, ["✗ SLACK_BOT_TOKEN: missing"], "Bot User OAuth Token"),
    ("user token as bot token", {"SLACK_BOT_TOKEN": "xoxp-1-abc"},
     ["✗ SLACK_BOT_TOKEN: does not start with xoxb- (starts with 'xoxp-')"], "not a user"),
    ("app token format", {"SLACK_APP_TOKEN": "xoxb-oops"}, ["✗ SLACK_APP_TOKEN: does not start with xapp-"], ""),
    ("slack unreachable", {"SLACK_API_URL": "http://127.0.0.1:1/api/"},
     ["✗ Slack auth.test: SLACK_API_URL unreachable"], "SLACK_API_URL"),
    ("database unreachable", {"DATABASE_URL": "postgresql+psycopg://u:pw@127.0.0.1:1/x?connect_timeout=2"},
     ["✗ database: unreachable", "✗ migrations: unknown"], "DATABASE_URL"),
    ("database not migrated", {"DATABASE_URL": "sqlite:///fresh.db"},
     ["✗ migrations: at no schema, expected"], "flywheel init"),
    ("model endpoint unreachable", {"FLYWHEEL_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test",
                                    "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"},
     ["✗ OPENAI_BASE_URL: unreachable: http://127.0.0.1:1/v1"], "OPENAI_BASE_URL"),
    ("openai without a key", {"FLYWHEEL_LLM_PROVIDER": "openai"}, ["✗ OPENAI_API_KEY"], "offline"),
    ("review channel unset", {"FLYWHEEL_REVIEW_CHANNEL": ""}, ["✗ FLYWHEEL_REVIEW_CHANNEL: unset"], "invite"),
    ("bad redaction pattern", {"FLYWHEEL_REDACT_EXTRA_PATTERNS": "account=ACME-(["},
     ["✗ redaction: Invalid redaction pattern"], "FLYWHEEL_REDACT_EXTRA_PATTERNS"),
    ("unknown agent", {"FLYWHEEL_AGENT": "nosuchagent"}, ["✗ agent 'nosuchagent': Unknown connector"],
     "FLYWHEEL_AGENT"),
    ("unknown publisher", {"FLYWHEEL_PUBLISHER": "nosuchkb"}, ["✗ publisher 'nosuchkb': Unknown connector"],
     "FLYWHEEL_PUBLISHER"),
    ("digest time out of range", {"FLYWHEEL_DIGEST_TIME": "25:00"},
     ["✗ FLYWHEEL_DIGEST_TIME: '25:00' is not a time of day"], "HH:MM"),
    ("digest time unparseable", {"FLYWHEEL_DIGEST_TIME": "9am"}, ["✗ setting FLYWHEEL_DIGEST_TIME"], ".env.example"),
    ("unknown timezone", {"FLYWHEEL_TIMEZONE": "Mars/Olympus"},
     ["✗ FLYWHEEL_TIMEZONE: unknown time zone 'Mars/Olympus'"], "IANA"),
    ("review channel given by name", {"FLYWHEEL_REVIEW_CHANNEL": "support-review"},
     ["✗ bot in FLYWHEEL_REVIEW_CHANNEL: conversations.info refused support-review: channel_not_found"],
     "channel's ID"),
    ("stats channel given by name", {"FLYWHEEL_STATS_CHANNEL": "#stats"},
     ["✗ bot in FLYWHEEL_STATS_CHANNEL: conversations.info refused #stats: channel_not_found"], "not its name"),
]


@pytest.mark.parametrize(("env", "expected", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_misconfiguration_is_named_with_a_fix(good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                   env: dict[str, str], expected: list[str], hint: str) -> None:
    code, output, failed = doctor(monkeypatch, **env)
    assert code == 1, output
    assert len(failed) == len(expected), output  # this misconfiguration, and nothing else
    for line, want in zip(failed, expected, strict=True):
        assert line.startswith(want), output
    assert hint in output
    assert "pw@" not in output and "sk-test" not in output


def test_a_revoked_token_and_missing_scopes(good_env: dict[str, str], slack: MockSlack,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    code, output, failed = doctor(monkeypatch)
    assert code == 1 and failed == ["✗ Slack auth.test: refused: invalid_auth"], output
    monkeypatch.setattr(mock_slack_module, "SCOPES", "chat:write,commands")
    code, output, failed = doctor(monkeypatch)
    assert code == 1 and len(failed) == 1 and failed[0].startswith("✗ Slack scopes: missing channels:history"), output


@pytest.mark.parametrize("setting", ["FLYWHEEL_REVIEW_CHANNEL", "FLYWHEEL_STATS_CHANNEL"])
def test_the_bot_must_be_a_member_of_the_review_and_stats_channels(good_env: dict[str, str], slack: MockSlack,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   setting: str) -> None:
    monkeypatch.setenv("FLYWHEEL_STATS_CHANNEL", "C0STATS")
    slack.add_channel("C0REVIEW", "support-review")
    slack.add_channel("C0STATS", "loop-stats")
    code, output, failed = doctor(monkeypatch)
    assert code == 0 and failed == [], output
    assert "✓ bot in FLYWHEEL_REVIEW_CHANNEL: member of #support-review" in output
    assert "✓ bot in FLYWHEEL_STATS_CHANNEL: member of #loop-stats" in output

    left = {"FLYWHEEL_REVIEW_CHANNEL": ("C0REVIEW", "support-review"), "FLYWHEEL_STATS_CHANNEL": ("C0STATS",
                                                                                               "loop-stats")}
    channel, name = left[setting]
    slack.add_channel(channel, name, is_member=False)  # the bot was never invited (or was removed)
    code, output, failed = doctor(monkeypatch)
    assert code == 1 and failed == [f"✗ bot in {setting}: not a member of #{name} ({channel})"], output
    assert f"fix: type `/invite @Flywheel` in #{name}" in " ".join(output.split())
    assert slack.calls_to("conversations.info")


def test_local_search_embeddings_without_the_extra(good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sentence_transformers"
                        else real(name, *a))
    code, output, failed = doctor(monkeypatch, FLYWHEEL_SEARCH_EMBEDDINGS="local")
    assert code == 1 and len(failed) == 1, output
    assert failed[0].startswith("✗ search embeddings 'local': FLYWHEEL_SEARCH_EMBEDDINGS=local needs"), output
    assert "pip install 'flywheel-bot[embeddings]'" in " ".join(output.split())
