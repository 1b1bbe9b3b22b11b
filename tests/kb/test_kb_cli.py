"""`flywheel kb search --conversations FILE --json` and `flywheel kb import` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cli_env, run


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):  # type: ignore[no-untyped-def]
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def _kb(folder: Path) -> Path:
    folder.mkdir()
    (folder / "wifi.md").write_text("---\ntitle: 'Harbour Inn: Wifi'\nslug: harbour-wifi\n---\n\n"
                                    "Wifi costs 5 dollars a day at the Harbour Inn.\n", encoding="utf-8")
    (folder / "grand.md").write_text("---\ntitle: 'Grand Hotel: Wifi'\nslug: grand-wifi\n---\n\n"
                                     "Free wifi in every room of the Grand Hotel.\n", encoding="utf-8")
    (folder / "refunds.md").write_text("# Refund policy\n\nRefunds reach your card within 5 business days.\n",
                                       encoding="utf-8")
    return folder


def test_import_keeps_the_front_matter_slug(env: Path) -> None:
    run("kb", "import", str(_kb(env / "kb")))
    listing = run("kb", "list")
    assert "harbour-wifi" in listing and "grand-wifi" in listing and "refunds" in listing  # file name without one
    out = json.loads(run("kb", "search", "harbour wifi", "--json"))
    assert out["results"][0]["slug"] == "harbour-wifi"


def test_search_ranks_articles_for_each_conversation_as_json_lines(env: Path) -> None:
    run("kb", "import", str(_kb(env / "kb")))
    lines = [
        {"id": "c1", "messages": [{"role": "customer", "text": "I booked the Harbour Inn."},
                                  {"role": "assistant", "text": "How can I help?"},
                                  {"role": "user", "text": "Do they have wifi?"}]},
        {"id": "c2", "messages": [{"role": "user", "text": "When do I get my refund?"}]},
    ]
    data = env / "convs.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n\nnot json\n", encoding="utf-8")
    output = run("kb", "search", "--conversations", str(data), "--k", "2", "--json", code=3)  # one bad line
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert [r.get("id") for r in rows] == ["c1", "c2", None]
    first = rows[0]
    assert first["line"] == 1 and [r["slug"] for r in first["results"]] == ["harbour-wifi", "grand-wifi"]
    assert set(first["results"][0]) == {"rank", "slug", "id", "title", "score"}
    assert first["results"][0]["score"] > first["results"][1]["score"]
    assert [r["slug"] for r in rows[1]["results"]] == ["refunds"]
    assert rows[2]["line"] == 4 and "invalid JSON" in rows[2]["error"]


def test_search_needs_a_query_or_conversations(env: Path) -> None:
    assert "--conversations" in run("kb", "search", code=2)


def test_a_japanese_article_survives_publish_import_export_import(env: Path) -> None:
    from bot.publishers import ArticleToPublish
    from bot.publishers.markdown import MarkdownPublisher

    published = env / "published"
    MarkdownPublisher(published, git_commit=False).publish(ArticleToPublish(
        slug="返金にかかる日数は", title="返金にかかる日数は？", body="返金は5営業日以内にカードに戻ります。"))
    (published / "配送の日数.md").write_text("# 配送\n\n3日で届きます。\n", encoding="utf-8")  # no front matter
    assert {p.name for p in published.glob("*.md")} == {"返金にかかる日数は.md", "配送の日数.md"}
    assert "created 2" in run("kb", "import", str(published))
    listing = run("kb", "list")
    assert "返金にかかる日数は" in listing and "配送の日数" in listing  # the slugs, not article-N
    exported = env / "exported"
    run("kb", "export", str(exported))
    assert {p.name for p in exported.glob("*.md")} == {"返金にかかる日数は.md", "配送の日数.md"}
    again = run("kb", "import", str(exported))
    assert "created 0, updated 0, unchanged 2" in again  # the same two articles, nothing new
    out = json.loads(run("kb", "search", "返金 日数", "--json"))
    assert out["results"][0]["slug"] == "返金にかかる日数は"


@pytest.mark.parametrize("slug", ["../x", ".hidden", "-x", "_x", "a.b", "a b", "a\\b", "x" * 201])
def test_import_still_refuses_a_slug_that_is_no_file_name(env: Path, slug: str) -> None:
    folder = env / "kb"
    folder.mkdir()
    (folder / "a.md").write_text(f"---\ntitle: A\nslug: {json.dumps(slug)}\n---\n\nBody.\n", encoding="utf-8")
    output = run("kb", "import", str(folder), code=3)
    assert "the slug must be" in output and "created 0" in output


def test_import_leaves_draft_and_archived_files_out(env: Path) -> None:
    """`kb import` took `draft: true` files live (the agent answered from an unreleased page); `kb sync` did not."""
    folder = env / "docs"
    folder.mkdir()
    for name, flag in {"live": "", "quoted-false": 'draft: "false"\n', "draft": "draft: true\n",
                       "old": "archived: yes\n", "unsure": "draft: maybe\n"}.items():
        text = f"---\ntitle: Wifi {name}\n{flag}---\n\nWifi text {name}.\n"
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    out = " ".join(run("kb", "import", str(folder), code=3).split())
    assert "created 2," in out and "left out 2 draft or archived: draft.md, old.md" in out
    assert "unsure.md: draft must be true or false" in out
    listed = run("kb", "list")
    assert "Wifi live" in listed and "Wifi quoted-false" in listed
    assert "Wifi draft" not in listed and "Wifi old" not in listed and "Wifi unsure" not in listed
