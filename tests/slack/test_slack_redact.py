from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.redact import PiiKind, Redactor, luhn_ok, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jo.smith+billing@example.co.uk today", "write to [email] today"),
        ("call +44 20 7946 0958 please", "call [phone] please"),
        ("US (415) 555-0123 or 415.555.0123", "US [phone] or [phone]"),
        ("+1 415 555 0123", "[phone]"),
        ("mobile: 0612345678", "mobile: [phone]"),
        ("FR 06 12 34 56 78", "FR [phone]"),
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("card 5500-0000-0000-0004", "card [card]"),
        ("amex 378282246310005", "amex [card]"),
        ("SLACK_BOT_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKl", "SLACK_BOT_TOKEN=[secret]"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123", "key [secret]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [secret]"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4", "Authorization: Bearer [secret]"),
        ("api_key: 9f8e7d6c5b4a3921", "api_key: [secret]"),
        ("hex 0123456789abcdef0123456789abcdef", "hex [secret]"),
        ("token Zk3q9XpL2mN8vR4tY7wB1cD6fG0hJ5kS9aQ2eW4r", "token [secret]"),
    ],
)
def test_redacts_true_positives(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Your order total is $1,234.56 (EUR 1.234,56), placed on 2024-01-15 at 10:30.",
        "Invoice dated 15.01.2024 and 01/15/2024, ref 2024-01-15T10:30:00Z",
        "Order #98765432, qty 3, zip 94107, version 3.11.2, IP 192.168.1.10",
        "Amount 12 345 678,90 and 1 234 567",
        "tracking 1234567812345678",  # 16 digits that fail Luhn: not a card
        "https://example.com/docs/Getting-Started/Install-Guide-v2/Windows10-Setup-Guide-For-Enterprise",
        "Windows10-Setup-Guide-For-Enterprise-Customers-2024-Edition",
        "a 35-digit id 12345678901234567890123456789012345",
        "ping @channel and <!here> are not PII",
    ],
)
def test_leaves_ordinary_numbers_and_text_alone(text: str) -> None:
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_redactor_kinds_can_be_switched_off() -> None:
    text = "jo@example.com +44 20 7946 0958"
    only_email = Redactor(kinds={PiiKind.EMAIL})
    assert only_email(text) == "[email] +44 20 7946 0958"
    assert Redactor(kinds=()).redact(text) == text


def test_redactor_extra_patterns() -> None:
    r = Redactor(extra_patterns=[r"\bACME-\d{6}\b"], extra_label="[account]")
    assert r("account ACME-123456, mail a@b.io") == "account [account], mail [email]"


def test_redactor_rejects_bad_config() -> None:
    with pytest.raises(ConfigError, match="Invalid redaction pattern"):
        Redactor(extra_patterns=["(unclosed"])
    with pytest.raises(ConfigError, match="Unknown redaction kind"):
        Redactor(kinds={"ssn"})


def test_empty_text() -> None:
    assert redact("") == ""
