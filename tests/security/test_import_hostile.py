"""Re-imports that race or rewrite history (SQLite, and PostgreSQL when configured): two imports updating one
conversation at once never leave duplicate or missing positions, and a flagged conversation keeps the transcript
its reviewers saw whatever the source sends later."""

from __future__ import annotations

import threading

from sqlalchemy import select

from bot.services import Services
from bot.services.gaps import flag
from bot.services.importer import import_records
from storage.models import Conversation, Gap, Message

QUESTION = "How long does a refund to my card take?"
DONT_KNOW = "I'm sorry, I don't have information about that."


def record(*messages: tuple[str, str], **meta: object) -> dict[str, object]:
    return {"id": "t1", "started_at": "2026-11-20T10:00:00Z", "metadata": meta,
            "messages": [{"role": r, "text": t} for r, t in messages]}


FIRST = record(("user", QUESTION), ("agent", DONT_KNOW), resolved=True)
LONGER = record(("user", QUESTION), ("agent", DONT_KNOW), ("user", "Two weeks now!"), ("human", "5 days."), csat=1)
OTHER = record(("user", QUESTION), ("agent", DONT_KNOW), ("user", "Still nothing"), resolved=False)
REWRITTEN = record(("user", "[redacted]"), ("agent", "Refunds take 5 days."), ("user", "ok"), csat=5)


def transcript(services: Services) -> tuple[Conversation, list[tuple[int, str, str]]]:
    with services.session() as s:
        conv = s.scalars(select(Conversation)).one()
        rows = [(m.position, m.role, m.text) for m in s.scalars(select(Message).order_by(Message.position))]
        s.expunge(conv)
        return conv, rows


def at_once(services: Services, records: list[dict[str, object]]) -> list[str]:
    barrier, errors = threading.Barrier(len(records)), []

    def go(rec: dict[str, object]) -> None:
        barrier.wait()
        try:
            report = import_records(services, enumerate([rec]))
            errors.extend(b.reason for b in report.bad_lines)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(repr(exc))

    threads = [threading.Thread(target=go, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_two_imports_updating_one_conversation_at_once(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    for round_ in range(4):
        pair = [LONGER, OTHER] if round_ % 2 else [OTHER, LONGER]
        assert at_once(services, pair) == []
        conv, rows = transcript(services)
        assert [p for p, _, _ in rows] == list(range(len(rows)))  # no duplicate or missing position
        assert conv.message_count == len(rows)
        assert [r[1:] for r in rows] in ([(m["role"], m["text"]) for m in rec["messages"]]  # type: ignore[attr-defined]
                                         for rec in (LONGER, OTHER))  # one whole version, never a mix


def test_a_flagged_conversation_keeps_its_reviewed_turns_under_racing_rewrites(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    with services.session() as s:
        conv_id = s.scalars(select(Conversation.id)).one()
    gap_id = flag(services, conversation_id=conv_id, user="U1").gap_id
    assert at_once(services, [REWRITTEN, LONGER, REWRITTEN]) == []
    conv, rows = transcript(services)
    assert rows[:2] == [(0, "user", QUESTION), (1, "agent", DONT_KNOW)]  # what was reviewed, untouched
    assert [p for p, _, _ in rows] == list(range(len(rows))) and conv.message_count == len(rows)
    with services.session() as s:
        gap = s.get(Gap, gap_id)
        assert gap is not None and gap.conversation_id == conv_id and gap.flagged_position == 1
