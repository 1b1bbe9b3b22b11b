"""`flywheel kb history / diff / rollback` through the CLI: versions kept, a readable diff, a rollback that
is a new version (audited), and an external publisher (a Markdown folder) updating the same article."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.cli_common import services as cli_services
from storage.models import Article, ArticleVersion, AuditEvent
from tests.support.cli import cli_env, run

V1 = "Refunds are issued within 14 days."
V2 = "Refunds take 30 days."


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)




def fails(capsys, monkeypatch, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["flywheel", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    return capsys.readouterr().err


def two_versions(env: Path) -> None:
    (env / "v1.md").write_text(V1)
    (env / "v2.md").write_text(V2)
    assert "v1" in run("kb", "add", "Refund policy", str(env / "v1.md"), "--tags", "billing", "--user", "U1")
    assert "v2" in run("kb", "add", "Refund policy", str(env / "v2.md"), "--tags", "billing", "--user", "U2")


def test_history_diff_and_rollback(env: Path, capsys, monkeypatch) -> None:
    two_versions(env)
    out = run("kb", "history", "refund-policy")
    assert "v1" in out and "v2" in out and "U1" in out and "U2" in out and "current" in out

    out = run("kb", "diff", "1", "1", "2")
    assert f"-{V1}" in out and f"+{V2}" in out and "--- v1" in out and "+++ v2" in out
    assert "are the same" in run("kb", "diff", "1", "2", "2")

    assert "No matching articles" in run("kb", "search", "issued")
    out = run("kb", "rollback", "1", "1", "--reason", "30 days is wrong", "--user", "U3")
    assert "rolled back to the text of v1: now v3" in out
    svc = cli_services()
    with svc.session() as s:
        article = s.get(Article, 1)
        assert article is not None and (article.version, article.body, article.tags) == (3, V1, ["billing"])
        v3 = s.scalars(select(ArticleVersion).where(ArticleVersion.version == 3)).one()
        assert (v3.reverted_from, v3.author, v3.body) == (1, "U3", V1)
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "article")).one()
        assert (event.entity_id, event.actor) == (1, "U3")
        assert event.detail["reason"] == "30 days is wrong" and event.detail["to_version"] == 1
    assert "rollback to v1" in run("kb", "history", "1")
    assert "Refund policy" in run("kb", "search", "issued")  # the search index has v1's words again

    err = fails(capsys, monkeypatch, "kb", "rollback", "1", "1")
    assert "Version 1 of article #1 is its current text" in err
    err = fails(capsys, monkeypatch, "kb", "diff", "1", "1", "9")
    assert "has no version 9" in err and "kb history 1" in err
    err = fails(capsys, monkeypatch, "kb", "history", "nope")
    assert "No article nope" in err


def test_rollback_updates_the_same_external_article(env: Path, monkeypatch) -> None:
    folder = env / "team-kb"
    monkeypatch.setenv("FLYWHEEL_PUBLISHER", "markdown")
    monkeypatch.setenv("FLYWHEEL_MARKDOWN_DIR", str(folder))
    monkeypatch.setenv("FLYWHEEL_MARKDOWN_GIT_COMMIT", "false")
    two_versions(env)
    svc = cli_services()
    with svc.session() as s:  # as published before: the external receipt is on the article
        article = s.get(Article, 1)
        assert article is not None
        article.external_id, article.external_url = "refunds.md", str(folder / "refunds.md")
    out = run("kb", "rollback", "1", "1", "--user", "U3")
    assert f"the team's KB too: {folder / 'refunds.md'}" in out
    assert [p.name for p in folder.iterdir()] == ["refunds.md"]  # the same file, no second article
    text = (folder / "refunds.md").read_text()
    assert V1 in text and V2 not in text and "version: 3" in text
    with cli_services().session() as s:
        v3 = s.scalars(select(ArticleVersion).where(ArticleVersion.version == 3)).one()
        assert v3.external_id == "refunds.md"
