"""The streaming importer, on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.importer import BadLine, _SeenIds, import_file, import_records
from bot.services.risk import sample_key
from storage.models import Conversation, Message

SECRET = "my card number is 4111"  # conversation text that must never reach a reason or a log line


def _jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def _conv(ext: object, *messages: tuple[str, str], **extra: object) -> dict:
    return {"id": ext, "messages": [{"role": r, "text": t} for r, t in messages], **extra}


def _counts(services: Services) -> tuple[int, int]:
    with services.session() as s:
        return s.scalar(select(func.count(Conversation.id))), s.scalar(select(func.count(Message.id)))


def _load(services: Services, ext: str, source: str = "import") -> tuple[Conversation, list[Message]]:
    with services.session() as s:
        conv = s.scalars(select(Conversation).where(Conversation.source == source,
                                                    Conversation.external_id == ext)).one()
        return conv, list(conv.messages)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive UTC, PostgreSQL aware datetimes: compare both as aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_jsonl_import_stores_fields_risk_and_normalized_roles(services: Services, tmp_path: Path) -> None:
    escalated = {
        "id": "conv-1", "source": "zendesk", "channel": "web",
        "metadata": {"resolved": "no", "escalated": True, "csat": 2, "anything_else": "kept"},
        "messages": [
            {"role": "customer", "text": "Where is my refund?", "timestamp": "2024-08-08T12:00:00Z"},
            {"role": "assistant", "text": "Refunds take 5 days.", "timestamp": 1723118460,
             "metadata": {"retrieval_score": 0.12}},
            {"role": "Operator", "text": "I have pushed it through.", "timestamp": "2024-08-08T12:05:00+00:00"},
        ],
    }
    calm = _conv(42, ("client", "Hi"), ("bot", "Hello!"), ("system", "closed"), resolved="yes", csat="5",
                 started_at="2024-08-09T09:00:00")
    path = _jsonl(tmp_path / "in.jsonl", escalated, calm)

    report = import_file(services, path, source="fallback")

    assert report.ok and report.bad_lines == []
    assert (report.conversations_added, report.conversations_skipped, report.messages_added) == (2, 0, 6)
    assert _counts(services) == (2, 6)
    conv, messages = _load(services, "conv-1", "zendesk")  # the line's source overrides the argument
    assert (conv.channel, conv.resolved, conv.escalated, conv.csat, conv.message_count) == ("web", False, True,
                                                                                             2.0, 3)
    assert conv.meta["anything_else"] == "kept"
    assert _utc(conv.started_at) == dt.datetime(2024, 8, 8, 12, 0, tzinfo=dt.UTC)  # from the first message
    assert {"escalated", "human answered after handover", "unresolved", "low CSAT",
            "low retrieval score"} <= set(conv.risk_reasons)
    assert conv.risk_score >= 10.0
    assert conv.sample_key == sample_key("zendesk", "conv-1")
    assert [(m.position, m.role) for m in messages] == [(0, "user"), (1, "agent"), (2, "human")]
    assert _utc(messages[1].ts) == dt.datetime(2024, 8, 8, 12, 1, tzinfo=dt.UTC)  # epoch seconds
    assert messages[1].meta == {"retrieval_score": 0.12}
    assert messages[0].text == "Where is my refund?"

    calm_conv, calm_messages = _load(services, "42", "fallback")  # int id, source from the argument
    assert (calm_conv.resolved, calm_conv.escalated, calm_conv.csat) == (True, None, 5.0)
    assert calm_conv.risk_reasons == [] and calm_conv.risk_score == 0.0
    assert _utc(calm_conv.started_at) == dt.datetime(2024, 8, 9, 9, 0, tzinfo=dt.UTC)  # naive means UTC
    assert [m.role for m in calm_messages] == ["user", "agent", "system"]


def test_csv_import_groups_rows_and_takes_conversation_values_from_first_row_with_them(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"\xef\xbb\xbfconversation_id,role,text,timestamp,source,resolved,escalated,csat\r\n"
        b"c1,user,\"Hello, I was charged twice\",2024-08-08T12:00:00Z,shop,,,\r\n"
        b"c1,agent,\"Sorry!\nA refund is on its way.\",,,no,yes,1\r\n"
        b"c1,human_agent,Done,,,yes,no,5\r\n"
        b"c2,end_user,Thanks,,,,,\r\n"
    )

    report = import_file(services, path)

    assert report.ok
    assert (report.conversations_added, report.messages_added) == (2, 4)
    conv, messages = _load(services, "c1", "shop")
    assert (conv.resolved, conv.escalated, conv.csat, conv.message_count) == (False, True, 1.0, 3)
    assert [m.text for m in messages] == ["Hello, I was charged twice", "Sorry!\nA refund is on its way.", "Done"]
    assert [m.role for m in messages] == ["user", "agent", "human"]
    assert _utc(conv.started_at) == dt.datetime(2024, 8, 8, 12, 0, tzinfo=dt.UTC)
    c2, _ = _load(services, "c2", "import")
    assert c2.message_count == 1


def test_reimport_is_idempotent_and_repeated_ids_count_as_skipped(services: Services, tmp_path: Path) -> None:
    records = [_conv(f"c{i}", ("user", "q"), ("agent", "a")) for i in range(5)]
    path = _jsonl(tmp_path / "in.jsonl", *records, records[0], records[3])  # two repeats within the file

    first = import_file(services, path, batch_size=2)  # repeats land in a later batch than the original
    second = import_file(services, path, batch_size=500)  # and, here, in the same batch

    assert (first.conversations_added, first.conversations_skipped, first.messages_added) == (5, 2, 10)
    assert (second.conversations_added, second.conversations_skipped, second.messages_added) == (0, 7, 0)
    assert _counts(services) == (5, 10)
    # the same id under another source is another conversation
    assert import_file(services, path, source="other").conversations_added == 5


def test_bad_lines_are_reported_with_line_numbers_and_good_lines_kept(
    services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _conv("ok-1", ("user", SECRET), ("agent", "a"))
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps(good).encode(),  # 1
        b'{"id": "x", "messages": [',  # 2 invalid JSON
        json.dumps({"messages": [{"role": "user", "text": SECRET}]}).encode(),  # 3 missing id
        json.dumps(_conv("r", ("user", SECRET), ("wizard", SECRET))).encode(),  # 4 unknown role
        b'{"id": "u", "messages": [{"role": "user", "text": "caf\xe9"}]}',  # 5 Latin-1 byte: cleaned, kept
        json.dumps({"id": "e", "messages": []}).encode(),  # 6 empty messages
        b"",  # 7 blank: ignored
        json.dumps(_conv("t", ("user", "   "))).encode(),  # 8 empty text
        json.dumps(_conv("n", ("user", "x"), csat=float("nan"))).encode(),  # 9 NaN: emptied, kept
        json.dumps(["not", "an", "object"]).encode(),  # 10
        json.dumps(_conv("ok-2", ("user", "q"), resolved="maybe")).encode(),  # 11 bad boolean
        json.dumps(_conv("ok-3", ("customer", "q"), ("ai", SECRET))).encode(),  # 12
        json.dumps(_conv("z", ("user", "nul \x00 byte"))).encode(),  # 13 NUL: removed, kept
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    caplog.set_level(logging.DEBUG)

    report = import_file(services, path)

    assert not report.ok
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 6, 8, 10, 11]
    reasons = {b.line: b.reason for b in report.bad_lines}
    assert "invalid JSON" in reasons[2]
    assert '"id"' in reasons[3]
    assert reasons[4].startswith("message 2: unknown role 'wizard'")
    assert '"messages"' in reasons[6]
    assert reasons[8].startswith('message 1: "text"')
    assert '"resolved"' in reasons[11]
    cleaned = {c.line: c.what for c in report.cleaned}
    assert sorted(cleaned) == [5, 9, 13]
    assert "not UTF-8" in cleaned[5] and "U+FFFD" in cleaned[5]
    assert "NaN" in cleaned[9] and "NUL" in cleaned[13]
    assert all(SECRET not in b.reason and "caf" not in b.reason for b in report.bad_lines)
    assert SECRET not in caplog.text
    assert (report.conversations_added, report.messages_added) == (5, 7)
    assert _counts(services) == (5, 7)
    assert [m.text for m in _load(services, "u")[1]] == ["caf\ufffd"]
    assert [m.text for m in _load(services, "z")[1]] == ["nul  byte"]
    assert _load(services, "n")[0].csat is None


def test_csv_bad_row_drops_its_conversation_and_names_the_row(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"conversation_id,role,text,csat\n"
        b"a,user,q,\n"
        b"a,wizard,answer,\n"  # row 3: unknown role
        b"b,user,q,\n"
        b"b,agent,a,high\n"  # row 5: csat not a number (the row that holds it, not the first row)
        b"c,user,caf\xe9,\n"  # row 6: not UTF-8: the byte is replaced, the conversation kept
        b",user,orphan,\n"  # row 7: no id
        b"d,user,too,many,fields\n"  # row 8
        b"e,user,fine,\n"
    )

    report = import_file(services, path)

    assert [b.line for b in report.bad_lines] == [3, 5, 7, 8]
    assert "unknown role 'wizard'" in report.bad_lines[0].reason
    assert "'a' was not imported" in report.bad_lines[0].reason
    assert '"csat" must be a number' in report.bad_lines[1].reason
    assert "fields" in report.bad_lines[3].reason
    assert [(c.line, "not UTF-8" in c.what) for c in report.cleaned] == [(6, True)]
    assert (report.conversations_added, report.messages_added) == (2, 2)
    assert [m.text for m in _load(services, "c")[1]] == ["caf\ufffd"]
    assert _load(services, "e")[0].message_count == 1


def test_csv_non_contiguous_ids_are_bad_lines(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("conversation_id,role,text\na,user,q1\na,agent,a1\nb,user,q2\na,user,late\na,agent,again\n"
                    "c,user,q3\n")

    report = import_file(services, path)

    assert report.bad_lines == [
        BadLine(5, "rows of conversation 'a' are not contiguous; sort the file by conversation_id"),
        BadLine(6, "rows of conversation 'a' are not contiguous; sort the file by conversation_id"),
    ]
    assert (report.conversations_added, report.messages_added) == (3, 4)
    assert _load(services, "a")[0].message_count == 2  # not merged with the late rows


def test_progress_reaches_the_file_size(services: Services, tmp_path: Path) -> None:
    filler = "x" * 2000
    path = _jsonl(tmp_path / "in.jsonl", *[_conv(f"c{i}", ("user", filler)) for i in range(1500)])
    calls: list[tuple[int, int]] = []

    import_file(services, path, progress=lambda done, total: calls.append((done, total)))

    size = path.stat().st_size
    assert size > 2 * 1024 * 1024
    assert len(calls) >= 3  # intermediate updates while reading, then the end
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_twenty_thousand_conversations(services: Services, tmp_path: Path) -> None:
    n = 20_000
    path = tmp_path / "big.ndjson"
    with path.open("w") as f:
        for i in range(n):
            escalate = "true" if i % 10 == 0 else "false"
            f.write(f'{{"id": "c{i}", "metadata": {{"escalated": {escalate}}}, "messages": '
                    f'[{{"role": "user", "text": "question {i}"}}, {{"role": "agent", "text": "answer {i}"}}]}}\n')

    started = time.monotonic()
    report = import_file(services, path)
    elapsed = time.monotonic() - started

    assert report.ok
    assert (report.conversations_added, report.messages_added) == (n, 2 * n)
    assert _counts(services) == (n, 2 * n)
    with services.session() as s:
        assert s.scalar(select(func.count()).where(Conversation.escalated.is_(True))) == n // 10
        last = s.scalars(select(Conversation).where(Conversation.external_id == f"c{n - 1}")).one()
        assert [m.text for m in last.messages] == [f"question {n - 1}", f"answer {n - 1}"]
    assert elapsed < 30  # ~3 s on SQLite, ~7 s on PostgreSQL here: a guard against quadratic slowdowns


def test_format_detection_and_file_errors(services: Services, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        import_file(services, tmp_path / "missing.jsonl")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("\nhello there\n")
    with pytest.raises(InvalidInput, match="Cannot tell the format"):
        import_file(services, unknown)
    no_header = tmp_path / "rows.csv"
    no_header.write_text("c1,user,hello\n")
    with pytest.raises(InvalidInput, match="conversation_id"):
        import_file(services, no_header)
    with pytest.raises(InvalidInput, match="format"):
        import_file(services, no_header, fmt="xml")  # type: ignore[arg-type]

    sniffed_json = _jsonl(tmp_path / "dump.txt", "", _conv("j1", ("user", "q")))
    sniffed_csv = tmp_path / "dump.tsv"
    sniffed_csv.write_text("conversation_id,role,text\nk1,user,q\n")
    assert import_file(services, sniffed_json).conversations_added == 1
    assert import_file(services, sniffed_csv).conversations_added == 1
    forced = tmp_path / "forced.log"
    forced.write_text("conversation_id,role,text\nk2,user,q\n")
    assert import_file(services, forced, fmt="csv").conversations_added == 1


def test_import_records_takes_dicts_directly(services: Services) -> None:
    records = [(1, _conv("h1", ("user", "q"), ("agent", "a"))), (2, "not a dict"),  # type: ignore[list-item]
               (3, _conv("h2", ("user", "q"), source="api"))]

    report = import_records(services, records, source="http")

    assert [b.line for b in report.bad_lines] == [2]
    assert report.conversations_added == 2
    assert _load(services, "h1", "http")[0].message_count == 2
    assert _load(services, "h2", "api")[0].message_count == 1


def test_seen_ids_stay_exact_across_compaction() -> None:
    seen = _SeenIds()
    for i in range(70_000):  # past the point where recent ids are merged into the sorted array
        seen.add(f"id-{i}")
    assert len(seen.sorted) == 65_536
    assert all(f"id-{i}" in seen for i in range(0, 70_000, 7))
    assert not any(f"other-{i}" in seen for i in range(1_000))
