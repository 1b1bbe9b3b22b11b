"""Streaming, idempotent import of support conversations (JSONL or CSV), in batches of one transaction each.

The unique key is (source, external_id): a conversation already stored is skipped when its content is the same,
and updated in place when it comes back with new messages or metadata (`import_update.py`). A malformed line becomes a
`BadLine` with an actionable reason (never the conversation text); every good line is still imported. Values
the databases cannot store are cleaned and counted (`CleanedLine`, see `import_parse`), and a batch the
database refuses anyway is retried one conversation at a time, so only the conversation at fault is lost.
Parsing and cleaning: `import_parse.py`; the JSONL and CSV readers: `import_readers.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.import_parse import BadRecord, Cleaned, parse_record
from bot.services.import_readers import SeenIds as _SeenIds  # noqa: F401 - re-exported for tests
from bot.services.import_readers import detect_format, read_csv, read_jsonl
from bot.services.import_update import update_existing
from storage.models import Conversation, Message

log = logging.getLogger(__name__)

_PROGRESS_STEP = 1 << 20  # call progress() about every MiB
_Row = tuple[int, dict[str, Any], list[dict[str, Any]]]  # (line, conversation row, message rows)


@dataclass
class BadLine:
    line: int  # 1-based; for CSV the row number counting the header as row 1, as a spreadsheet shows it
    reason: str  # user-facing and actionable; never contains conversation text


@dataclass
class CleanedLine:
    line: int  # as in BadLine; the conversation was imported
    what: str  # what was cleaned, as counts; never the text itself


@dataclass
class ImportReport:
    conversations_added: int = 0
    conversations_skipped: int = 0  # already stored unchanged (re-import) or repeated in the same input
    conversations_updated: int = 0  # already stored, came back with new messages or metadata: updated
    messages_added: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    cleaned: list[CleanedLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad_lines


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
        self.pending: dict[tuple[str, str], _Row] = {}

    def bad(self, line: int, reason: str) -> None:
        self.report.bad_lines.append(BadLine(line=line, reason=reason))

    def add(self, line: int, record: object, *, rows: list[int] | None = None,
            field_rows: Mapping[str, int] | None = None, undecodable: bool = False) -> None:
        """rows/field_rows (CSV only): the row of each message and of each conversation-level value.
        `undecodable`: the reader replaced bytes that were not UTF-8 (counted as cleaned)."""
        clean = Cleaned()
        try:
            conversation, messages = parse_record(record, self.source, self.services.clock(), clean)
        except BadRecord as bad:
            if rows is None:
                self.bad(line, ("" if bad.message is None else f"message {bad.message + 1}: ") + bad.reason)
            else:
                at = (field_rows or {}).get(bad.field or "", line) if bad.message is None else rows[bad.message]
                cid = record.get("id") if isinstance(record, dict) else None
                self.bad(at, f"{bad.reason}; conversation {cid!r} was not imported")
            return
        if clean or undecodable:
            what = clean.describe() if clean else "the conversation was kept"
            if undecodable:
                what = "bytes that are not UTF-8 were replaced by U+FFFD (save the file as UTF-8); " + what
            self.report.cleaned.append(CleanedLine(line=line, what=what))
        key = (conversation["source"], conversation["external_id"])
        if key in self.pending:
            self.report.conversations_skipped += 1
            return
        self.pending[key] = (line, conversation, messages)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _write(self, batch: list[_Row]) -> tuple[int, int, int]:
        """Insert conversations and their messages in one transaction; rows whose (source, external_id)
        already exist are updated when their content changed (`update_existing`), else skipped.
        Returns (conversations added, conversations updated, messages added).
        Rows go in key order: two imports of the same conversations in other orders (two files, a pull) take the
        key locks in one order, so neither waits for the other while holding what it waits for (a PG deadlock)."""
        batch = sorted(batch, key=lambda row: (row[1]["source"], row[1]["external_id"]))
        stmt = self.insert.on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(
            Conversation.id, Conversation.source, Conversation.external_id)
        by_key = {(conv["source"], conv["external_id"]): messages for _, conv, messages in batch}
        with self.services.session() as session:
            added = session.execute(stmt, [conv for _, conv, _ in batch]).all()
            # Core rows are keyed by column name (the ORM's `meta` attribute is the `metadata` column).
            rows = [{"conversation_id": conversation_id, "position": m["position"], "role": m["role"],
                     "text": m["text"], "ts": m["ts"], "metadata": m["meta"]}
                    for conversation_id, source, ext in added for m in by_key[(source, ext)]]
            if rows:
                session.connection().execute(cast(Table, Message.__table__).insert(), rows)  # Core: no ORM bulk path
            new = {(source, ext) for _, source, ext in added}
            updated, appended = update_existing(session, [(conv, messages) for _, conv, messages in batch
                                                          if (conv["source"], conv["external_id"]) not in new],
                                                now=self.services.clock())
        return len(added), updated, len(rows) + appended

    def flush(self) -> None:
        if not self.pending:
            return
        batch = list(self.pending.values())
        self.pending.clear()
        refused = 0
        try:
            added, updated, messages = self._write(batch)
        except StatementError as exc:
            if isinstance(exc, OperationalError | InterfaceError):
                raise  # the database is unreachable or locked: not the data's fault, nothing to blame a row for
            log.warning("import batch refused error=%s size=%d: retrying one conversation at a time",
                        _error_name(exc), len(batch))
            added, updated, messages, refused = self._write_one_by_one(batch)
        skipped = len(batch) - added - updated - refused
        self.report.conversations_added += added
        self.report.conversations_updated += updated
        self.report.messages_added += messages
        self.report.conversations_skipped += skipped
        log.debug("import batch added=%d updated=%d skipped=%d messages=%d", added, updated, skipped, messages)

    def _write_one_by_one(self, batch: list[_Row]) -> tuple[int, int, int, int]:
        """Each conversation in its own transaction: (added, updated, messages added, refused)."""
        added = updated = messages = refused = 0
        for line, conversation, rows in batch:
            try:
                one, changed, many = self._write([(line, conversation, rows)])
            except StatementError as exc:
                if isinstance(exc, OperationalError | InterfaceError):
                    raise
                name = _error_name(exc)
                log.warning("import row refused line=%d error=%s", line, name)
                self.bad(line, f"the database refused conversation {conversation['external_id']!r} ({name}); "
                         "check its values (dates, numbers, metadata) and import the file again; the other "
                         "conversations were kept")
                refused += 1
                continue
            added, updated, messages = added + one, updated + changed, messages + many
        return added, updated, messages, refused

    def finish(self) -> ImportReport:
        self.flush()
        r = self.report
        r.bad_lines.sort(key=lambda b: b.line)  # a row the database refused is found at its batch's end
        log.info("import done added=%d updated=%d skipped=%d messages=%d bad_lines=%d cleaned=%d",
                 r.conversations_added, r.conversations_updated, r.conversations_skipped, r.messages_added,
                 len(r.bad_lines), len(r.cleaned))
        return r


def _error_name(exc: StatementError) -> str:
    """The driver's error class (e.g. CheckViolation), never its message: that can quote the data."""
    return type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__


def import_records(services: Services, records: Iterable[tuple[int, dict[str, Any]]], *, source: str = "import",
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
    kind = fmt if fmt != "auto" else detect_format(path)
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
        (read_jsonl if kind == "jsonl" else read_csv)(f, importer, tick)
    report = importer.finish()
    if progress is not None:
        progress(total, total)
    return report
