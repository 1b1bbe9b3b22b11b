"""The pieces of "updates never lose content" and of the scheduled sync: the three-way merge, the update draft
(the article plus the change), HTML from a help centre as Markdown, the job under its claim."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.integrations.html import html_to_markdown
from bot.jobs import kb_sync_job
from bot.kb.sync_merge import merge3
from bot.kb.sync_update import compose_update
from bot.services import Services

BASE = "# Refunds\n\nRefunds take 5 days.\n\nContact us by phone."


def test_merge_keeps_their_edit_and_applies_ours_or_reports_a_conflict() -> None:
    theirs = BASE.replace("by phone", "by phone or chat")
    merged = merge3(BASE, BASE + "\n\n## Store credit\n\nStore credit is instant.", theirs)
    assert not merged.conflicts and merged.theirs_changed
    assert merged.text == theirs + "\n\n## Store credit\n\nStore credit is instant."
    clash = merge3(BASE, BASE.replace("5 days", "3 days"), BASE.replace("5 days", "7 days"))
    assert [(c.ours, c.theirs) for c in clash.conflicts] == [(["Refunds take 3 days."], ["Refunds take 7 days."])]
    assert merge3(BASE, BASE.replace("5", "3"), BASE.replace("5", "3")).conflicts == []  # the same change twice


def test_an_update_draft_is_the_article_plus_the_change() -> None:
    title, body, tags = compose_update(title="Refunds", body=BASE, tags=["billing"], draft_title="Store credit",
                                       draft_body="Store credit is instant.", draft_tags=["credit"])
    assert title == "Refunds" and body == BASE + "\n\n## Store credit\n\nStore credit is instant."
    assert tags == ["billing", "credit"]
    whole = BASE.replace("5 days", "5 business days") + "\n\nStore credit is instant."
    assert compose_update(title="Refunds", body=BASE, tags=[], draft_title="x", draft_body=whole,
                          draft_tags=[])[1] == whole  # a model that returned the whole article is kept as is


def test_help_centre_html_becomes_markdown_not_visible_tags() -> None:
    html = ('<h2>Plans</h2><p>The <em>Pro</em> plan costs <strong>$10</strong>.</p><script>alert(1)</script>'
            '<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>10</td></tr></table>'
            '<p><img src="https://acme.test/p.png" alt="Plans"> <a href="https://acme.test/pricing">Pricing</a></p>')
    md = html_to_markdown(html)
    assert md.startswith("## Plans\n\nThe *Pro* plan costs **$10**.") and "alert" not in md
    assert "| Plan | Price |" in md and "![Plans](https://acme.test/p.png)" in md
    assert "[Pricing](https://acme.test/pricing)" in md and "<" not in md


def test_the_scheduled_sync_runs_once_per_tick(services: Services, tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "refunds.md").write_text("# Refund times\n\nRefunds take 5 days.\n")
    now = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    assert kb_sync_job(services, None, now=now) == 0  # type: ignore[arg-type]  # no source set: nothing runs
    services.settings = services.settings.model_copy(update={"kb_sync_source": "markdown",
                                                             "kb_sync_dir": tmp_path / "kb"})
    assert kb_sync_job(services, None, now=now) == 1  # type: ignore[arg-type]
    assert kb_sync_job(services, None, now=now) == 0  # type: ignore[arg-type]  # the same tick: claimed already
    assert [h.title for h in services.kb.search("refund days", 3)] == ["Refund times"]
