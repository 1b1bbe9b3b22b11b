"""`flywheel publish` makes the same service call as Slack's Publish button (`authoring.publish_or_verify`):
a gap that is already published (its verdict was lost) is verified again instead of being published twice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from bot.cli import app, main
from bot.errors import LLMError
from bot.llm.offline import OfflineLLM
from storage.models import Article, AuditEvent, Gap
from tests.support.cli import cli_env
from tests.support.factories import conversation

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):  # type: ignore[no-untyped-def]
    url = db_url_engine[0]
    cli_env(tmp_path, monkeypatch, db_url_engine)
    return url


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """Run `flywheel ARGS` through the console entry point (`bot.cli.main`, which turns a FlywheelError into
    its message and exit code 1); return what it printed."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["flywheel", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    return captured.out + captured.err


def drafted_gap(tmp: Path) -> None:
    data = tmp / "convs.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    assert "Opened gap #1" in run("gaps", "flag", "c1", "--user", "U1")
    run("draft", "1", "--user", "U1")


def facts(url: str) -> tuple[str, int, int]:
    """(gap state, articles, times the gap was published) straight from the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            state = c.scalar(select(Gap.state).where(Gap.id == 1))
            articles = c.scalar(select(func.count()).select_from(Article))
            published = c.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.entity == "gap", AuditEvent.entity_id == 1, AuditEvent.to_state == "published"))
            return str(state), int(articles or 0), int(published or 0)
    finally:
        engine.dispose()


def test_publish_again_after_a_lost_verdict_verifies_instead(env: str, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    drafted_gap(tmp_path)

    def judge_fails(self, request):  # type: ignore[no-untyped-def]
        raise LLMError("The model timed out; nothing was changed.")

    with monkeypatch.context() as m:
        m.setattr(OfflineLLM, "judge", judge_fails)
        result = runner.invoke(app, ["publish", "1", "--user", "U1"])
    out = " ".join(result.output.split())
    assert result.exit_code == 5, result.output  # published, no verdict yet: not 0, not a FAIL (4)
    assert "Published article #" in out and "Published, verification pending" in out and "timed out" in out
    assert "is verified by itself" in out and "Traceback" not in out
    state, articles, published = facts(env)
    assert state == "published" and published == 1  # the article is live, the verdict is pending

    out = run("publish", "1", "--user", "U1")  # the model is back
    assert "already published" in out and "verified it again instead" in out
    assert "PASS" in out and "is now verified" in out and "Published article" not in out
    assert facts(env) == ("verified", articles, 1)  # not published twice: no new article, one publish

    out = fails(capsys, monkeypatch, "publish", "1", "--user", "U1")
    assert "Gap #1 is verified; it cannot move to publishing." in out
    assert facts(env) == ("verified", articles, 1)


def test_publish_refuses_a_dismissed_gap(env: str, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    drafted_gap(tmp_path)
    run("gaps", "dismiss", "1", "--user", "U1")
    out = fails(capsys, monkeypatch, "publish", "1", "--user", "U1")
    assert "Gap #1 is dismissed; it cannot move to publishing." in out and "gaps reopen" in out
    assert facts(env)[0] == "dismissed" and facts(env)[2] == 0
