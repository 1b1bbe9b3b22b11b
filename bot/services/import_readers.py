"""The streaming JSONL and CSV readers of the importer: bytes in, (line, record) out to a sink.

Bytes that are not UTF-8 are decoded with errors="surrogateescape" and cleaned later (U+FFFD), so a stray
byte costs one character, not the conversation.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import json
from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from bot.errors import InvalidInput
from bot.services.import_parse import has_undecodable

CSV_REQUIRED = ("conversation_id", "role", "text")
CSV_CONVERSATION_FIELDS = ("source", "channel", "started_at", "resolved", "escalated", "csat")
_BOM = b"\xef\xbb\xbf"


class Sink(Protocol):
    def bad(self, line: int, reason: str) -> None: ...

    def add(self, line: int, record: object, *, rows: list[int] | None = None,
            field_rows: Mapping[str, int] | None = None, undecodable: bool = False) -> None: ...


def detect_format(path: Path) -> Literal["jsonl", "csv"]:
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


def loads(text: str) -> Any:
    """One JSON document. NaN, Infinity and 1e400 parse (as floats) and are cleaned by the importer."""
    return json.loads(text)


def read_jsonl(f: BinaryIO, sink: Sink, tick: Callable[[int], None]) -> None:
    done = 0
    for line_no, raw in enumerate(f, 1):
        done += len(raw)
        tick(done)
        text = (raw.removeprefix(_BOM) if line_no == 1 else raw).decode("utf-8", "surrogateescape")
        if not text.strip():
            continue
        try:
            record = loads(text)
        except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
            detail = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else str(e)
            sink.bad(line_no, f"invalid JSON ({detail}); each line must be one complete JSON object")
            continue
        sink.add(line_no, record, undecodable=has_undecodable(text))


class SeenIds:
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
    undecodable: bool = False  # a row had bytes that are not UTF-8 (cleaned, the conversation is kept)


def read_csv(f: BinaryIO, sink: Sink, tick: Callable[[int], None]) -> None:
    text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header = [h.strip().lower() for h in next(reader, [])]
    if missing := [c for c in CSV_REQUIRED if c not in header]:
        raise InvalidInput(f"The CSV header lacks {', '.join(missing)}: the first row must name the columns, "
                           "at least conversation_id, role, text.")
    col = {name: header.index(name) for name in (*CSV_REQUIRED, "timestamp", *CSV_CONVERSATION_FIELDS)
           if name in header}
    seen, group = SeenIds(), None

    def finish(g: _Group) -> None:
        seen.add(g.cid)
        if g.rejected is None and not g.poisoned:
            sink.add(g.first_row, g.record, rows=g.rows, field_rows=g.field_rows, undecodable=g.undecodable)

    for row_no, row in enumerate(reader, 2):
        tick(f.tell())
        if not any(cell.strip() for cell in row):
            continue
        value = {name: (row[i] if i < len(row) else "") for name, i in col.items()}
        cid = value["conversation_id"].strip()
        if not cid:
            sink.bad(row_no, "conversation_id is empty; every row needs the id of its conversation")
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
        if reason is not None:
            group.poisoned = True
            sink.bad(row_no, reason)
            continue
        group.undecodable = group.undecodable or any(has_undecodable(cell) for cell in row)
        for name in CSV_CONVERSATION_FIELDS:
            if value.get(name, "").strip() and name not in group.record:
                group.record[name], group.field_rows[name] = value[name].strip(), row_no
        group.record["messages"].append(
            {"role": value["role"], "text": value["text"], "timestamp": value.get("timestamp", "").strip()})
        group.rows.append(row_no)
    if group is not None:
        finish(group)
    text.detach()
