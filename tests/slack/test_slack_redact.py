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
        Redactor(kinds={"passport"})  # ssn became a kind (issue 12)


def test_empty_text() -> None:
    assert redact("") == ""


# --- issue 12: the kinds the redactor missed, each in the shape the issue names -----------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00, danke", "IBAN [iban], danke"),  # mod-97 valid, grouped
        ("pay to GB29NWBK60161331926819 today", "pay to [iban] today"),  # compact
        ("my SSN is 536-22-8417", "my SSN is [ssn]"),
        ("SSN: 536228417", "SSN: [ssn]"),  # bare nine digits only after a cue
        ("my number is 2125550123", "my number is [phone]"),  # a bare 10-digit number after a cue
        ("meine Nummer ist 01712345679", "meine Nummer ist [phone]"),
        ("card 4111.1111.1111.1111 and 4111-1111-1111-1111", "card [card] and [card]"),  # dots, dashes (Luhn)
        ("mail jöhn@exämple.de please", "mail [email] please"),  # non-ASCII email
        ("Tel. 030/901820-0 (Zentrale)", "Tel. [phone] (Zentrale)"),  # German national format
        ("bel me op 06-12345678", "bel me op [phone]"),
        ("Mon portable : 06 98 76 54 32", "Mon portable : [phone]"),
        ("Contact: 1 (800) 555-0111 ext. 42", "Contact: [phone]"),
        ("my password is hunter2", "my password is [secret]"),  # short secrets after "my password is"
        ("mein Passwort ist Sommer2024!", "mein Passwort ist [secret]"),
        ('mi contraseña es "perro azul 7"', 'mi contraseña es "[secret]"'),
        ("I changed my PIN to 7391 yesterday", "I changed my PIN to [secret] yesterday"),
        ("mi DNI es 12345678Z", "mi DNI es [national_id]"),  # ES DNI checksum letter
        ("my NI number is JG 10 32 48 B", "my NI number is [national_id]"),
        ("mijn BSN is 111222333", "mijn BSN is [national_id]"),  # 11-proof, after a cue
    ],
)
def test_redacts_the_kinds_of_issue_12(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE89 3704 0044 0532 0130 01 is rejected",  # mod-97 fails: neither an IBAN nor a card
        "SSN 000-12-3456 and 987-65-4321 are not issued",  # invalid areas
        "my order number is 1234567890, Bestellnummer 0123456789",  # a cue look-alike, a bare trunk-0 run
        "my password is incorrect? My password is not working.",
        "Vorgang 030/12345 vom 15.01.2024, Rechnung RE-2024/0815-12",
        "Montant 912 345 678 € et 1 234,56 €, total $12,345,678.90",
        "ISBN 0-306-40615-2, build 20240115.3, node v18.19.0, firmware 10.0.19045.3803",
        "tracking 1Z999AA10123456784 and 9400 1000 0000 0000 0000 00, ref 1234 5678 9012 3456",
        "mi DNI es 12345678A",  # wrong checksum letter
        "UUID 123e4567-e89b-12d3-a456-426614174000, timestamp 1705312200, MAC 00:1A:2B:3C:4D:5E",
    ],
)
def test_leaves_issue_12_look_alikes_alone(text: str) -> None:
    assert redact(text) == text


def test_overlaps_go_to_the_stronger_kind_and_find_reports_spans() -> None:
    text = "IBAN DE89370400440532013000 / mail a@b.io"
    hits = Redactor().find(text)
    assert [(h.kind, text[h.start:h.end]) for h in hits] == [("iban", "DE89370400440532013000"), ("email", "a@b.io")]
