"""Round 3: where the weekly report goes. `flywheel weekly --channel` with something that is not a channel id (a
name, an injected `<!channel>`, a link), `--preview` with no Slack at all, and `/flywheel stats share` through
signed commands: role-checked, an injected period, nothing posted when refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.cli import app
from bot.errors import ConfigError, InvalidInput
from bot.services import Services
from storage.models import JobClaim
from tests.handlers import conftest as scenario
from tests.support.cli import cli_env, run, runner
from tests.support.harness import ANA, BEN, Harness, texts, wait
from tests.support.mock_slack import MockSlack

harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: tuple[str, Any], slack: MockSlack) -> Path:
    """The CLI on the test database, talking to the mock Slack."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.delenv("FLYWHEEL_STATS_CHANNEL", raising=False)
    return cli_env(tmp_path, monkeypatch, db_url_engine)


@pytest.mark.parametrize("channel", ["#general", "general", "<!channel>", "<#C0123ABC|general>", "C0STATS <!here>",
                                     "c0lower", "U0ANN0001", "../C0STATS", ""])
def test_weekly_refuses_what_is_not_a_channel_id_and_calls_no_slack(cli: Path, slack: MockSlack, services: Services,
                                                                     channel: str) -> None:
    with pytest.raises((InvalidInput, ConfigError)) as refused:
        runner.invoke(app, ["weekly", "--channel", channel], catch_exceptions=False)
    assert "channel" in str(refused.value)  # InvalidInput (a channel id, please) or ConfigError (none at all)
    assert not slack.calls  # before: chat.postMessage to "#general", then the chart upload failed on the name
    with services.session() as s:
        assert s.query(JobClaim).count() == 0  # no `stats:<!channel>` claim left behind


def test_a_channel_name_is_refused_with_a_hint(cli: Path, slack: MockSlack) -> None:
    with pytest.raises(InvalidInput, match="is not a channel id"):
        runner.invoke(app, ["weekly", "--channel", "#general"], catch_exceptions=False)


def test_a_channel_id_posts_and_preview_never_calls_slack(cli: Path, slack: MockSlack) -> None:
    preview = run("weekly", "--preview", "--channel", "<!channel>")  # --preview posts nowhere, so no check needed
    assert preview.strip()
    assert not slack.calls
    assert "Posted the weekly report to C0STATS" in run("weekly", "--channel", "C0STATS")
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "C0STATS"
    assert "<!channel>" not in texts(post.params) and "<!here>" not in texts(post.params)


def test_stats_share_with_an_injected_period_posts_nothing(harness: Harness) -> None:
    assert harness.command("stats <!channel> share", user=ANA).status == 200
    refused = texts(wait(lambda: harness.slack.calls_to("chat.postEphemeral") or harness.slack.calls_to("webhook"),
                         what="the refusal")[-1].params)
    assert "takes `week` or `month`" in refused and "<!channel>" not in refused
    assert not harness.slack.calls_to("files.completeUploadExternal") and not harness.slack.calls_to("chat.postMessage")


def test_stats_share_is_refused_to_a_non_admin_and_nothing_is_uploaded(harness: Harness) -> None:
    harness.services.settings.admins = ANA
    assert harness.command("stats share", user=BEN).status == 200
    refused = texts(wait(lambda: harness.slack.calls_to("chat.postEphemeral"), what="the refusal")[-1].params)
    assert "FLYWHEEL_ROLE_SHARE_STATS" in refused
    harness.drain()
    assert not harness.slack.calls_to("files.completeUploadExternal") and not harness.slack.calls_to("upload")
    assert not [c for c in harness.slack.calls_to("webhook") if c.params.get("response_type") == "in_channel"]
