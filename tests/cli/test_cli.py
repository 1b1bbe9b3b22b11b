"""The CLI is the real entry point: drive the loop through `flywheel ...` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.support.cli import cli_env, run
from tests.support.factories import REFUND_FACT, conversation

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):  # type: ignore[no-untyped-def]
    return cli_env(tmp_path, monkeypatch, db_url_engine)




def test_whole_loop_through_the_cli(env: Path) -> None:
    data = env / "convs.jsonl"
    data.write_text("\n".join(json.dumps(c) for c in [conversation("c1", gap=True), conversation("c2")]) + "\n")
    assert "Imported 2 conversations" in run("import", str(data))
    assert "Imported 0 conversations" in run("import", str(data))  # idempotent
    kb = env / "kb"
    kb.mkdir()
    (kb / "orders.md").write_text("---\ntitle: Order status\n---\nOpen Orders in your account to see each order.\n")
    assert "created 1" in run("kb", "import", str(kb))
    out = run("sample", "--day", "2026-11-24", "--size", "2")
    assert "c1" in out and "escalated" in out
    assert "Opened gap #1" in run("gaps", "flag", "c1", "--user", "U1")
    assert "5 business days" in run("outline", "1")
    run("gaps", "note", "1", "Store credit refunds are instant.", "--user", "U2")
    assert "Store credit refunds are instant." in run("draft", "1")
    assert "PASS" in run("replay", "--gap", "1", "--shadow")
    out = run("publish", "1", "--user", "U1")
    assert "PASS" in out and "verified" in out and "don't have information" in out
    assert "1/1 passing" in run("regress")
    assert "Refund to Credit Card" in run("kb", "search", "credit card refund")  # the topic, as the title
    stats = json.loads(run("stats", "--json"))
    assert stats["weeks"][-1]["verified"] == 1 and stats["weeks"][-1]["flagged"] == 1
    run("stats", "--chart", str(env / "chart.png"))
    assert (env / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "verified" in run("gaps", "show", "1")
    exported = env / "export"
    run("kb", "export", str(exported))
    assert len(list(exported.glob("*.md"))) == 2


def test_bad_input_gives_clear_errors_and_exit_codes(env: Path) -> None:
    data = env / "mixed.jsonl"
    good = json.dumps(conversation("ok1"))
    data.write_bytes(f"{good}\n{{not json\n".encode() + b"\xff\xfe\n")
    out = run("import", str(data), code=3)
    assert "Imported 1 conversations" in out and "line 2" in out and "line 3" in out
    result = runner.invoke(app, ["publish", "42"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["import", str(env / "missing.jsonl")])
    assert result.exit_code != 0


def test_errors_reach_the_user_through_main(env: Path, capsys, monkeypatch) -> None:
    import sys

    from bot.cli import main

    monkeypatch.setattr(sys, "argv", ["flywheel", "publish", "42"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    assert "No gap #42" in capsys.readouterr().err


def test_illegal_transition_message(env: Path) -> None:
    data = env / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    run("gaps", "flag", "c1")
    run("gaps", "dismiss", "1")
    from bot.cli import main  # noqa: F401  (main maps FlywheelError to exit code 1)
    from bot.errors import IllegalTransition

    with pytest.raises(IllegalTransition, match="dismissed"):
        runner.invoke(app, ["publish", "1"], catch_exceptions=False)


def test_demo_runs_the_loop_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = run("demo", "--workdir", str(tmp_path / "demo"))
    assert "Verdict: PASS" in out and "Loop closed" in out and "verified" in out
    # The whole replay is judged: the draft first took over an earlier answer, about the blue cart (issue 13).
    assert "NOT A CLEAN PASS" in out and "I also see a Blue Recycling Cart" in out
    assert "Published article #64 v1: Missed Collection of Garbage Service" in out  # a topic, not the question
    assert "don't have information" in out  # the before answer
    assert (tmp_path / "demo" / "stats.png").exists()
    assert REFUND_FACT not in out  # bundled data, not test data
