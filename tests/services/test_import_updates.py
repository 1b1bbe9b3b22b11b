"""Issue 14, item 6: a conversation that comes back with new messages or a late rating is updated, not skipped
(SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.services import Services
from bot.services.gaps import flag
from bot.services.importer import import_records
from bot.services.sampling import create_sample
from storage.models import Conversation, DigestItem, Gap, Message
from tests.support.cli import cli_env, run

QUESTION = "How long does a refund to my card take?"
DONT_KNOW = "I'm sorry, I don't have information about that."
HUMAN = "Refunds reach your card within 5 business days."


def record(cid: str, *messages: tuple[str, str], **meta: object) -> dict:
    return {"id": cid, "started_at": "2026-11-20T10:00:00Z", "metadata": meta,
            "messages": [{"role": r, "text": t} for r, t in messages]}


FIRST = record("t1", ("user", QUESTION), ("agent", DONT_KNOW), resolved=True)
REOPENED = record("t1", ("user", QUESTION), ("agent", DONT_KNOW), ("user", "It has been two weeks!"),
                  ("human", HUMAN), resolved=True, csat=1)


def load(services: Services, cid: str = "t1") -> tuple[Conversation, list[tuple[int, str, str]]]:
    with services.session() as s:
        conv = s.scalars(select(Conversation).where(Conversation.external_id == cid)).one()
        return conv, [(m.position, m.role, m.text) for m in conv.messages]


def test_new_messages_and_a_late_rating_update_the_conversation_and_its_risk(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    before, _ = load(services)
    assert "low CSAT" not in before.risk_reasons and before.updated_at is None

    report = import_records(services, enumerate([REOPENED]))

    assert (report.conversations_added, report.conversations_updated, report.conversations_skipped,
            report.messages_added) == (0, 1, 0, 2)
    after, messages = load(services)
    assert messages == [(0, "user", QUESTION), (1, "agent", DONT_KNOW), (2, "user", "It has been two weeks!"),
                        (3, "human", HUMAN)]
    assert after.id == before.id and after.message_count == 4 and after.csat == 1 and after.updated_at is not None
    assert {"low CSAT", "human answered after handover", "escalated"} <= set(after.risk_reasons)
    assert after.risk_score > before.risk_score and after.sample_key == before.sample_key

    again = import_records(services, enumerate([REOPENED]))  # the same content: nothing to do
    assert (again.conversations_updated, again.conversations_skipped, again.messages_added) == (0, 1, 0)


def test_a_rating_alone_updates_the_metadata_and_keeps_other_values(services: Services) -> None:
    import_records(services, enumerate([record("t2", ("user", QUESTION), ("agent", "5 days."), resolved=True,
                                               team="billing")]))
    rated = record("t2", ("user", QUESTION), ("agent", "5 days."), csat=2)  # says nothing of resolved or team
    report = import_records(services, enumerate([rated]))
    conv, messages = load(services, "t2")
    assert report.conversations_updated == 1 and report.messages_added == 0 and len(messages) == 2
    assert conv.csat == 2 and conv.resolved is True and conv.meta["team"] == "billing" and conv.meta["csat"] == 2
    assert conv.risk_reasons == ["low CSAT"]


def test_a_flagged_conversation_keeps_its_gap_and_digest_item(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    day = dt.date(2026, 11, 21)
    digest_id, items = create_sample(services, day=day, channel="C1")
    conv, _ = load(services)
    gap_id = flag(services, conversation_id=conv.id, user="U1").gap_id
    assert [i.conversation_id for i in items] == [conv.id]

    edited = record("t1", ("user", QUESTION), ("agent", "[redacted]"), ("human", HUMAN), csat=1)  # not a prefix
    report = import_records(services, enumerate([edited]))
    assert report.conversations_updated == 1 and report.messages_added == 0
    kept, messages = load(services)
    assert messages == [(0, "user", QUESTION), (1, "agent", DONT_KNOW)]  # the reviewed transcript stays
    assert kept.csat == 1 and kept.sampled_on == day

    import_records(services, enumerate([REOPENED]))  # a prefix: appended after the flagged turn
    with services.session() as s:
        gap = s.get(Gap, gap_id)
        assert gap is not None and gap.conversation_id == conv.id and gap.flagged_position == 1
        assert s.scalar(select(func.count(DigestItem.id))) == 1
    assert create_sample(services, day=day, channel="C1")[1] == items  # the same sample, no second item
    assert [i.conversation_id for i in create_sample(services, day=day + dt.timedelta(days=1), channel="C1")[1]] == []
    assert len(load(services)[1]) == 4


def test_an_unreviewed_transcript_edited_at_the_source_is_replaced(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    redacted = record("t1", ("user", "[redacted]"), ("agent", DONT_KNOW), ("human", HUMAN))
    report = import_records(services, enumerate([redacted]))
    conv, messages = load(services)
    assert report.conversations_updated == 1 and report.messages_added == 3
    assert messages == [(0, "user", "[redacted]"), (1, "agent", DONT_KNOW), (2, "human", HUMAN)]
    assert conv.message_count == 3
    with services.session() as s:
        assert s.scalar(select(func.count(Message.id))) == 3


def test_rows_imported_before_the_hash_existed_are_not_reported_as_updated(services: Services) -> None:
    import_records(services, enumerate([FIRST]))
    with services.session() as s:
        s.execute(update(Conversation).values(content_hash=None))
    report = import_records(services, enumerate([FIRST]))
    assert (report.conversations_updated, report.conversations_skipped) == (0, 1)
    conv, _ = load(services)
    assert conv.content_hash is not None and conv.updated_at is None


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: tuple[str, object]) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def test_flywheel_import_reports_the_updated_conversations(cli: Path) -> None:
    path = cli / "in.jsonl"
    path.write_text(json.dumps(FIRST) + "\n" + json.dumps(record("t9", ("user", "Hi"))) + "\n")
    run("init")
    assert "Imported 2 conversations" in run("import", str(path))
    path.write_text(json.dumps(REOPENED) + "\n" + json.dumps(record("t9", ("user", "Hi"))) + "\n")
    output = run("import", str(path))
    assert "Imported 0 conversations (2 messages); 1 already present." in output
    assert "Updated 1 conversations already present" in output
