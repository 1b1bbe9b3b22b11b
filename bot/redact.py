"""Regex PII redaction for text that leaves the database (Slack messages, logs, LLM prompts).

No models, no network: a handful of patterns tuned to *not* eat ordinary support-ticket numbers
(order totals, dates, times, order ids, version numbers).

    >>> redact("mail jo@example.com or call +44 20 7946 0958, total $1,234.56 on 2024-01-15")
    'mail [email] or call [phone], total $1,234.56 on 2024-01-15'

Kinds are applied in a fixed order: secrets, emails, cards, phones, then the extra user patterns.
Secrets go first because tokens contain digit runs that the card/phone patterns would otherwise see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from enum import StrEnum

from bot.errors import ConfigError


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    SECRET = "secret"


LABELS: dict[PiiKind, str] = {kind: f"[{kind.value}]" for kind in PiiKind}
EXTRA_LABEL = "[redacted]"

# --- secrets ---------------------------------------------------------------------------------------
# Each pattern's first group (if any) is kept: "Bearer abc…" -> "Bearer [secret]".
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bxox[abposrce]-[A-Za-z0-9-]{10,}"),  # Slack bot/user/app-config tokens
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"),  # Slack app-level tokens
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),  # OpenAI
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}"),
    # key=value / key: value where the key says it is secret; the key stays readable
    re.compile(
        r"(?i)(\b(?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|token|"
        r"password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{8,}"
    ),
    # long hex api keys (32+ chars, must mix letters and digits so a long number is not a "key")
    re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{32,}\b"),
)
# long base64/base64url keys: 40+ chars mixing upper, lower and digits, and not made of words
# (so "Windows10-Setup-Guide-For-Enterprise-Customers-2024" or a URL path survives)
_BASE64ISH = re.compile(
    r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])"
    r"(?=[A-Za-z0-9+/_-]*[0-9])[A-Za-z0-9+/_-]{40,}={0,2}"
)
_WORDISH_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# --- emails ----------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# --- payment cards ---------------------------------------------------------------------------------
# 13-19 digits, optionally grouped by single spaces or dashes; only redacted when Luhn passes.
_CARD = re.compile(r"(?<![\w.,/-])\d(?:[ -]?\d){12,18}(?![\w.,/-]?\d)")

# --- phone numbers ---------------------------------------------------------------------------------
# Deliberately conservative: we need separators or a leading "+"/"0"/"(", and a plausible digit count.
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w-]?\d)")
_PHONE_NANP = re.compile(r"(?<![\w-])(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]?\d)")
_PHONE_NATIONAL = re.compile(r"(?<![\w.,/-])0\d{1,4}(?:[ -]\d{2,8}){1,4}(?![\w.,/-]?\d)")
_PHONE_CONTEXT = re.compile(
    r"(?i)(\b(?:phone|tel|telephone|mobile|cell|call(?:\s+me)?(?:\s+(?:at|on))?|text\s+me"
    r"|whatsapp|sms)\b[^\d\n]{0,12})(\+?\d{9,15})\b"
)


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum (payment card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _keep_prefix(label: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        prefix = m.group(1) if m.re.groups and m.group(1) else ""
        return prefix + label

    return repl


def _looks_random(token: str) -> bool:
    """Random keys split into many tiny letter/digit runs; slugs and paths into words."""
    runs = _WORDISH_TOKEN.findall(token)
    return bool(runs) and sum(map(len, runs)) / len(runs) < 3.5


def _redact_secrets(text: str) -> str:
    label = LABELS[PiiKind.SECRET]
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_keep_prefix(label), text)
    return _BASE64ISH.sub(lambda m: label if _looks_random(m.group(0)) else m.group(0), text)


def _redact_emails(text: str) -> str:
    return _EMAIL.sub(LABELS[PiiKind.EMAIL], text)


def _redact_cards(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        digits = _digits(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            return LABELS[PiiKind.CARD]
        return m.group(0)

    return _CARD.sub(repl, text)


def _redact_phones(text: str) -> str:
    label = LABELS[PiiKind.PHONE]

    def counted(low: int, high: int) -> Callable[[re.Match[str]], str]:
        def repl(m: re.Match[str]) -> str:
            n = len(_digits(m.group(0)))
            return label if low <= n <= high else m.group(0)

        return repl

    text = _PHONE_CONTEXT.sub(lambda m: m.group(1) + label, text)
    text = _PHONE_INTL.sub(counted(8, 15), text)
    text = _PHONE_NANP.sub(counted(10, 10), text)
    text = _PHONE_NATIONAL.sub(counted(10, 12), text)
    return text


_STEPS: tuple[tuple[PiiKind, Callable[[str], str]], ...] = (
    (PiiKind.SECRET, _redact_secrets),
    (PiiKind.EMAIL, _redact_emails),
    (PiiKind.CARD, _redact_cards),
    (PiiKind.PHONE, _redact_phones),
)


class Redactor:
    """Configurable redaction: which kinds are on, plus extra user regexes (e.g. from settings).

    `Redactor(kinds={"email", "secret"}, extra_patterns=[r"\\bACME-\\d{6}\\b"])`.
    Extra patterns replace the whole match with `extra_label`. Invalid regexes raise `ConfigError`.
    """

    def __init__(
        self,
        *,
        kinds: Iterable[PiiKind | str] = tuple(PiiKind),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        extra_label: str = EXTRA_LABEL,
    ) -> None:
        try:
            self.kinds = frozenset(PiiKind(k) for k in kinds)
        except ValueError as exc:
            raise ConfigError(
                f"Unknown redaction kind; choose from {', '.join(k.value for k in PiiKind)}."
            ) from exc
        compiled: list[re.Pattern[str]] = []
        for pattern in extra_patterns:
            if isinstance(pattern, re.Pattern):
                compiled.append(pattern)
                continue
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(f"Invalid redaction pattern {pattern!r}: {exc}.") from exc
        self.extra_patterns: tuple[re.Pattern[str], ...] = tuple(compiled)
        self.extra_label = extra_label

    def redact(self, text: str) -> str:
        if not text:
            return text
        for kind, step in _STEPS:
            if kind in self.kinds:
                text = step(text)
        for pattern in self.extra_patterns:
            text = pattern.sub(self.extra_label, text)
        return text

    __call__ = redact


DEFAULT_REDACTOR = Redactor()


def redact(text: str) -> str:
    """Redact every kind (emails, phones, Luhn-valid cards, secrets) with the default settings."""
    return DEFAULT_REDACTOR.redact(text)
