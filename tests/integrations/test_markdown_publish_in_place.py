"""A Markdown article synced from a subfolder of the docs repository is updated in place at publish: no second
file at the top of the folder (the next sync then saw a new article and withdrew nothing, so search held both),
and the front-matter keys the docs team set (`locale`, `description`, a site's own keys) are kept."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.cli import cli_env, run
from tests.support.factories import REFUND_FACT, conversation

ARTICLE = ("---\ntitle: Refunds to your card\nlocale: en\ndescription: How card refunds work\nsidebar_position: 3\n"
           "---\nHow long a refund to your credit card takes depends on when the returned item arrives.\n\n"
           "Refunds always go back to the card you paid with.\n")


@pytest.fixture
def docs(tmp_path, monkeypatch, db_url_engine) -> Path:
    env = cli_env(tmp_path, monkeypatch, db_url_engine)
    folder = env / "docs"
    (folder / "billing").mkdir(parents=True)
    for name, value in {"FLYWHEEL_KB_SYNC_DIR": folder, "FLYWHEEL_PUBLISHER": "markdown",
                        "FLYWHEEL_MARKDOWN_DIR": folder, "FLYWHEEL_MARKDOWN_GIT_COMMIT": "false"}.items():
        monkeypatch.setenv(name, str(value))
    (folder / "billing" / "refunds.md").write_text(ARTICLE, encoding="utf-8")
    data = env / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    assert "created 1," in run("kb", "sync", "markdown")
    run("gaps", "flag", "c1")
    assert "updates article #1" in run("gaps", "target", "1", "--article", "refunds-to-your-card")
    run("draft", "1")
    return folder


def test_a_synced_file_in_a_subfolder_is_updated_in_place_with_its_front_matter(docs: Path) -> None:
    assert "Published article #1 v2" in run("publish", "1", "--anyway", "docs test")
    assert sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md")) == ["billing/refunds.md"]
    text = (docs / "billing" / "refunds.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert (meta["locale"], meta["description"], meta["sidebar_position"]) == ("en", "How card refunds work", 3)
    assert meta["version"] == 2 and meta["title"] == "Refunds to your card"
    assert REFUND_FACT in text and "Refunds always go back to the card you paid with." in text
    again = run("kb", "sync", "markdown")
    assert "created 0," in again and "removed from search 0" in again


@pytest.mark.parametrize("external_id", ["../outside.md", "/etc/passwd.md", "billing/../../x.md", ".git/x.md"])
def test_a_stored_path_never_leads_outside_the_folder(external_id: str, tmp_path: Path) -> None:
    from bot.publishers import ArticleToPublish
    from bot.publishers.markdown import file_name

    article = ArticleToPublish(title="T", slug="refunds", body="b", tags=(), version=2, gap_id=1, author=None,
                               source_conversations=(), external_id=external_id)
    assert file_name(article) == "refunds.md"
