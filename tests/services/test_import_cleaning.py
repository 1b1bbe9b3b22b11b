"""Bad data loses nothing: `flywheel import FILE` on SQLite and PostgreSQL (FLYWHEEL_TEST_POSTGRES_URL).

Values the databases cannot store (NUL, lone surrogates, NaN/Infinity/1e400 in JSON columns) are cleaned and
counted; a conversation the database refuses anyway costs only itself, never its batch or a traceback.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from bot.cli import app
from storage.db import make_session_factory, migrate, session_scope
from storage.models import Conversation, Message

SECRET = "my card number is 4111"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: tuple[str, Engine]) -> Engine:
    url, engine = db_url_engine
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("COLUMNS", "200")
    migrate(engine)
    return engine


def _conv(cid: str, text: str = "Where is my order?", **extra: object) -> dict:
    return {"id": cid, "messages": [{"role": "user", "text": text}, {"role": "agent", "text": "Here."}], **extra}


def _import(path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", str(path), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _stored(engine: Engine) -> dict[str, tuple[Conversation, list[str], list[dict]]]:
    with session_scope(make_session_factory(engine)) as s:
        return {c.external_id: (c, [m.text for m in c.messages], [m.meta for m in c.messages])
                for c in s.scalars(select(Conversation))}


def test_unstorable_characters_and_numbers_are_cleaned_and_counted(db: Engine, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps(_conv("plain")),
        json.dumps(_conv("nul-text", f"{SECRET}\x00 there")),
        json.dumps(_conv("nul-meta", metadata={"tag": "a\x00b", "n\x00k": 1})),  # today: PostgreSQL dies
        '{"id": "huge", "metadata": {"score": 1e400, "list": [NaN, -Infinity, 2]}, "messages": '
        '[{"role": "user", "text": "q", "metadata": {"x": Infinity}}]}',
        '{"id": "surrogate", "messages": [{"role": "user", "text": "half \\ud83d pair"}]}',
        json.dumps(_conv("csat-nan", metadata={"csat": "NaN"})),
        json.dumps(_conv("after")),
    ]
    path.write_text("\n".join(lines) + "\n")

    code, output = _import(path)

    assert code == 0, output  # nothing was dropped
    assert "Imported 7 conversations" in output
    assert "5 conversations had values the database cannot store cleaned" in output
    assert "line 2: 1 value(s) with NUL characters removed" in output
    stored = _stored(db)
    assert set(stored) == {"plain", "nul-text", "nul-meta", "huge", "surrogate", "csat-nan", "after"}
    assert stored["nul-text"][1][0] == f"{SECRET} there"
    assert stored["nul-meta"][0].meta == {"tag": "ab", "nk": 1}
    assert stored["huge"][0].meta == {"score": None, "list": [None, None, 2]}
    assert stored["huge"][2] == [{"x": None}]
    assert stored["surrogate"][1] == ["half \ufffd pair"]
    assert stored["csat-nan"][0].csat is None
    assert SECRET not in output and SECRET not in caplog.text
    assert _import(path)[1].count("Imported 0 conversations") == 1  # cleaning is stable: a re-import skips all


def test_a_row_the_database_refuses_costs_only_itself(db: Engine, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A value only the database objects to (here a rule added to the table) fails its batch; the importer
    retries one conversation at a time, keeps the neighbours and reports the line. No traceback."""
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE conversations ADD CONSTRAINT refuse_poison "
                              "CHECK (external_id <> 'poison')"))
        else:
            conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON conversations "
                              "WHEN NEW.external_id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "in.jsonl"
    ids = ["c1", "c2", "poison", "c4", "c5", "c6"]
    path.write_text("".join(json.dumps(_conv(cid, SECRET)) + "\n" for cid in ids))

    code, output = _import(path)

    assert code == 3, output  # some lines were bad, the rest is kept
    assert "Imported 5 conversations (10 messages); 0 already present." in output
    assert "line 3: the database refused conversation 'poison'" in output
    assert "Traceback" not in output
    assert set(_stored(db)) == {"c1", "c2", "c4", "c5", "c6"}
    with session_scope(make_session_factory(db)) as s:
        assert s.scalar(select(func.count(Message.id))) == 10  # no orphan messages from the failed batch
    assert SECRET not in caplog.text and "import batch refused" in caplog.text

    code, output = _import(path)  # a retry: the good ones are skipped, the bad one is reported again
    assert code == 3 and "Imported 0 conversations (0 messages); 5 already present." in output


def test_csv_with_nul_and_bad_bytes_keeps_its_conversations(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"conversation_id,role,text,csat\n"
                     b"a,user,caf\xe9 au lait,\n"
                     b"a,agent,ok\x00 then,inf\n"
                     b"b,user,fine,4\n")

    code, output = _import(path)

    assert code == 0, output
    stored = _stored(db)
    assert stored["a"][1] == ["caf\ufffd au lait", "ok then"] and stored["a"][0].csat is None
    assert stored["b"][0].csat == 4.0
    assert "line 2: bytes that are not UTF-8 were replaced" in output
