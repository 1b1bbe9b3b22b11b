"""PII detectors: each finds `Hit` spans in the original text; `bot.redact.Redactor` merges and replaces them.

Checksums and phone plans come from maintained libraries rather than hand-written tables:
`python-stdnum` (IBAN mod-97, Luhn, US SSN, ES DNI/NIE, FR NIR, NL BSN, DE IdNr) and `phonenumbers`
(Google's libphonenumber metadata, region by region). The regexes here only find *candidates* in a shape
a person would type; a candidate becomes a hit when its checksum or numbering plan says so, and digit runs
that could as well be an order number need a cue ("my number is", "BSN", "SSN"...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban, isbn, luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.nl import bsn
from stdnum.us import ssn


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    kind: str


Detector = Callable[[str, Sequence[str]], Iterator[Hit]]

# --- secrets ---------------------------------------------------------------------------------------
# A pattern's first group (if any) stays readable: "Bearer abc…" -> "Bearer [secret]".
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bxox[abposrce]-[A-Za-z0-9-]{10,}"),  # Slack bot/user/app-config tokens
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"),  # Slack app-level tokens
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),  # OpenAI
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(  # key=value / key: value where the key says it is secret
        r"(?i)(\b(?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|token|"
        r"password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{8,}"
    ),
    # long hex keys (32+ chars mixing letters and digits, so a long number is not a "key")
    re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{32,}\b"),
)
# long base64/base64url keys: 40+ chars mixing upper, lower and digits, and not made of words
_BASE64ISH = re.compile(
    r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])"
    r"(?=[A-Za-z0-9+/_-]*[0-9])[A-Za-z0-9+/_-]{40,}={0,2}"
)
_WORDISH_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# "my password is X", "PIN: 1234", "mein Passwort ist X", "mot de passe : X", "contraseña es X"...
_PASSPHRASE = re.compile(
    r"(?i)(\b(?:password|passwort|kennwort|passcode|passphrase|pin(?:\s+code)?|mot\s+de\s+passe|mdp|"
    r"contraseña|clave|wachtwoord|pwd|passwd)\s*(?:(?:is|ist|lautet|est|es|era|was|war)\b\s*|[:=]\s*)+"
    r"(?:(?:now|jetzt|maintenant|ahora|nu)\s*[:=]?\s+)?"
    r"|\b(?:changed|set|reset|updated)\s+(?:my\s+|the\s+)?(?:password|passcode|pin)\s+to\s+)"
    r"(\"[^\"\n]{1,64}\"|'[^'\n]{1,64}'|“[^”\n]{1,64}”|„[^“\n]{1,64}“|«[^»\n]{1,64}»|[^\s\"'“„«]+)"
)
_NOT_A_PASSWORD = frozenset(
    "the a an my your his her our not still now being no too very wrong incorrect correct right invalid "
    "expired reset locked changed set required same different new old empty blank weak strong long short "
    "case fine ok okay definitely probably also just and or but that this it which when "
    "nicht falsch ungültig abgelaufen gesperrt der die das ein eine mein zu "
    "pas incorrect incorrecte expiré bloqué le la un une mon trop "
    "no incorrecta incorrecto caducada bloqueada el una mi muy "
    "niet onjuist verkeerd verlopen geblokkeerd de het een mijn te".split()
)


def _looks_random(token: str) -> bool:
    """Random keys split into many tiny letter/digit runs; slugs and paths into words."""
    runs = _WORDISH_TOKEN.findall(token)
    return bool(runs) and sum(map(len, runs)) / len(runs) < 3.5


def find_secrets(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for pattern in _SECRET_PATTERNS:
        for m in pattern.finditer(text):
            start = m.end(1) if pattern.groups else m.start()
            yield Hit(start, m.end(), "secret")
    for m in _BASE64ISH.finditer(text):
        if _looks_random(m.group(0)):
            yield Hit(m.start(), m.end(), "secret")
    for m in _PASSPHRASE.finditer(text):
        value, start, end = m.group(2), m.start(2), m.end(2)
        if value[0] not in "\"'“„«":
            stripped = value.rstrip(".,;:)")
            if not stripped or stripped.rstrip("!?").casefold() in _NOT_A_PASSWORD:
                continue
            end = start + len(stripped)
        else:
            start, end = start + 1, end - 1  # the quotes stay
        yield Hit(start, end, "secret")


# --- emails (Unicode local parts and domains: jöhn@exämple.de) -------------------------------------
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.%+-]+@\w(?:[\w-]*\w)?(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")


def find_emails(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for m in _EMAIL.finditer(text):
        yield Hit(m.start(), m.end(), "email")


# --- IBAN: printed in groups of four or compact; the longest prefix that passes mod-97 -------------
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?(?![\w-]?[A-Z0-9])")
_IBAN_GROUP_END = re.compile(r"[ -]?[A-Z0-9]{1,4}$")


def find_ibans(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for m in _IBAN.finditer(text):
        candidate = m.group(0)
        while len(re.sub(r"[ -]", "", candidate)) >= 15:
            if iban.is_valid(candidate, check_country=False):  # mod-97 and the country's length/shape
                yield Hit(m.start(), m.start() + len(candidate), "iban")
                break
            candidate = _IBAN_GROUP_END.sub("", candidate)


# --- payment cards: contiguous, or grouped 4-4-4-4(-3) / 4-6-5 / 4-6-4 by one kind of separator ----
_CARD = re.compile(
    r"(?<![\w.,/-])(?:\d{13,19}|\d{4}([ .-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ .-])\d{6}\2\d{4,5})"
    r"(?!\w|[.,/-]?\d|\1\d|\2\d)"
)
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[0-9]|6[0-9]|1800|2131)")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}[ -]?$")  # "DE89 3704 …" with a bad mod-97 is no card


def find_cards(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if _IBAN_HEAD.search(text, max(0, m.start() - 5), m.start()):
            continue
        if _CARD_PREFIX.match(digits) and len(set(digits)) > 1 and luhn.is_valid(digits):
            yield Hit(m.start(), m.end(), "card")


# --- US social security numbers: 123-45-6789, or nine digits after "SSN" ----------------------------
_SSN = re.compile(r"(?<![\w.,/-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|[.,/-]?\d)")
_IS = r"\W{0,6}(?:(?:is|ist|lautet|es|est|number|nummer|no\.?)\W{1,4})?"  # "SSN: ", "BSN is ", "IdNr. lautet "
_SSN_CUE = re.compile(r"(?i)(\b(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?)" + _IS + r")(\d{9})\b")


def find_ssns(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for m in _SSN.finditer(text):
        if ssn.is_valid(m.group(0)):
            yield Hit(m.start(), m.end(), "ssn")
    for m in _SSN_CUE.finditer(text):
        if ssn.is_valid(m.group(2)):
            yield Hit(m.start(2), m.end(2), "ssn")


# --- national ids: distinctive shapes (ES DNI/NIE, FR NIR, UK NINO) or a cue (NL BSN, DE IdNr) -----
_DNI = re.compile(r"(?<![\w-])(?:\d{8}|[XYZ][ -]?\d{7})[ -]?[A-Z](?![\w-])")
_NIR = re.compile(r"(?<![\w-])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])")
_NINO = re.compile(
    r"(?<![\w-])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])"
)
_ID_CUES: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"(?i)(\b(?:bsn|burgerservicenummer)" + _IS + r")(\d{9})\b"), bsn.is_valid),
    (re.compile(r"(?i)(\b(?:steuer-?id|steueridentifikationsnummer|idnr|tax\s+id)" + _IS + r")(\d{11})\b"),
     idnr.is_valid),
)


def find_national_ids(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    for m in _DNI.finditer(text):
        if dni.is_valid(m.group(0)) or nie.is_valid(m.group(0)):
            yield Hit(m.start(), m.end(), "national_id")
    for m in _NIR.finditer(text):
        if nir.is_valid(m.group(0)):
            yield Hit(m.start(), m.end(), "national_id")
    for m in _NINO.finditer(text):
        yield Hit(m.start(), m.end(), "national_id")
    for cue, valid in _ID_CUES:
        for m in cue.finditer(text):
            if valid(m.group(2)):
                yield Hit(m.start(2), m.end(2), "national_id")


# --- phone numbers ---------------------------------------------------------------------------------
# libphonenumber finds numbers valid in one of the configured regions. A bare digit run could as well
# be an order number, so it needs a cue; "+"/"00", a "(" or a national trunk "0" with separators, or
# the NANP 3-3-4 grouping are enough on their own. A number glued to a currency is an amount.
_PHONE_CUE = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call(?:\s+me)?(?:\s+(?:at|on))?|text\s+me|whatsapp|sms|fax|"
    r"my\s+(?:phone\s+|mobile\s+|cell\s+)?number(?:\s+is)?|reach\s+me\s+(?:at|on)|"
    r"(?:rufen\s+sie\s+mich|ruf\s+mich)(?:\s+unter)?|(?:appelez|rappelez)-moi(?:\s+au)?|"
    r"ll[áa]m[ae]me(?:\s+al)?|bel\s+me(?:\s+op)?|"
    r"telefon|handy|mobil|meine\s+(?:telefon|handy|mobil)?nummer(?:\s+(?:ist|lautet))?|ruf\w*\s+mich\s+an|"
    r"téléphone|portable|mon\s+numéro(?:\s+de\s+téléphone)?(?:\s+est)?|"
    r"teléfono|móvil|mi\s+(?:número|teléfono|móvil)(?:\s+es)?|"
    r"mijn\s+(?:telefoon|mobiele\s+)?nummer(?:\s+is)?|telefoon)\b[^\d\n]{0,12}$"
)
_CUED_DIGITS = re.compile(r"(?<![\w+])\+?\d{9,15}\b")
_INTL_FALLBACK = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w-]?\d)")
_NANP = re.compile(r"^(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}$")
_EXTENSION = re.compile(r"(?i)[\s,]*(?:ext\.?|extension|x|#|durchwahl|poste)\s*\d{1,6}$")
_NANP_LEAD = re.compile(r"(?<![\w+])\+?1[ .-]?$")  # "1 (800) 555-0111": the country code belongs to it
_NOT_A_PHONE_CUE = re.compile(r"(?i)\b(?:isbn(?:-1[03])?|issn)\W{0,3}$")
_AMOUNT_AFTER = re.compile(r"^\s?(?:[,.]\d|€|\$|£|eur\b|euros?\b|usd\b|gbp\b|chf\b|kr\b)", re.IGNORECASE)
_AMOUNT_BEFORE = re.compile(r"(?:€|\$|£|\b(?:eur|usd|gbp|chf|total|amount|betrag|montant|importe))\s?$",
                            re.IGNORECASE)


def _cued(text: str, start: int) -> bool:
    return _PHONE_CUE.search(text, max(0, start - 48), start) is not None


def _amount(text: str, start: int, end: int) -> bool:
    return bool(_AMOUNT_AFTER.match(text[end:end + 8]) or _AMOUNT_BEFORE.search(text[max(0, start - 10):start]))


def _phone_shape_ok(raw: str) -> bool:
    raw = _EXTENSION.sub("", raw)
    if raw.startswith(("+", "(")) or _NANP.match(raw):
        return True
    separated = re.search(r"[\s./()-]", raw) is not None
    return separated and raw.startswith("0")


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    raw_string: str
    number: phonenumbers.PhoneNumber


# where a phone number could be: digits with the separators people type, an extension, a "+" or "("
_PHONE_WINDOW = re.compile(
    r"(?<!\w)[+(]?\d[\d \t().\/-]{5,30}\d(?:[\s,]*(?:ext\.?|extension|x|#|durchwahl|poste)\s*\d{1,6})?"
)


def _long_enough(number: phonenumbers.PhoneNumber) -> bool:
    """Uncued, a number needs 8+ national digits: "Vorgang 030/12345" is a ticket more often than a line."""
    return len(phonenumbers.national_significant_number(number)) >= 8


def find_phones(text: str, regions: Sequence[str] = ()) -> Iterator[Hit]:
    if sum(ch.isdigit() for ch in text) < 7:
        return
    seen: set[tuple[int, int]] = set()
    for start, end in _windows(text):  # libphonenumber sees digit runs and a little context
        yield from _match_window(text, start, text[start:end], regions, seen)
    for m in _CUED_DIGITS.finditer(text):  # "my number is 5551234567": any plausible run after a cue
        if _cued(text, m.start()):
            yield Hit(m.start(), m.end(), "phone")
    for m in _INTL_FALLBACK.finditer(text):  # "+" numbers outside libphonenumber's plan (test numbers)
        if 8 <= sum(ch.isdigit() for ch in m.group(0)) <= 15:
            yield Hit(m.start(), m.end(), "phone")


def _windows(text: str, pad: int = 12) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for m in _PHONE_WINDOW.finditer(text):
        start, end = max(0, m.start() - pad), min(len(text), m.end() + pad)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _match_window(
    text: str, offset: int, window: str, regions: Sequence[str], seen: set[tuple[int, int]]
) -> Iterator[Hit]:
    for region in regions:
        for found in PhoneNumberMatcher(window, region, leniency=Leniency.VALID):
            m = _Found(offset + found.start, offset + found.end, found.raw_string, found.number)
            span = (m.start, m.end)
            isbn_cue = _NOT_A_PHONE_CUE.search(text, max(0, m.start - 12), m.start)
            if span in seen or isbn_cue or _amount(text, m.start, m.end):
                continue
            if isbn.is_valid(m.raw_string) and m.raw_string.count("-") == 3:
                continue
            if _cued(text, m.start) or (_phone_shape_ok(m.raw_string) and _long_enough(m.number)):
                seen.add(span)
                lead = _NANP_LEAD.search(text, max(0, m.start - 3), m.start)
                start = lead.start() if lead and m.number.country_code == 1 else m.start
                yield Hit(start, m.end, "phone")


def phone_keys(raw: str, regions: Sequence[str]) -> frozenset[str]:
    """E.164 forms of a phone number as read in each region (to compare against an allowlist)."""
    keys: set[str] = set()
    for region in regions or ("US",):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        keys.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return frozenset(keys)


DETECTORS: dict[str, Detector] = {  # in priority order: an earlier kind wins an overlap
    "secret": find_secrets,
    "email": find_emails,
    "iban": find_ibans,
    "card": find_cards,
    "ssn": find_ssns,
    "national_id": find_national_ids,
    "phone": find_phones,
}
