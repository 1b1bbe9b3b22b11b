"""Settings: documented names, secrets never printed, every variable in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_platform_names_and_prefixed_names(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("OPENAI_MODEL", "gpt-test")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("FLYWHEEL_REVIEW_CHANNEL", "C123")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.slack_bot_token.get_secret_value() == "xoxb-secret-value"
    assert (s.openai_model, s.database_url, s.review_channel) == ("gpt-test", "sqlite:///x.db", "C123")
    assert (s.flag_emoji, s.ok_emoji) == ("books", "white_check_mark")
    assert "xoxb-secret-value" not in repr(s) and "xoxb-secret-value" not in str(s.model_dump())


def test_provider_choice(monkeypatch) -> None:
    assert not Settings(_env_file=None).use_openai  # type: ignore[call-arg]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert Settings(_env_file=None).use_openai  # type: ignore[call-arg]
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    assert not Settings(_env_file=None).use_openai  # type: ignore[call-arg]


def test_bad_values_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_DIGEST_TIME", "9am")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    expected = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        expected.add(alias.choices[0] if alias is not None else f"FLYWHEEL_{name.upper()}")
    assert expected == documented


def test_csat_scales() -> None:
    from bot.services.risk import normalize_csat

    assert normalize_csat(1) == 1  # the lowest mark on 1-5, not a perfect 0-1 score
    assert normalize_csat(0.2) == 1.0 and normalize_csat(4) == 4 and normalize_csat(None) is None
