"""Driving the `flywheel` CLI in tests: one environment setup and one runner for every CLI test module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: tuple[str, Any]) -> Path:
    """The CLI on the test database, the offline model, wide output, and `tmp_path` as the working folder."""
    monkeypatch.setenv("DATABASE_URL", db_url_engine[0])
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, code: int = 0) -> str:
    """Run `flywheel ARGS`; the exit code must be `code` (the output is shown when it is not)."""
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output
