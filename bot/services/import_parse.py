"""Validation and cleaning of one conversation record (the JSONL shape) before it is stored.

A value the databases cannot store is cleaned, never a reason to drop the conversation: NUL characters are
removed, invalid Unicode (lone surrogates, bytes that were not UTF-8) becomes U+FFFD, and numbers that JSON
columns cannot hold (NaN, Infinity, 1e400) become empty. What was cleaned is counted per record (`Cleaned`)
so the import report can say so. A record that is wrong in shape raises `BadRecord` with a user-facing,
actionable reason that never contains conversation text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bot.domain import Role
from bot.services.risk import MessageView, sample_key, score_risk

ROLE_ALIASES: dict[str, Role] = {
    **dict.fromkeys(("user", "customer", "client", "end_user"), Role.USER),
    **dict.fromkeys(("agent", "assistant", "bot", "ai", "ai_agent"), Role.AGENT),
    **dict.fromkeys(("human", "human_agent", "operator", "support", "staff"), Role.HUMAN),
    "system": Role.SYSTEM,
}
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}
_NUL = "\x00"
_BAD_UNICODE = re.compile("[\ud800-\udfff]")  # lone surrogates, and undecodable bytes (errors="surrogateescape")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_ROLE_LIKE = re.compile(r"[A-Za-z_ -]{1,20}")  # only such a value is echoed back in a reason


class BadRecord(Exception):
    def __init__(self, reason: str, *, message: int | None = None, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.message, self.field = reason, message, field


@dataclass
class Cleaned:
    """What cleaning changed in one record (counts of values, not characters)."""

    nul: int = 0  # strings that had NUL characters removed
    unicode: int = 0  # strings whose invalid Unicode (or non-UTF-8 bytes) became U+FFFD
    numbers: int = 0  # NaN / Infinity / out-of-range numbers emptied

    def __bool__(self) -> bool:
        return bool(self.nul or self.unicode or self.numbers)

    def describe(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.nul, "value(s) with NUL characters removed"),
                                               (self.unicode, "value(s) with invalid Unicode replaced by U+FFFD"),
                                               (self.numbers, "NaN/Infinity number(s) emptied")) if n]
        return "; ".join(parts) + "; the conversation was kept"

    def text(self, value: str) -> str:
        if _NUL in value:
            value = value.replace(_NUL, "")
            self.nul += 1
        if _BAD_UNICODE.search(value):
            value = _BAD_UNICODE.sub("\ufffd", value)
            self.unicode += 1
        return value

    def value(self, value: Any) -> Any:
        """A JSON value (metadata) made storable in a JSON column, recursively."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, float) and not math.isfinite(value):
            self.numbers += 1
            return None
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def has_undecodable(text: str) -> bool:
    """True if `text` (decoded with errors="surrogateescape") carried bytes that are not UTF-8."""
    return bool(_NOT_UTF8.search(text))


def _string(value: object, what: str, clean: Cleaned, *, max_len: int | None = None) -> str:
    if isinstance(value, str):
        value = clean.text(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRecord(f'"{what}" is required and must be a non-empty string', field=what)
    if max_len is not None and len(value) > max_len:
        raise BadRecord(f'"{what}" is longer than {max_len} characters', field=what)
    return value


def _timestamp(value: object, what: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if isinstance(value, str):
            try:
                return dt.datetime.fromtimestamp(float(value), dt.UTC)
            except ValueError:
                parsed = dt.datetime.fromisoformat(value.strip())
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise BadRecord(f'"{what}" must be an ISO 8601 date-time or epoch seconds', field=what)


def _boolean(value: object, what: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    token = str(value).strip().lower() if isinstance(value, str | int) else None
    if token in _TRUE or token in _FALSE:
        return token in _TRUE
    raise BadRecord(f'"{what}" must be true/false, yes/no or 1/0', field=what)


def _number(value: object, what: str, clean: Cleaned) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        number = None
    if number is None:
        raise BadRecord(f'"{what}" must be a number', field=what)
    if not math.isfinite(number):
        clean.numbers += 1
        return None
    return number


def _role(value: object) -> Role:
    token = value.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(value, str) else ""
    if token in ROLE_ALIASES:
        return ROLE_ALIASES[token]
    shown = f" {value!r}" if isinstance(value, str) and _ROLE_LIKE.fullmatch(value) else ""
    raise BadRecord(f"unknown role{shown}; use user, agent, human or system (or an alias such as customer, "
                    "assistant, operator)")


def parse_record(record: object, default_source: str, now: dt.datetime,
                 clean: Cleaned) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A conversation dict in the JSONL shape -> (conversation row, message rows); raises BadRecord."""
    if not isinstance(record, dict):
        raise BadRecord('each line must be a JSON object with "id" and "messages"')
    ext = record.get("id")
    if not isinstance(ext, str | int) or isinstance(ext, bool):
        raise BadRecord('"id" is required and must be a string or an integer', field="id")
    external_id = _string(str(ext), "id", clean, max_len=255)
    source = _string(record.get("source") or default_source, "source", clean, max_len=64)
    channel = (None if record.get("channel") in (None, "")
               else _string(record["channel"], "channel", clean, max_len=64))
    meta = record.get("metadata") or {}
    if not isinstance(meta, dict):
        raise BadRecord('"metadata" must be a JSON object')

    def flag(key: str) -> object:  # metadata first, top-level keys accepted too
        return meta[key] if meta.get(key) not in (None, "") else record.get(key)

    resolved, escalated = _boolean(flag("resolved"), "resolved"), _boolean(flag("escalated"), "escalated")
    csat = _number(flag("csat"), "csat", clean)
    raw_messages = record.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise BadRecord('"messages" is required and must be a non-empty list')
    messages: list[dict[str, Any]] = []
    for position, raw in enumerate(raw_messages):
        try:
            if not isinstance(raw, dict) or not isinstance(raw.get("metadata") or {}, dict):
                raise BadRecord('a message must be an object with "role", "text" and optionally a "metadata" '
                                "object")
            role, text = _role(raw.get("role")).value, _string(raw.get("text"), "text", clean)
            ts, msg_meta = _timestamp(raw.get("timestamp"), "timestamp"), clean.value(raw.get("metadata") or {})
            messages.append({"position": position, "role": role, "text": text, "ts": ts, "meta": msg_meta})
        except BadRecord as bad:
            raise BadRecord(bad.reason, message=position) from None
    meta = clean.value(meta)
    started_at = _timestamp(record.get("started_at"), "started_at")
    if started_at is None:
        started_at = next((m["ts"] for m in messages if m["ts"] is not None), None)
    views = [MessageView(role=m["role"], text=m["text"], meta=m["meta"]) for m in messages]
    risk, reasons = score_risk(resolved=resolved, escalated=escalated, csat=csat, messages=views)
    conversation = {
        "source": source, "external_id": external_id, "started_at": started_at, "channel": channel,
        "meta": meta, "resolved": resolved, "escalated": escalated, "csat": csat,
        "message_count": len(messages), "risk_score": risk, "risk_reasons": reasons,
        "sample_key": sample_key(source, external_id), "imported_at": now,
    }
    conversation["content_hash"] = content_hash(conversation, messages)
    return conversation, messages


def content_hash(conversation: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    """A digest of what a record says (not when it was imported): the same content imported again is a no-op."""
    def when(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    what = [conversation["channel"], when(conversation["started_at"]), conversation["meta"], conversation["resolved"],
            conversation["escalated"], conversation["csat"],
            [[m["role"], m["text"], when(m["ts"]), m["meta"]] for m in messages]]
    raw = json.dumps(what, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=16).hexdigest()
