"""PII redaction for text that leaves the database (Slack messages, LLM prompts, embeddings).

No models, no network. Detectors (`bot.pii`) find spans in the original text: secrets, emails, IBANs,
payment cards, US SSNs, national ids and phone numbers (checksums and phone plans from `python-stdnum`
and `phonenumbers`), then the team's extra patterns. Ordinary support-ticket numbers survive: order
totals, dates, times, order ids, versions.

    >>> redact("mail jo@example.com or call +44 20 7946 0958, total $1,234.56 on 2024-01-15")
    'mail [email] or call [phone], total $1,234.56 on 2024-01-15'

Overlaps go to the earlier kind (secrets first: tokens contain digit runs a card or phone would see).
The allowlist keeps the company's own public contact data (support phone, support email domain,
help-centre URLs), so an answer that now quotes the support line shows it instead of `[phone]`.

Configuration comes from `Settings` (FLYWHEEL_REDACT_*): `Redactor.from_settings(settings)`. Call
sites with no settings at hand (pure Block Kit builders, `safe_excerpt`) use the module default,
which only `configure_redaction(settings)` changes; `build_services` calls it once at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import phonenumbers

from bot.errors import ConfigError
from bot.pii import DETECTORS, Hit, phone_keys

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["PiiKind", "Redactor", "Allowlist", "configure_redaction", "current_redactor", "luhn_ok", "redact"]


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    SECRET = "secret"
    IBAN = "iban"
    SSN = "ssn"
    NATIONAL_ID = "national_id"


LABELS: dict[PiiKind, str] = {kind: f"[{kind.value}]" for kind in PiiKind}
_LABEL_OF: dict[str, str] = {kind.value: label for kind, label in LABELS.items()}
EXTRA_LABEL = "[redacted]"
DEFAULT_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "NL")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum (payment card numbers do)."""
    from stdnum import luhn

    return digits.isdigit() and luhn.is_valid(digits)


def _bare_url(url: str) -> str:
    return re.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", url).casefold()


@dataclass(frozen=True)
class Allowlist:
    """Public contact data that stays readable: emails, email domains, phone numbers, URL prefixes."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()  # E.164
    urls: tuple[str, ...] = ()  # prefixes without scheme and "www."

    @classmethod
    def parse(cls, entries: Iterable[str], regions: Sequence[str]) -> Allowlist:
        emails: set[str] = set()
        domains: set[str] = set()
        phones: set[str] = set()
        urls: list[str] = []
        for raw in (e.strip() for e in entries):
            if not raw:
                continue
            if "://" in raw or raw.casefold().startswith("www.") or ("/" in raw and not raw[0].isdigit()):
                urls.append(_bare_url(raw))
            elif "@" in raw[1:]:
                emails.add(raw.casefold())
            elif re.fullmatch(r"@?[^\W\d_][\w-]*(?:\.[\w-]+)+", raw):
                domains.add(raw.lstrip("@").casefold())
            elif re.fullmatch(r"[+\d\s().-]{6,}", raw) and (keys := phone_keys(raw, regions)):
                phones.update(keys)
            else:
                raise ConfigError(
                    f"FLYWHEEL_REDACT_ALLOW: {raw!r} is not an email, an email domain, a phone number or a URL."
                )
        return cls(frozenset(emails), frozenset(domains), frozenset(phones), tuple(urls))

    def protected_spans(self, text: str) -> list[tuple[int, int]]:
        if not self.urls:
            return []
        return [(m.start(), m.end()) for m in _URL.finditer(text) if _bare_url(m.group(0)).startswith(self.urls)]

    def allows(self, hit: Hit, value: str, regions: Sequence[str]) -> bool:
        if hit.kind == PiiKind.EMAIL:
            folded = value.casefold()
            domain = folded.rsplit("@", 1)[-1]
            return folded in self.emails or any(domain == d or domain.endswith("." + d) for d in self.domains)
        if hit.kind == PiiKind.PHONE and self.phones:
            return not self.phones.isdisjoint(phone_keys(value, regions))
        return False


class Redactor:
    """Which kinds are on, the phone regions, extra named patterns and the allowlist.

    `Redactor(kinds={"email", "secret"}, extra_patterns=[("account", r"\\bACME-\\d{6}\\b")])` turns
    ACME ids into `[account]`; a bare regex (no name) is replaced with `extra_label`. Invalid regexes,
    kinds or regions raise `ConfigError`.
    """

    def __init__(
        self,
        *,
        kinds: Iterable[PiiKind | str] = tuple(PiiKind),
        extra_patterns: Iterable[str | re.Pattern[str] | tuple[str, str | re.Pattern[str]]] = (),
        extra_label: str = EXTRA_LABEL,
        regions: Sequence[str] = DEFAULT_REGIONS,
        allow: Iterable[str] = (),
    ) -> None:
        try:
            self.kinds = frozenset(PiiKind(k) for k in kinds)
        except ValueError as exc:
            raise ConfigError(
                f"Unknown redaction kind; choose from {', '.join(k.value for k in PiiKind)}."
            ) from exc
        bad = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ConfigError(
                f"FLYWHEEL_REDACT_REGIONS: unknown region(s) {', '.join(bad)}; use ISO codes like US, DE."
            )
        self.regions: tuple[str, ...] = tuple(r.upper() for r in regions)
        self.extra_label = extra_label
        extras: list[tuple[str, re.Pattern[str]]] = []
        for item in extra_patterns:
            label, pattern = (f"[{item[0]}]", item[1]) if isinstance(item, tuple) else (extra_label, item)
            try:
                extras.append((label, pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)))
            except re.error as exc:
                raise ConfigError(f"Invalid redaction pattern {pattern!r}: {exc}.") from exc
        self.extra_patterns: tuple[tuple[str, re.Pattern[str]], ...] = tuple(extras)
        self.allowlist = Allowlist.parse(allow, self.regions)

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        return cls(
            extra_patterns=parse_extra_patterns(settings.redact_extra_patterns),
            regions=[r.strip() for r in settings.redact_regions.split(",") if r.strip()],
            allow=settings.redact_allow.split(","),
        )

    def find(self, text: str) -> list[Hit]:
        """Non-overlapping hits in text order (an extra pattern's hit carries its label as kind)."""
        if not text:
            return []
        candidates: list[tuple[int, Hit]] = []
        for rank, (kind, detect) in enumerate(DETECTORS.items()):
            if PiiKind(kind) in self.kinds:
                candidates.extend((rank, hit) for hit in detect(text, self.regions))
        for label, pattern in self.extra_patterns:
            candidates.extend((len(DETECTORS), Hit(m.start(), m.end(), label))
                              for m in pattern.finditer(text) if m.end() > m.start())
        candidates.sort(key=lambda c: (c[0], c[1].start - c[1].end, c[1].start))
        taken: list[tuple[int, int]] = self.allowlist.protected_spans(text)
        hits: list[Hit] = []
        for _, hit in candidates:  # in priority order; within a kind the longer span first
            if any(hit.start < e and s < hit.end for s, e in taken):
                continue
            taken.append((hit.start, hit.end))
            if not self.allowlist.allows(hit, text[hit.start:hit.end], self.regions):
                hits.append(hit)
        return sorted(hits, key=lambda h: h.start)

    def redact(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        for hit in self.find(text):
            label = _LABEL_OF.get(hit.kind, hit.kind)  # an extra pattern's hit already carries "[name]"
            out += [text[pos:hit.start], label]
            pos = hit.end
        return "".join(out) + text[pos:] if out else text

    __call__ = redact


def parse_extra_patterns(spec: str) -> list[tuple[str, str]]:
    """`name=regex` entries separated by whitespace (write a space inside a regex as `\\s` or `\\x20`)."""
    entries: list[tuple[str, str]] = []
    for entry in spec.split():
        name, sep, regex = entry.partition("=")
        if not sep or not _NAME.match(name) or not regex:
            raise ConfigError(
                f"FLYWHEEL_REDACT_EXTRA_PATTERNS: {entry!r} should be name=regex with a lower-case name, "
                r"e.g. account=\bACME-\d{6}\b"
            )
        entries.append((name, regex))
    return entries


_default = Redactor()


def configure_redaction(settings: Settings) -> Redactor:
    """Make the settings' redactor the module default (what `redact()` and Slack excerpts use)."""
    global _default
    _default = Redactor.from_settings(settings)
    return _default


def current_redactor() -> Redactor:
    return _default


def redact(text: str) -> str:
    """Redact every kind with the configured default (see `configure_redaction`)."""
    return _default.redact(text)
