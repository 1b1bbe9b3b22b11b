"""`flywheel verdict override` and `flywheel eval judge --export`, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.support.cli import cli_env, run
from tests.support.factories import conversation

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):  # type: ignore[no-untyped-def]
    return cli_env(tmp_path, monkeypatch, db_url_engine)




def test_override_then_export_the_disagreement(env: Path) -> None:
    data = env / "convs.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    run("gaps", "flag", "c1", "--user", "U1")
    run("outline", "1")
    run("draft", "1")
    out = run("replay", "--gap", "1", "--shadow")
    assert "Shadow test (nothing published): Verdict: PASS" in out and "run 1" in out
    assert "No verdict has been reviewed" in run("eval", "judge")

    out = run("verdict", "override", "1", "--verdict", "fail", "--reason", "It misses the email notice.")
    assert "Overruled the judge on run 1: judge pass, you fail." in out and "stays drafting" in out
    assert "0/1 reviewed verdicts" in run("stats")
    target = env / "disagreements.jsonl"
    assert "Wrote 1 disagreement to" in run("eval", "judge", "--export", str(target))
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1 and rows[0]["human_reason"] == "It misses the email notice."
    assert (rows[0]["judge_verdict"], rows[0]["human_verdict"], rows[0]["kind"]) == ("pass", "fail", "shadow")


def test_override_errors_are_clear(env: Path) -> None:
    result = runner.invoke(app, ["verdict", "override", "7", "--verdict", "fail", "--reason", "x"])
    assert result.exit_code != 0 and "No replay run 7" in str(result.exception or result.output)
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == 2 and "--data FILE" in result.output
