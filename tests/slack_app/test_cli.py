"""`flywheel digest`, `serve` and `run` through typer's CliRunner, configured by the environment."""

from __future__ import annotations

import threading

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.services import Services
from tests.slack_app.conftest import BOT_TOKEN, DIGEST_SIZE, REVIEW

runner = CliRunner()


@pytest.fixture
def env(db_url_engine, loaded: Services, slack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The CLI builds its own Settings from the environment, on the same database as `loaded`."""
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)
    monkeypatch.setenv("DATABASE_URL", db_url_engine[0])
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("FLYWHEEL_REVIEW_CHANNEL", REVIEW)
    monkeypatch.setenv("FLYWHEEL_DIGEST_SIZE", str(DIGEST_SIZE))
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")


def test_digest_posts_header_and_items(env, slack) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["digest", "--day", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert f"{DIGEST_SIZE} conversations" in result.output
    calls = slack.calls_to("chat.postMessage")
    assert len(calls) == DIGEST_SIZE + 1 and all(c.ok and c.params["channel"] == REVIEW for c in calls)
    assert calls[0].params["text"] == f"Flywheel digest for 2026-11-20: {DIGEST_SIZE} conversations to review"

    again = runner.invoke(app, ["digest", "--day", "2026-11-20"])
    assert again.exit_code == 0 and "already posted" in again.output
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1


def test_digest_to_another_channel(env, slack) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["digest", "--channel", "C0OTHER"])
    assert result.exit_code == 0, result.output
    assert {c.params["channel"] for c in slack.calls_to("chat.postMessage")} == {"C0OTHER"}


def test_digest_slack_refusal_is_a_clear_error(env, slack) -> None:  # type: ignore[no-untyped-def]
    slack.add_channel(REVIEW, is_member=False)
    result = runner.invoke(app, ["digest"])
    assert result.exit_code == 1
    assert "not a member of that channel" in result.output and "/invite" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("unset", "args", "needle"), [
    ("FLYWHEEL_REVIEW_CHANNEL", ["digest"], "FLYWHEEL_REVIEW_CHANNEL"),
    ("SLACK_BOT_TOKEN", ["digest"], "SLACK_BOT_TOKEN"),
    (None, ["digest", "--day", "20/11/2026"], "--day"),
    (None, ["serve", "--port", "0"], "SLACK_SIGNING_SECRET"),
    (None, ["run"], "SLACK_APP_TOKEN"),
])
def test_missing_configuration_is_a_clear_error(env, slack, monkeypatch, unset, args, needle) -> None:  # type: ignore[no-untyped-def]
    if unset:
        monkeypatch.delenv(unset)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and needle in result.output
    assert slack.calls_to("chat.postMessage") == []


class _StopAtOnce:
    """Stands in for the blocking part (HTTP server / Socket Mode) and plays Ctrl-C."""

    server_port = 3999

    def __init__(self, *args: object) -> None:
        self.args = args
        started.append(self)

    def serve_forever(self) -> None:
        raise KeyboardInterrupt

    start = serve_forever

    def server_close(self) -> None:
        started.append("closed")


started: list[object] = []


@pytest.mark.parametrize("mode", ["serve", "run"])
def test_serve_and_run_start_the_scheduler_and_catch_up(env, slack, monkeypatch, mode) -> None:  # type: ignore[no-untyped-def]
    started.clear()
    monkeypatch.setenv("FLYWHEEL_DIGEST_TIME", "00:00")  # today's digest is always due: the catch-up posts it
    monkeypatch.setenv("FLYWHEEL_DIGEST_DAYS", "*")  # whatever day of the week the test runs on
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    monkeypatch.setattr("bot.server.make_server", _StopAtOnce)
    monkeypatch.setattr("slack_bolt.adapter.socket_mode.SocketModeHandler", _StopAtOnce)
    shutdowns: list[bool] = []
    monkeypatch.setattr("apscheduler.schedulers.background.BackgroundScheduler.shutdown",
                        lambda self, wait=True: shutdowns.append(wait))

    result = runner.invoke(app, [mode] + (["--port", "0"] if mode == "serve" else []))
    assert result.exit_code == 0, result.output
    assert "Stopping." in result.output and shutdowns == [False]
    blocking = started[0]
    assert type(blocking.args[0]).__name__ == "App"
    assert blocking.args[1:] == (("xapp-1-test",) if mode == "run" else (blocking.args[1], "0.0.0.0", 0))
    for thread in threading.enumerate():
        if thread.name == "flywheel-catch-up":
            thread.join(10)
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1  # posted by the catch-up thread
