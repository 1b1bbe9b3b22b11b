"""`flywheel topics / recurrences / credit / trend` on the known world (see world.py), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import InvalidInput
from tests.support.world import NOW

runner = CliRunner()


@pytest.fixture
def cli(world, db_url_engine, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    url, _engine = db_url_engine
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("bot.services._utcnow", lambda: NOW)  # the CLI's clock
    monkeypatch.chdir(tmp_path)
    return world


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_topics_json_and_text(cli) -> None:
    g = cli.gap
    topics = json.loads(run("topics", "--json"))
    assert [t["id"] for t in topics] == [g["p1"], g["r1"], g["s1"], g["d1"]]
    assert [(t["conversations_touching"], t["went_wrong"], t["impact"]) for t in topics] == [
        (8, 6, 14), (8, 5, 13), (4, 4, 8), (1, 1, 2)]
    assert topics[0]["open_gap_ids"] == [g["p2"]] and topics[0]["gap_ids"] == [g["p1"], g["p2"]]
    recent = json.loads(run("topics", "--days", "10", "--json"))
    assert [t["id"] for t in recent] == [g["r1"], g["p1"], g["s1"], g["d1"]]
    text = run("topics")
    assert "Open topics by impact, last 28 days" in text and "password" in text
    assert text.index("password") < text.index("refund") < text.index("shipping") < text.index("delete")


def test_recurrences_are_printed_once(cli) -> None:
    out = run("recurrences", "--since", "2026-11-01")
    assert "Linked 4 recurrences to fixed gaps" in out
    for ref in ("rr1", "rr2", "rr4", "pc1"):
        assert f"conversation {ref} " in out
    assert "rr3" not in out and "sb1" not in out
    assert "agent said it did not know" in out
    assert "No new recurrence" in run("recurrences", "--since", "2026-11-01")


def test_recurrences_json_and_default_window(cli) -> None:
    found = json.loads(run("recurrences", "--json"))  # the last 28 days
    assert [(r["gap_id"], r["conversation_ref"]) for r in found] == [
        (cli.gap["r1"], "rr1"), (cli.gap["r1"], "rr2"), (cli.gap["r1"], "rr4"), (cli.gap["p1"], "pc1")]
    assert json.loads(run("recurrences", "--json")) == []


def test_a_bad_date_is_refused(cli) -> None:
    result = runner.invoke(app, ["recurrences", "--since", "25/11/2026"])
    assert result.exit_code != 0 and isinstance(result.exception, InvalidInput)
    assert "YYYY-MM-DD" in result.exception.message
    assert runner.invoke(app, ["topics", "--days", "0"]).exit_code == 2  # typer refuses it


def test_credit_this_week(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    credit = json.loads(run("credit", "--json"))
    assert (credit["week_start"], credit["week_end"]) == ("2026-11-23", "2026-11-30")
    assert [(p["user"], p["reviewed"], p["flagged"], p["drafted"], p["fixed"], p["total"]) for p in credit["people"]] \
        == [("ann", 2, 2, 2, 1, 7), ("bob", 1, 2, 1, 1, 5), ("dan", 1, 2, 1, 1, 5), ("cat", 0, 1, 0, 0, 1)]
    assert credit["team"]["total"] == 18
    assert credit["streak"] == {"days": 3, "start": "2026-11-23", "end": "2026-11-25", "today_done": True}
    monkeypatch.setenv("FLYWHEEL_CREDIT_OPT_OUT", "cat,bob")
    text = run("credit")
    assert "ann" in text and "dan" in text and "bob" not in text and "cat" not in text
    assert "Streak: 3 days in a row" in text


def test_trend_text_json_and_chart(cli, tmp_path: Path) -> None:
    run("recurrences")
    weeks = json.loads(run("trend", "--weeks", "2", "--json"))["weeks"]
    assert [(w["label"], w["flagged"], w["verified"], w["recurrences"]) for w in weeks] == [
        ("2026-W47", 2, 1, 0), ("2026-W48", 6, 3, 4)]
    chart = tmp_path / "trend.png"
    out = run("trend", "--weeks", "4", "--chart", str(chart))
    assert "2026-W48: gap rate 33%" in out and "recurred 4" in out and "Chart written" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
