"""Write bench/data/redaction_set.jsonl: the labelled set `bench/redaction.py` measures the redactor on.

    .venv/bin/python -m bench.make_redaction_set      # deterministic: the committed file is its output

Each line: {"id", "locale", "text", "spans": [{"kind", "value"}, ...]}. `kind` is a PII kind (email,
phone, card, iban, ssn, national_id, secret) that must be fully replaced, or "keep" (with "what": order,
date, amount, version, tracking, ip, year, zip, time, isbn, url, invalid_checksum, cue_lookalike, ...)
for a look-alike that must come out unchanged. Values are hand-written in the formats people type, per
locale (en-US, en-GB, de-DE, fr-FR, es-ES, nl-NL); checksummed ids are computed with python-stdnum so
they are valid, and every "invalid_checksum" negative is checked to be invalid.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.nl import bsn
from stdnum.us import ssn

OUT = Path(__file__).resolve().parent / "data" / "redaction_set.jsonl"
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "nl-NL")


def _iban(country: str, bban: str, grouped: bool) -> str:
    compact = country + iban.calc_check_digits(country + "00" + bban) + bban
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) if grouped else compact


def _card(prefix: str, length: int, rng: random.Random, sep: str, groups: tuple[int, ...]) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    digits = body + luhn.calc_check_digit(body)
    out, i = [], 0
    for g in groups:
        out.append(digits[i:i + g])
        i += g
    return sep.join(out)


def _valid(rng: random.Random, n: int, ok: object) -> str:
    while True:
        candidate = "".join(rng.choice("0123456789") for _ in range(n))
        if ok(candidate):  # type: ignore[operator]
            return candidate


PHONES = {
    "en-US": ["(415) 555-0123", "415-555-0198", "212.555.0147", "(646) 555-0133", "+1 415 555 0124",
              "+1-202-555-0175", "1-800-555-0199", "(312) 555-0110", "+1 (305) 555-0182", "646 555 0190"],
    "en-GB": ["020 7946 0958", "+44 20 7946 0959", "0161 496 0753", "(0161) 496 0123", "0113 496 0000",
              "07911 123456", "+44 (0)20 7946 0321", "+44 7911 123457"],
    "de-DE": ["030/901820-0", "030 901821", "+49 30 901822", "0171 2345678", "089 / 123 456 78",
              "+49 (0)30 901823", "0049 30 901824", "040-1234567", "0151 23456789", "(030) 2345 6789"],
    "fr-FR": ["06 12 34 56 78", "01 23 45 67 89", "+33 6 12 34 56 79", "+33 (0)1 23 45 67 88", "06.12.34.56.77",
              "04 72 10 30 30", "07 81 23 45 67", "+33 1 42 68 53 00"],
    "es-ES": ["+34 612 34 56 70", "612 34 56 71", "912 345 678", "91 234 56 79", "+34 912 345 677",
              "655 123 456", "0034 612 345 672"],
    "nl-NL": ["06-12345678", "020 123 4567", "+31 6 12345679", "010-1234567", "+31 20 123 4568", "030 2345678"],
}
CUED_PHONES = {  # a bare digit run is only a phone after a cue
    "en-US": ["my number is {}", "you can reach me at {}", "my cell number is {}"],
    "en-GB": ["my number is {}", "ring me, my mobile number is {}"],
    "de-DE": ["meine Nummer ist {}", "meine Handynummer lautet {}"],
    "fr-FR": ["mon numéro est le {}", "mon numéro de téléphone est {}"],
    "es-ES": ["mi número es {}", "mi teléfono es {}"],
    "nl-NL": ["mijn nummer is {}", "mijn telefoonnummer is {}"],
}
BARE = {"en-US": ["2125550123", "4155550142", "3105550177"], "en-GB": ["07911123458", "02079460958"],
        "de-DE": ["01712345679", "030901825"], "fr-FR": ["0612345670", "0123456788"],
        "es-ES": ["612345673", "912345676"], "nl-NL": ["0612345670", "0201234569"]}
EMAILS = ["jo.smith+billing@example.co.uk", "maria.garcia@correo.es", "jöhn@exämple.de", "françois.dupont@exemple.fr",
          "j.de.vries@voorbeeld.nl", "a_b-c@sub.mail.example.com", "Kim.Lee@Example.ORG", "ünal.özdemir@beispiel.de",
          "piet@bedrijf.nl", "x@y.io", "help.me.please@gmail.com", "renée.lefèvre@société.fr", "neil.oneil@example.ie",
          "müller@straße.de", "info+order123@shop.example", "sam99@yahoo.co.jp"]
SECRETS = ["xoxb-1234567890-0987654321-AbCdEfGhIjKl", "sk-proj-abcdefghijklmnopqrstuvwxyz0123", "AKIAIOSFODNN7EXAMPLE",
           "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
           "Zk3q9XpL2mN8vR4tY7wB1cD6fG0hJ5kS9aQ2eW4r", "0123456789abcdef0123456789abcdef"]
PASSWORDS = {
    "en-US": ["my password is {}", "password: {}", "my PIN is {}"], "en-GB": ["my password is {}", "pwd={}"],
    "de-DE": ["mein Passwort ist {}", "das Kennwort lautet {}"], "fr-FR": ["mon mot de passe est {}"],
    "es-ES": ["mi contraseña es {}"], "nl-NL": ["mijn wachtwoord is {}"],
}
PASSWORD_VALUES = ["hunter2", "Sommer2024!", "Tr0ub4dor&3", "azerty12", "Perro#77", "Fiets2023", "qwerty", "4821",
                   "correct-horse-battery", "Geheim!99", "letmein", "Zon&Zee5"]
NEG = {  # look-alikes that must survive, per locale: (what, value)
    "en-US": [("order", "#98765432"), ("date", "01/15/2024"), ("amount", "$1,234.56"), ("version", "3.11.2"),
              ("tracking", "1Z999AA10123456784"), ("ip", "192.168.1.10"), ("zip", "94107"), ("time", "10:30 AM"),
              ("amount", "$12,345,678.90"), ("order", "order 1234567890"), ("year", "2024"),
              ("isbn", "978-3-16-148410-0"), ("tracking", "9400 1000 0000 0000 0000 00")],
    "en-GB": [("order", "ORD-2024-00123"), ("date", "15/01/2024"), ("amount", "£1,299.00"), ("zip", "SW1A 1AA"),
              ("version", "v2.4.1"), ("ticket", "ticket 123456"), ("amount", "£ 2 500")],
    "de-DE": [("order", "Bestellnummer 0123456789"), ("date", "15.01.2024"), ("amount", "1.234,56 €"),
              ("amount", "12 345,67 EUR"), ("zip", "10115 Berlin"), ("invoice", "RE-2024/0815-12"),
              ("version", "10.0.19045.3803"), ("time", "14:30 Uhr"), ("ticket", "Vorgang 030/12345")],
    "fr-FR": [("order", "commande n° 45678912"), ("date", "15/01/2024"), ("amount", "1 234,56 €"),
              ("zip", "75008 Paris"), ("amount", "12 345 678,90 €"), ("time", "14h30")],
    "es-ES": [("order", "pedido 912345678-A"), ("date", "15-01-2024"), ("amount", "912 345 678 €"),
              ("amount", "1.234,56 €"), ("zip", "28013 Madrid"), ("version", "versión 5.2")],
    "nl-NL": [("order", "bestelling 20240115"), ("date", "15-01-2024"), ("amount", "€ 1.234,56"),
              ("zip", "1012 AB Amsterdam"), ("version", "versie 8.0.1")],
}
NEG_GLOBAL = [("url", "https://help.example.com/articles/360012345678"), ("order", "order #A-7781-3345"),
              ("uuid", "123e4567-e89b-12d3-a456-426614174000"), ("date", "2024-01-15T10:30:00Z"),
              ("slug", "Windows10-Setup-Guide-For-Enterprise-Customers-2024-Edition"), ("ip", "10.0.0.254"),
              ("cue_lookalike", "my order number is 1234567890"), ("cue_lookalike", "my password is incorrect"),
              ("cue_lookalike", "my password is not working"), ("cue_lookalike", "your PIN is required"),
              ("mention", "@channel"), ("amount", "USD 4,500,000"), ("percent", "99.95%")]
TEMPLATES = {
    "en-US": ["Hi, {pii}. About {neg}, can you help?", "{neg} still not arrived; {pii}", "Please update: {pii} (re {neg})"],
    "en-GB": ["Hello, re {neg}: {pii}, cheers", "{pii}. Also {neg} is wrong.", "Could you sort {neg}? {pii}"],
    "de-DE": ["Hallo, zu {neg}: {pii}. Danke!", "{pii} – wegen {neg}", "Bitte prüfen Sie {neg}, {pii}"],
    "fr-FR": ["Bonjour, pour {neg} : {pii}. Merci", "{pii}, concernant {neg}", "Merci de vérifier {neg} ; {pii}"],
    "es-ES": ["Hola, sobre {neg}: {pii}. Gracias", "{pii}, en cuanto a {neg}", "Revisen {neg} por favor; {pii}"],
    "nl-NL": ["Hallo, over {neg}: {pii}. Bedankt", "{pii}, betreft {neg}", "Kunt u {neg} nakijken? {pii}"],
}
LEADS = {"email": {"en": "write to {}", "de": "schreiben Sie an {}", "fr": "écrivez à {}", "es": "escriba a {}",
                   "nl": "mail naar {}"},
         "phone": {"en": "call me on {}", "de": "rufen Sie mich unter {} an", "fr": "appelez-moi au {}",
                   "es": "llámeme al {}", "nl": "bel me op {}"},
         "card": {"en": "my card is {}", "de": "meine Karte: {}", "fr": "ma carte {}", "es": "mi tarjeta {}",
                  "nl": "mijn kaart {}"},
         "iban": {"en": "my IBAN is {}", "de": "IBAN: {}", "fr": "mon IBAN {}", "es": "mi IBAN es {}",
                  "nl": "mijn IBAN is {}"},
         "ssn": {"en": "my SSN is {}"}, "national_id": {"en": "my id is {}", "de": "{}", "fr": "mon NIR {}",
                                                          "es": "mi DNI es {}", "nl": "{}"},
         "secret": {"en": "my key is {}", "de": "mein Token {}", "fr": "ma clé {}", "es": "mi clave {}",
                    "nl": "mijn sleutel {}"}}


def positives(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(locale, kind, value, phrase containing the value)."""
    out: list[tuple[str, str, str, str]] = []
    lang = lambda loc: loc[:2]  # noqa: E731
    for loc, values in PHONES.items():
        out += [(loc, "phone", v, LEADS["phone"][lang(loc)].format(v)) for v in values]
        out += [(loc, "phone", v, rng.choice(CUED_PHONES[loc]).format(v)) for v in BARE[loc]]
    for i, v in enumerate(EMAILS * 2):
        loc = LOCALES[i % len(LOCALES)]
        out.append((loc, "email", v, LEADS["email"][lang(loc)].format(v)))
    ibans = [("DE", "370400440532013000"), ("GB", "NWBK60161331926819"), ("FR", "20041010050500013M02606"),
             ("ES", "21000418450200051332"), ("NL", "ABNA0417164300"), ("BE", "539007547034"), ("BE", "510007547061"), ("IT", "X0542811101000000123456"),
             ("AT", "1904300234573201"), ("CH", "00762011623852957"), ("DE", "500105175407324931"), ("NL", "RABO0123456789"),
             ("FR", "30006000011234567890189"), ("ES", "00491500051234567892"), ("GB", "BARC20000055779911")]
    for i, (country, bban) in enumerate(ibans * 2):
        loc = LOCALES[i % len(LOCALES)]
        v = _iban(country, bban, grouped=i < len(ibans))
        out.append((loc, "iban", v, LEADS["iban"][lang(loc)].format(v)))
    cards = [("4", 16, " ", (4, 4, 4, 4)), ("4", 16, "-", (4, 4, 4, 4)), ("4", 16, ".", (4, 4, 4, 4)),
             ("51", 16, "", (16,)), ("55", 16, " ", (4, 4, 4, 4)), ("2221", 16, "-", (4, 4, 4, 4)),
             ("37", 15, " ", (4, 6, 5)), ("34", 15, "-", (4, 6, 5)), ("6011", 16, ".", (4, 4, 4, 4)),
             ("35", 16, " ", (4, 4, 4, 4)), ("4", 19, " ", (4, 4, 4, 4, 3)), ("36", 14, " ", (4, 6, 4))]
    for i, (prefix, n, sep, groups) in enumerate(cards * 3):
        loc = LOCALES[i % len(LOCALES)]
        v = _card(prefix, n, rng, sep, groups)
        out.append((loc, "card", v, LEADS["card"][lang(loc)].format(v)))
    for i in range(24):
        v = _valid(rng, 9, ssn.is_valid)
        v = f"{v[:3]}-{v[3:5]}-{v[5:]}" if i % 4 else v
        out.append(("en-US", "ssn", v, ("my SSN is {}" if i % 4 else "SSN: {}").format(v)))
    for i in range(6):
        d = "".join(rng.choice("0123456789") for _ in range(8))
        v = d + dni.calc_check_digit(d)
        out.append(("es-ES", "national_id", v, f"mi DNI es {v}"))
        n = "".join(rng.choice("0123456789") for _ in range(7))
        v = "XYZ"[i % 3] + n + nie.calc_check_digit("XYZ"[i % 3] + n)
        out.append(("es-ES", "national_id", v, f"mi NIE: {v}"))
        b = f"{1 + i % 2}{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}" \
            f"{rng.randint(1, 999):03d}"
        v = f"{b[0]} {b[1:3]} {b[3:5]} {b[5:7]} {b[7:10]} {b[10:13]} {nir.calc_check_digits(b)}"
        out.append(("fr-FR", "national_id", v, f"mon numéro de sécu est {v}"))
        v = f"{'AB CE HJ JK NP TW'.split()[i]} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {'ABCD'[i % 4]}"
        out.append(("en-GB", "national_id", v, f"my NI number is {v}"))
        v = _valid(rng, 9, bsn.is_valid)
        out.append(("nl-NL", "national_id", v, f"mijn BSN is {v}"))
        v = _valid(rng, 11, idnr.is_valid)
        out.append(("de-DE", "national_id", v, f"meine Steuer-ID ist {v}"))
    for i, v in enumerate(SECRETS * 2):
        loc = LOCALES[i % len(LOCALES)]
        out.append((loc, "secret", v, LEADS["secret"][lang(loc)].format(v)))
    for i, v in enumerate(PASSWORD_VALUES * 2):
        loc = LOCALES[i % len(LOCALES)]
        out.append((loc, "secret", v, rng.choice(PASSWORDS[loc]).format(v)))
    return out


def negatives() -> list[tuple[str, str, str]]:
    bad_iban = "DE89 3704 0044 0532 0130 01"
    bad_card = "4111 1111 1111 1112"
    assert not iban.is_valid(bad_iban) and not luhn.is_valid(bad_card.replace(" ", ""))
    assert not dni.is_valid("12345678A")
    assert not ssn.is_valid("000-12-3456") and not ssn.is_valid("987-65-4321") and not ssn.is_valid("666-12-3456")
    extra = [("invalid_checksum", v) for v in (bad_iban, bad_card, "000-12-3456", "987-65-4321", "666-12-3456",
                                                 "tracking 1234567812345678", "12345678A")]
    return [(loc, what, v) for loc, items in NEG.items() for what, v in items] + \
        [(LOCALES[i % len(LOCALES)], what, v) for i, (what, v) in enumerate(NEG_GLOBAL + extra)]

# Written after the detectors were tuned on the set above and never used to tune them: `bench/redaction.py`
# reports it separately, as the honest estimate. Same span format; P = PII (kind, value), K = look-alike.
_NIR_H = "2841275108123"
_NIE_H = "Y1234567"
HOLDOUT: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("en-US", "Hey, it's Dana - text me at 917-555-0164 when the replacement ships. Order 77812093.",
     [("phone", "917-555-0164"), ("order", "Order 77812093")]),
    ("en-US", "Social security no. 536-22-8417, DOB 04/12/1986.", [("ssn", "536-22-8417"), ("date", "04/12/1986")]),
    ("en-US", "Visa ending in 4242 - full number 4242 4242 4242 4242, charged $49.99 on 3/14.",
     [("card", "4242 4242 4242 4242"), ("amount", "$49.99"), ("card_tail", "ending in 4242")]),
    ("en-US", "My email address is TOM.HARRIS@EXAMPLE.NET, and the ticket is #4481.",
     [("email", "TOM.HARRIS@EXAMPLE.NET"), ("ticket", "#4481")]),
    ("en-US", "Firmware 2.14.0-rc3 bricked it, serial SN-8842-1190-7731",
     [("version", "2.14.0-rc3"), ("serial", "SN-8842-1190-7731")]),
    ("en-US", "Contact: 1 (800) 555-0111 ext. 42", [("phone", "1 (800) 555-0111")]),
    ("en-US", "I changed my PIN to 7391 yesterday", [("secret", "7391")]),
    ("en-US", "aws secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", [("secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]),
    ("en-US", "IP 203.0.113.45 tried 12 times between 09:00 and 09:05", [("ip", "203.0.113.45"), ("time", "09:00 and 09:05")]),
    ("en-GB", "You can ring the shop on 0121 496 0321 but I'm usually on 07456 123456.",
     [("phone", "0121 496 0321"), ("phone", "07456 123456")]),
    ("en-GB", "NI number: JG 10 32 48 B", [("national_id", "JG 10 32 48 B")]),
    ("en-GB", "Payment ref INV-2023-11-0042 for £1,050.00", [("invoice", "INV-2023-11-0042"), ("amount", "£1,050.00")]),
    ("de-DE", "Erreichbar unter Tel. +49 151 2345 6789 oder per Mail an lena.krüger@web.de",
     [("phone", "+49 151 2345 6789"), ("email", "lena.krüger@web.de")]),
    ("de-DE", "Meine IBAN lautet DE02 1203 0000 0000 2020 51, Betrag 89,90 €",
     [("iban", "DE02 1203 0000 0000 2020 51"), ("amount", "89,90 €")]),
    ("de-DE", "Kundennummer 4711-0815-2024, Rückruf bitte unter 0711 / 12 34 56",
     [("order", "4711-0815-2024"), ("phone", "0711 / 12 34 56")]),
    ("de-DE", "Mein Passwort: Sonnenblume#12 (bitte sofort ändern)", [("secret", "Sonnenblume#12")]),
    ("de-DE", "Lieferung am 3. März 2024, Sendungsnummer 00340434161094042557",
     [("date", "3. März 2024"), ("tracking", "00340434161094042557")]),
    ("fr-FR", "Mon portable : 06 98 76 54 32, fixe 01 42 68 53 01", [("phone", "06 98 76 54 32"), ("phone", "01 42 68 53 01")]),
    ("fr-FR", "IBAN FR14 2004 1010 0505 0001 3M02 606 merci", [("iban", "FR14 2004 1010 0505 0001 3M02 606")]),
    ("fr-FR", "Facture n° 2024-0457 du 12/03/2024, total 1 499,00 €",
     [("invoice", "2024-0457"), ("date", "12/03/2024"), ("amount", "1 499,00 €")]),
    ("fr-FR", "mon e-mail : élodie.bernard@orange.fr", [("email", "élodie.bernard@orange.fr")]),
    ("fr-FR", "numéro de sécurité sociale NIR_H", [("national_id", "NIR_H")]),
    ("es-ES", "Mi móvil es el 678 12 34 56 y mi DNI 12345678Z", [("phone", "678 12 34 56"), ("national_id", "12345678Z")]),
    ("es-ES", "Pedido ES-99812, importe 2.345,00 €, entrega 15/03/2024",
     [("order", "ES-99812"), ("amount", "2.345,00 €"), ("date", "15/03/2024")]),
    ("es-ES", "Escríbeme a josé.martínez@telefónica.es", [("email", "josé.martínez@telefónica.es")]),
    ("es-ES", "Tarjeta 5425-2334-3010-9903 caducada", [("card", "5425-2334-3010-9903")]),
    ("es-ES", "mi NIE es NIE_H", [("national_id", "NIE_H")]),
    ("nl-NL", "Bel mij even op 06 - 23 45 67 89 a.u.b.", [("phone", "06 - 23 45 67 89")]),
    ("nl-NL", "Mijn IBAN: NL91 ABNA 0417 1643 00, factuur 2024-118", [("iban", "NL91 ABNA 0417 1643 00"), ("invoice", "factuur 2024-118")]),
    ("nl-NL", "Postcode 3511 LK, huisnummer 12, versie 4.2", [("zip", "3511 LK"), ("version", "versie 4.2")]),
    ("nl-NL", "mijn wachtwoord is nu: Tulp2024!", [("secret", "Tulp2024!")]),
    ("nl-NL", "reach me at +31 (0)6 1234 5678", [("phone", "+31 (0)6 1234 5678")]),
    ("en-US", "Build 20240115.3 on node v18.19.0, commit a1b2c3d", [("version", "20240115.3"), ("version", "v18.19.0")]),
    ("en-US", "Call duration 00:14:32, queue position 12", [("time", "00:14:32")]),
    ("de-DE", "Koordinaten 52.5200, 13.4050", [("coordinates", "52.5200, 13.4050")]),
    ("de-DE", "Der Preis ging von 1.099 € auf 999 €", [("amount", "1.099 €"), ("amount", "999 €")]),
    ("en-US", "Reference number 1234 5678 9012 3456 (not a card, Luhn fails)", [("invalid_checksum", "1234 5678 9012 3456")]),
    ("en-US", "Phone field shows N/A and order ID 5551234567", [("order", "order ID 5551234567")]),
    ("de-DE", "Treffen um 10.30 am 12.3. in Halle 7, Stand 2-114", [("time", "10.30"), ("booth", "2-114")]),
    ("en-US", "Tracking: 1Z 999 AA1 01 2345 6784", [("tracking", "1Z 999 AA1 01 2345 6784")]),
    ("en-US", "ISBN 0-306-40615-2", [("isbn", "0-306-40615-2")]),
    ("en-US", "Waits were 10-20 minutes, ext 1234", [("duration", "10-20 minutes")]),
    ("en-US", "User ID 123-45-678 cannot log in", [("user_id", "123-45-678")]),
    ("en-US", "MAC 00:1A:2B:3C:4D:5E", [("mac", "00:1A:2B:3C:4D:5E")]),
    ("en-US", "Timestamp 1705312200 in the logs", [("timestamp", "1705312200")]),
    ("en-US", "Order 2024-000123456 shipped; call me when it arrives", [("order", "2024-000123456")]),
    ("de-DE", "Telefon: 0800 330 1000 (kostenlos)", [("phone", "0800 330 1000")]),
    ("en-US", "card 3782 822463 10005 (Amex)", [("card", "3782 822463 10005")]),
    ("en-US", "pwd is 'blue sky 77'", [("secret", "blue sky 77")]),
]
PII_KINDS = {"email", "phone", "card", "iban", "ssn", "national_id", "secret"}


def holdout() -> list[dict[str, object]]:
    nir_h = f"{_NIR_H[0]} {_NIR_H[1:3]} {_NIR_H[3:5]} {_NIR_H[5:7]} {_NIR_H[7:10]} {_NIR_H[10:]} {nir.calc_check_digits(_NIR_H)}"
    nie_h = f"{_NIE_H[0]}-{_NIE_H[1:]}-{nie.calc_check_digit(_NIE_H)}"
    assert not luhn.is_valid("1234567890123456")
    out: list[dict[str, object]] = []
    for loc, text, spans in HOLDOUT:
        text = text.replace("NIR_H", nir_h).replace("NIE_H", nie_h)
        out.append({"locale": loc, "split": "holdout", "text": text, "spans": [
            {"kind": k, "value": v.replace("NIR_H", nir_h).replace("NIE_H", nie_h)} if k in PII_KINDS
            else {"kind": "keep", "what": k, "value": v} for k, v in spans]})
    return out


def build() -> list[dict[str, object]]:
    rng = random.Random(20240115)
    negs = negatives()
    items: list[dict[str, object]] = []
    for loc, kind, value, phrase in positives(rng):
        same_locale = [n for n in negs if n[0] == loc]
        _, what, neg = rng.choice(same_locale)
        text = rng.choice(TEMPLATES[loc]).format(pii=phrase, neg=neg)
        items.append({"locale": loc, "text": text, "spans": [{"kind": kind, "value": value},
                                                              {"kind": "keep", "what": what, "value": neg}]})
    for i, (loc, what, neg) in enumerate(negs * 2):  # negatives on their own, twice in different sentences
        _, what2, neg2 = negs[(i * 7 + 3) % len(negs)]
        if neg2 in neg or neg in neg2:
            continue
        text = TEMPLATES[loc][i % 3].format(pii=f"see {neg2}", neg=neg)
        items.append({"locale": loc, "text": text, "spans": [{"kind": "keep", "what": what, "value": neg},
                                                             {"kind": "keep", "what": what2, "value": neg2}]})
    for item in items:
        item["split"] = "tuning"
    items += holdout()
    for i, item in enumerate(items):
        item["id"] = i + 1
        assert all(str(s["value"]) in str(item["text"]) for s in item["spans"])  # type: ignore[union-attr]
    return [{"id": it["id"], "split": it["split"], "locale": it["locale"], "text": it["text"], "spans": it["spans"]}
            for it in items]


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    items = build()
    OUT.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    print(f"{len(items)} items written to {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")


if __name__ == "__main__":
    main()
