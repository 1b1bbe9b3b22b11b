"""Docs that cannot drift: the Slack message examples are regenerated from the builders and compared."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_slack_message_examples_are_current() -> None:
    script = ROOT / "scripts" / "render_slack_examples.py"
    spec = importlib.util.spec_from_file_location("render_slack_examples", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    expected = module.render()
    assert (ROOT / "docs" / "SLACK_MESSAGES.md").read_text(encoding="utf-8") == expected, (
        "run: python scripts/render_slack_examples.py"
    )
    assert "ticket-8812" in expected and '"type": "actions"' in expected


def test_readme_commands_exist() -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[3].startswith("make demo") and readme.splitlines()[4].startswith("make test")
    for command in ("import", "sample", "gaps", "outline", "draft", "publish", "replay", "regress", "stats", "kb",
                    "demo", "digest", "serve", "run"):
        assert f"flywheel {command}" in readme, command
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_readme_lists_every_connector_setting() -> None:
    from bot.integrations.settings import IntegrationSettings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f"FLYWHEEL_{n.upper()}" for n in IntegrationSettings.model_fields
               if f"FLYWHEEL_{n.upper()}`" not in readme]
    assert missing == []
