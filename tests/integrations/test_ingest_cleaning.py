"""The HTTP ingest keeps every good conversation: values the database cannot store are cleaned (and listed
under "cleaned"), and a conversation the database refuses is one "bad" item, not a 500 on every retry.
Runs on SQLite and, with FLYWHEEL_TEST_POSTGRES_URL, on PostgreSQL."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, text

from bot.integrations.ingest import make_ingest_app
from storage.models import Conversation
from tests.integrations.test_ingest import TOKEN, call, count
from tests.support.factories import conversation

SECRET = "my card number is 4111"


@pytest.fixture
def app(services):
    return make_ingest_app(services, TOKEN, max_bytes=64 * 1024)


def test_nul_nan_and_huge_numbers_are_cleaned_not_a_500(app, services, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    nul = conversation("nul", note="a\x00b")
    nul["messages"][0]["text"] = SECRET + "\x00"
    body = ("[" + ", ".join([json.dumps(conversation("c1")), json.dumps(nul),
                             '{"id": "nan", "metadata": {"csat": NaN, "score": 1e400}, '
                             '"messages": [{"role": "user", "text": "q"}]}']) + "]").encode()

    status, _, result = call(app, body)

    assert status == 200, result
    assert (result["added"], result["skipped"], result["bad"]) == (3, 0, [])
    assert [c["index"] for c in result["cleaned"]] == [1, 2]
    assert "NUL" in result["cleaned"][0]["what"] and "NaN" in result["cleaned"][1]["what"]
    with services.session() as s:
        metas = {c.external_id: c.meta for c in s.scalars(select(Conversation))}
    assert metas["nul"]["note"] == "ab" and metas["nan"] == {"csat": None, "score": None}
    assert call(app, body)[2]["skipped"] == 3  # a retry is idempotent
    assert SECRET not in json.dumps(result) and SECRET not in caplog.text


def test_a_conversation_the_database_refuses_is_one_bad_item(app, services, engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE conversations ADD CONSTRAINT refuse_poison "
                              "CHECK (external_id <> 'poison')"))
        else:
            conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON conversations "
                              "WHEN NEW.external_id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    body = json.dumps([conversation("c1"), conversation("poison"), conversation("c3")]).encode()

    for attempt in range(2):  # the retry behaves the same: no 500, the good ones stay
        status, _, result = call(app, body)
        assert status == 200, result
        assert [b["index"] for b in result["bad"]] == [1]
        assert "the database refused conversation 'poison'" in result["bad"][0]["reason"]
        assert (result["added"], result["skipped"]) == ((2, 0) if attempt == 0 else (0, 2))
    assert count(services) == 2
