"""Redaction settings (FLYWHEEL_REDACT_*): extra patterns, the allowlist and the phone regions, taken from
the Settings object that `build_services` configures the redactor with (no environment reads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bot.redact
from bot.blocks.draft import build_verdict_message
from bot.blocks.models import VerdictView
from bot.cli import app
from bot.errors import ConfigError
from bot.redact import Redactor, configure_redaction, current_redactor, redact
from bot.services import build_services
from bot.settings import Settings
from tests.support.fake_llm import FakeLLM

SUPPORT = "+1 800 555 0199,support@acme.com,@help.acme.com,https://help.acme.com/articles"


@pytest.fixture(autouse=True)
def _restore_default_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests reconfigure the module default; put the previous one back afterwards."""
    monkeypatch.setattr(bot.redact, "_default", bot.redact._default)


def _settings(tmp_path: Path, **redact: str) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'f.db'}", **redact)  # type: ignore[call-arg]


def test_extra_patterns_from_settings_get_their_own_labels(tmp_path: Path) -> None:
    spec = r"account=\bACME-\d{6}\b  order=\bORD-\d{8}\b"  # two spaces: any whitespace separates
    r = Redactor.from_settings(_settings(tmp_path, redact_extra_patterns=spec))
    text = "account ACME-123456, order ORD-20240115, mail jo@example.com, ORD-123 stays"
    assert r(text) == "account [account], order [order], mail [email], ORD-123 stays"


def test_allowlist_keeps_the_company_contact_data_only(tmp_path: Path) -> None:
    r = Redactor.from_settings(_settings(tmp_path, redact_allow=SUPPORT))
    text = ("Call us on 1-800-555-0199 (or +18005550199), mail support@acme.com or docs@help.acme.com, see "
            "https://help.acme.com/articles/360012345678-Refunds?phone=4155550123. "
            "Customer: jo@acme.com.evil.io, 415-555-0123, https://evil.example/articles?to=mallory@evil.io")
    assert r(text) == (
        "Call us on 1-800-555-0199 (or +18005550199), mail support@acme.com or docs@help.acme.com, see "
        "https://help.acme.com/articles/360012345678-Refunds?phone=4155550123. "
        "Customer: [email], [phone], https://evil.example/articles?to=[email]"
    )
    assert r("other@acme.com") == "[email]"  # an allowed address is not its whole domain


def test_regions_decide_which_national_formats_are_phones(tmp_path: Path) -> None:
    text = "ring 020 7946 0958"
    assert Redactor.from_settings(_settings(tmp_path, redact_regions="GB"))(text) == "ring [phone]"
    assert Redactor.from_settings(_settings(tmp_path, redact_regions="US"))(text) == text
    assert Redactor.from_settings(_settings(tmp_path, redact_regions="US"))("+44 20 7946 0958") == "[phone]"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("redact_extra_patterns", r"\bACME-\d{6}\b", "should be name=regex"),
        ("redact_extra_patterns", "account=(unclosed", "Invalid redaction pattern"),
        ("redact_regions", "US,XX", "unknown region"),
        ("redact_allow", "support line", "is not an email, an email domain, a phone number or a URL"),
    ],
)
def test_bad_redaction_settings_fail_at_startup_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"FLYWHEEL_{field.upper()}", value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    result = CliRunner().invoke(app, ["init"])
    assert isinstance(result.exception, ConfigError)
    assert message in result.exception.message


def test_build_services_configures_what_slack_shows(tmp_path: Path) -> None:
    """A verdict's 'After' shows the support line the article added, and still hides the customer's."""
    settings = _settings(tmp_path, redact_allow=SUPPORT, redact_extra_patterns=r"account=\bACME-\d{6}\b")
    build_services(settings, llm=FakeLLM())
    after = "Call our support line +1 800 555 0199 or support@acme.com. (Jo, ACME-123456, 415-555-0123.)"
    message = build_verdict_message(VerdictView(gap_id=7, verdict="pass", before="I don't know.", after=after))
    shown = json.dumps([block.to_dict() for block in message.blocks], ensure_ascii=False)
    assert "+1 800 555 0199" in shown and "support@acme.com" in shown
    assert "ACME-123456" not in shown and "415-555-0123" not in shown
    assert "[account]" in shown and "[phone]" in shown
    assert redact("mail support@acme.com") == "mail support@acme.com"  # the LLM prompts use the same default

    build_services(_settings(tmp_path), llm=FakeLLM())  # default settings: nothing allowed any more
    assert redact("mail support@acme.com") == "mail [email]"


def test_configure_redaction_returns_and_installs_the_settings_redactor(tmp_path: Path) -> None:
    r = configure_redaction(_settings(tmp_path, redact_regions="de, fr"))
    assert current_redactor() is r and r.regions == ("DE", "FR")
