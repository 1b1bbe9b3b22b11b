"""Streaming, idempotent import of support conversations (JSONL or CSV), in batches of one transaction each.

The unique key is (source, external_id): a conversation already stored is skipped. A malformed line becomes a
`BadLine` with an actionable reason (never the conversation text); every good line is still imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import heapq
import io
import json
import logging
import math
import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sqlalchemy.dialects import postgresql, sqlite

from bot.domain import Role
from bot.errors import InvalidInput
from bot.services import Services
from bot.services.risk import MessageView, sample_key, score_risk
from storage.models import Conversation, Message

log = logging.getLogger(__name__)

ROLE_ALIASES: dict[str, Role] = {
    **dict.fromkeys(("user", "customer", "client", "end_user"), Role.USER),
    **dict.fromkeys(("agent", "assistant", "bot", "ai", "ai_agent"), Role.AGENT),
    **dict.fromkeys(("human", "human_agent", "operator", "support", "staff"), Role.HUMAN),
    "system": Role.SYSTEM,
}
CSV_REQUIRED = ("conversation_id", "role", "text")
CSV_CONVERSATION_FIELDS = ("source", "channel", "started_at", "resolved", "escalated", "csat")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL or lone surrogates: the databases refuse them
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # undecodable bytes, smuggled through errors="surrogateescape"
_ROLE_LIKE = re.compile(r"[A-Za-z_ -]{1,20}")  # only such a value is echoed back in a reason
_BOM = b"\xef\xbb\xbf"
_PROGRESS_STEP = 1 << 20  # call progress() about every MiB


@dataclass
class BadLine:
    line: int  # 1-based; for CSV the row number counting the header as row 1, as a spreadsheet shows it
    reason: str  # user-facing and actionable; never contains conversation text


@dataclass
class ImportReport:
    conversations_added: int = 0
    conversations_skipped: int = 0  # already stored (re-import) or repeated in the same input
    messages_added: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad_lines


class _Bad(Exception):
    def __init__(self, reason: str, *, message: int | None = None, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.message, self.field = reason, message, field


def _string(value: object, what: str, *, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f'"{what}" is required and must be a non-empty string', field=what)
    if _UNSTORABLE.search(value):
        raise _Bad(f'"{what}" contains a NUL character or invalid Unicode; remove it', field=what)
    if max_len is not None and len(value) > max_len:
        raise _Bad(f'"{what}" is longer than {max_len} characters', field=what)
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
    raise _Bad(f'"{what}" must be an ISO 8601 date-time or epoch seconds', field=what)


def _boolean(value: object, what: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    token = str(value).strip().lower() if isinstance(value, str | int) else None
    if token in _TRUE or token in _FALSE:
        return token in _TRUE
    raise _Bad(f'"{what}" must be true/false, yes/no or 1/0', field=what)


def _number(value: object, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        raise _Bad(f'"{what}" must be a number', field=what)
    return number


def _role(value: object) -> Role:
    token = value.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(value, str) else ""
    if token in ROLE_ALIASES:
        return ROLE_ALIASES[token]
    shown = f" {value!r}" if isinstance(value, str) and _ROLE_LIKE.fullmatch(value) else ""
    raise _Bad(f"unknown role{shown}; use user, agent, human or system (or an alias such as customer, "
               "assistant, operator)")


def _parse(record: object, default_source: str, now: dt.datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A conversation dict in the JSONL shape -> (conversation row, message rows); raises _Bad."""
    if not isinstance(record, dict):
        raise _Bad('each line must be a JSON object with "id" and "messages"')
    ext = record.get("id")
    if not isinstance(ext, str | int) or isinstance(ext, bool):
        raise _Bad('"id" is required and must be a string or an integer', field="id")
    external_id = _string(str(ext), "id", max_len=255)
    source = _string(record.get("source") or default_source, "source", max_len=64)
    channel = None if record.get("channel") in (None, "") else _string(record["channel"], "channel", max_len=64)
    meta = record.get("metadata") or {}
    if not isinstance(meta, dict):
        raise _Bad('"metadata" must be a JSON object')

    def flag(key: str) -> object:  # metadata first, top-level keys accepted too
        return meta[key] if meta.get(key) not in (None, "") else record.get(key)

    resolved, escalated = _boolean(flag("resolved"), "resolved"), _boolean(flag("escalated"), "escalated")
    csat = _number(flag("csat"), "csat")
    raw_messages = record.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _Bad('"messages" is required and must be a non-empty list')
    messages: list[dict[str, Any]] = []
    for position, raw in enumerate(raw_messages):
        try:
            if not isinstance(raw, dict) or not isinstance(raw.get("metadata") or {}, dict):
                raise _Bad('a message must be an object with "role", "text" and optionally a "metadata" object')
            role, text = _role(raw.get("role")).value, _string(raw.get("text"), "text")
            ts, msg_meta = _timestamp(raw.get("timestamp"), "timestamp"), raw.get("metadata") or {}
            messages.append({"position": position, "role": role, "text": text, "ts": ts, "meta": msg_meta})
        except _Bad as bad:
            raise _Bad(bad.reason, message=position) from None
    started_at = _timestamp(record.get("started_at"), "started_at")
    if started_at is None:
        started_at = next((m["ts"] for m in messages if m["ts"] is not None), None)
    views = [MessageView(role=m["role"], text=m["text"], meta=m["meta"]) for m in messages]
    risk, reasons = score_risk(resolved=resolved, escalated=escalated, csat=csat, messages=views)
    return {
        "source": source, "external_id": external_id, "started_at": started_at, "channel": channel,
        "meta": meta, "resolved": resolved, "escalated": escalated, "csat": csat,
        "message_count": len(messages), "risk_score": risk, "risk_reasons": reasons,
        "sample_key": sample_key(source, external_id), "imported_at": now,
    }, messages


class _Importer:
    """Validates records, gathers a batch of conversations and writes each batch in one transaction."""

    def __init__(self, services: Services, source: str, batch_size: int) -> None:
        dialect = services.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise InvalidInput(f"Importing needs SQLite or PostgreSQL, not {dialect}.")
        if not source.strip() or len(source) > 64:
            raise InvalidInput("The source name must be 1 to 64 characters.")
        self.services, self.source, self.batch_size = services, source, max(1, batch_size)
        self.insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(Conversation)
        self.report = ImportReport()
        self.pending: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}

    def bad(self, line: int, reason: str) -> None:
        self.report.bad_lines.append(BadLine(line=line, reason=reason))

    def add(self, line: int, record: object, *, rows: list[int] | None = None,
            field_rows: Mapping[str, int] | None = None) -> None:
        """rows/field_rows (CSV only): the row of each message and of each conversation-level value."""
        try:
            conversation, messages = _parse(record, self.source, self.services.clock())
        except _Bad as bad:
            if rows is None:
                self.bad(line, ("" if bad.message is None else f"message {bad.message + 1}: ") + bad.reason)
            else:
                at = (field_rows or {}).get(bad.field or "", line) if bad.message is None else rows[bad.message]
                cid = record.get("id") if isinstance(record, dict) else None
                self.bad(at, f"{bad.reason}; conversation {cid!r} was not imported")
            return
        key = (conversation["source"], conversation["external_id"])
        if key in self.pending:
            self.report.conversations_skipped += 1
            return
        self.pending[key] = (conversation, messages)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Insert the batch; rows whose (source, external_id) already exist are skipped by the database."""
        if not self.pending:
            return
        stmt = self.insert.on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(
            Conversation.id, Conversation.source, Conversation.external_id)
        with self.services.session() as session:
            added = session.execute(stmt, [conversation for conversation, _ in self.pending.values()]).all()
            # Core rows are keyed by column name (the ORM's `meta` attribute is the `metadata` column).
            rows = [{"conversation_id": conversation_id, "position": m["position"], "role": m["role"],
                     "text": m["text"], "ts": m["ts"], "metadata": m["meta"]}
                    for conversation_id, source, ext in added for m in self.pending[(source, ext)][1]]
            if rows:
                session.connection().execute(Message.__table__.insert(), rows)  # Core: no ORM bulk path
        skipped = len(self.pending) - len(added)
        self.report.conversations_added += len(added)
        self.report.conversations_skipped += skipped
        self.report.messages_added += len(rows)
        log.debug("import batch added=%d skipped=%d messages=%d", len(added), skipped, len(rows))
        self.pending.clear()

    def finish(self) -> ImportReport:
        self.flush()
        r = self.report
        log.info("import done added=%d skipped=%d messages=%d bad_lines=%d", r.conversations_added,
                 r.conversations_skipped, r.messages_added, len(r.bad_lines))
        return r


def import_records(services: Services, records: Iterable[tuple[int, dict]], *, source: str = "import",
                   batch_size: int = 500) -> ImportReport:
    """Import (line_no, conversation dict in the JSONL shape) pairs: the JSONL reader and HTTP ingest use it."""
    importer = _Importer(services, source, batch_size)
    for line, record in records:
        importer.add(line, record)
    return importer.finish()


def import_file(services: Services, path: Path, *, source: str = "import",
                fmt: Literal["auto", "jsonl", "csv"] = "auto", progress: Callable[[int, int], None] | None = None,
                batch_size: int = 500) -> ImportReport:
    """Stream a JSONL or CSV file into the database, calling `progress(bytes_done, bytes_total)` as it is read."""
    path = Path(path)
    if fmt not in ("auto", "jsonl", "csv"):
        raise InvalidInput(f"Unknown format {fmt!r}: use auto, jsonl or csv.")
    if not path.is_file():
        raise InvalidInput(f"File not found: {path}")
    kind = fmt if fmt != "auto" else _detect(path)
    total, last = path.stat().st_size, 0

    def tick(done: int) -> None:
        nonlocal last
        if progress is not None and done - last >= _PROGRESS_STEP:
            last = done
            progress(done, total)

    importer = _Importer(services, source, batch_size)
    log.info("import start file=%r format=%s bytes=%d", path.name, kind, total)
    if progress is not None:
        progress(0, total)
    with path.open("rb") as f:
        (_read_jsonl if kind == "jsonl" else _read_csv)(f, importer, tick)
    report = importer.finish()
    if progress is not None:
        progress(total, total)
    return report


def _detect(path: Path) -> Literal["jsonl", "csv"]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json", ".csv"):
        return "csv" if suffix == ".csv" else "jsonl"
    with path.open("rb") as f:
        first = next((raw for raw in f if raw.strip()), b"").removeprefix(_BOM).strip().lower()
    if first.startswith(b"{"):
        return "jsonl"
    if b"," in first and all(col.encode() in first for col in CSV_REQUIRED):
        return "csv"
    raise InvalidInput(f"Cannot tell the format of {path.name}: use a .jsonl or .csv file or pass the format "
                       "(JSONL: one conversation object a line; CSV: a header with conversation_id, role, text).")


def _read_jsonl(f: BinaryIO, importer: _Importer, tick: Callable[[int], None]) -> None:
    done = 0
    for line_no, raw in enumerate(f, 1):
        done += len(raw)
        tick(done)
        try:
            text = (raw.removeprefix(_BOM) if line_no == 1 else raw).decode("utf-8")
        except UnicodeDecodeError as e:
            where = f"byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line"
            importer.bad(line_no, f"not valid UTF-8 ({where}); save the file as UTF-8")
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
            detail = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else str(e)
            importer.bad(line_no, f"invalid JSON ({detail}); each line must be one complete JSON object")
            continue
        importer.add(line_no, record)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")  # NaN/Infinity: not JSON, and PostgreSQL refuses them


class _SeenIds:
    """Conversation ids finished earlier in a CSV file, as sorted 64-bit hashes: 8 bytes an id."""

    def __init__(self) -> None:
        self.sorted: array[int] = array("Q")
        self.recent: set[int] = set()

    @staticmethod
    def _hash(cid: str) -> int:
        return int.from_bytes(hashlib.blake2b(cid.encode("utf-8", "surrogateescape"), digest_size=8).digest())

    def __contains__(self, cid: str) -> bool:
        h = self._hash(cid)
        i = bisect_left(self.sorted, h)
        return h in self.recent or (i < len(self.sorted) and self.sorted[i] == h)

    def add(self, cid: str) -> None:
        self.recent.add(self._hash(cid))
        if len(self.recent) >= 65536:
            self.sorted = array("Q", heapq.merge(self.sorted, sorted(self.recent)))
            self.recent.clear()


@dataclass
class _Group:
    """The rows of one CSV conversation, gathered until the id changes."""

    cid: str
    first_row: int
    record: dict[str, Any]
    rows: list[int] = field(default_factory=list)
    field_rows: dict[str, int] = field(default_factory=dict)
    rejected: str | None = None  # why every row is bad (the id is not contiguous)
    poisoned: bool = False  # a row was bad, so the conversation is not imported


def _read_csv(f: BinaryIO, importer: _Importer, tick: Callable[[int], None]) -> None:
    text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header = [h.strip().lower() for h in next(reader, [])]
    if missing := [c for c in CSV_REQUIRED if c not in header]:
        raise InvalidInput(f"The CSV header lacks {', '.join(missing)}: the first row must name the columns, "
                           "at least conversation_id, role, text.")
    col = {name: header.index(name) for name in (*CSV_REQUIRED, "timestamp", *CSV_CONVERSATION_FIELDS)
           if name in header}
    seen, group = _SeenIds(), None

    def finish(g: _Group) -> None:
        seen.add(g.cid)
        if g.rejected is None and not g.poisoned:
            importer.add(g.first_row, g.record, rows=g.rows, field_rows=g.field_rows)

    for row_no, row in enumerate(reader, 2):
        tick(f.tell())
        if not any(cell.strip() for cell in row):
            continue
        value = {name: (row[i] if i < len(row) else "") for name, i in col.items()}
        cid = value["conversation_id"].strip()
        if not cid:
            importer.bad(row_no, "conversation_id is empty; every row needs the id of its conversation")
            continue
        if group is None or cid != group.cid:
            if group is not None:
                finish(group)
            group = _Group(cid=cid, first_row=row_no, record={"id": cid, "messages": []})
            if cid in seen:
                group.rejected = (f"rows of conversation {cid!r} are not contiguous; sort the file by "
                                  "conversation_id")
        reason = group.rejected
        if reason is None and len(row) != len(header):
            reason = (f"row has {len(row)} fields but the header has {len(header)}; quote values that contain "
                      f"commas, quotes or line breaks; conversation {cid!r} was not imported")
        elif reason is None and any(_NOT_UTF8.search(cell) for cell in row):
            reason = ("contains bytes that are not valid UTF-8; save the file as UTF-8; "
                      f"conversation {cid!r} was not imported")
        if reason is not None:
            group.poisoned = True
            importer.bad(row_no, reason)
            continue
        for name in CSV_CONVERSATION_FIELDS:
            if value.get(name, "").strip() and name not in group.record:
                group.record[name], group.field_rows[name] = value[name].strip(), row_no
        group.record["messages"].append(
            {"role": value["role"], "text": value["text"], "timestamp": value.get("timestamp", "").strip()})
        group.rows.append(row_no)
    if group is not None:
        finish(group)
    text.detach()
