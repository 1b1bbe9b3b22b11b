"""End to end, against the fake Zendesk Help Center: sync the help centre, flag a gap whose outline names the
synced article, the docs team edits the article there meanwhile, and the draft is published as an update IN
PLACE (one article there, a new version here) with the article's other facts and that edit intact; nothing
internal reaches the help centre. Also: an edit on the same lines is a conflict (nothing published), a person
can choose the article a draft updates, or a new article, on the CLI, and a synced Markdown file that cannot be read
at publish (mid-edit) refuses the publish, on the CLI and in the thread, instead of being written over."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import PublishError
from bot.kb.sync import sync
from bot.kb.sync_markdown import MarkdownFolder
from bot.kb.sync_merge import UpdateConflict
from bot.publishers.markdown import MarkdownPublisher
from bot.services import Services, authoring, gaps, publishing
from bot.services.conversations import resolve
from bot.settings import Settings
from handlers.ids import ActionId
from storage.models import Article, Draft
from tests.handlers import conftest as scenario
from tests.kb.test_markdown_hostile import deny_open
from tests.support.cli import cli_env, run
from tests.support.external_kbs import external_kb, publisher, reader
from tests.support.external_kbs import settings as connector_settings
from tests.support.factories import REFUND_FACT, conversation, load
from tests.support.harness import REVIEW, texts
from tests.support.harness import SECRET as SLACK_SECRET

harness, slack, world = scenario.harness, scenario.slack, scenario.world  # fixtures of the Slack scenario tests
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
ARTICLE_HTML = ("<p>How long a refund to your credit card takes depends on when the returned item arrives.</p>"
                "<p>Refunds always go back to the card you paid with.</p>"
                "<h2>Contact</h2><p>Call the billing team on weekdays.</p>")
DOCS_EDIT = "<p>Refunds always go back to the card you paid with, never to a gift card.</p>"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The Slack scenario's settings (tests/handlers/conftest.py), publishing as tests/conftest.py has it."""
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}",  # type: ignore[call-arg]
                    slack_signing_secret=SLACK_SECRET, slack_bot_token="xoxb-test", review_channel=REVIEW,
                    digest_size=2, publish_requires_test=False, verify_backoff=0)


@pytest.fixture
def svc(services: Services) -> Services:
    services.settings = services.settings.model_copy(update={"publish_on_fail": "keep"})
    services.integrations = connector_settings()
    return services


def flag_and_draft(svc: Services, tmp_path: Path, kb) -> tuple[int, int]:
    """Sync, flag the refund gap: its outline names the synced article; the draft is that article plus the fact."""
    sync(svc.kb, svc.session, reader("zendesk"), clock=lambda: NOW)
    load(svc, tmp_path, [conversation("c101", gap=True)])
    gap_id = gaps.flag(svc, conversation_id=resolve(svc, "c101"), user="UANA").gap_id
    assert gap_id is not None
    outline = authoring.suggest_outline(svc, gap_id=gap_id, user="UANA")
    with svc.session() as s:
        article = s.scalar(select(Article).where(Article.external_source == "zendesk"))
        assert article is not None and outline.update_article_ids == [article.id]  # the synced article is named
        article_id = article.id
    draft = authoring.write_draft(svc, gap_id=gap_id, user="UANA")
    assert draft.target_article_id == article_id and draft.title == "Refunds to your card"  # its title, kept
    assert "Refunds always go back to the card you paid with." in draft.body and REFUND_FACT in draft.body
    return gap_id, article_id


def test_a_synced_article_is_updated_in_place_keeping_its_facts_and_the_docs_teams_edit(svc, tmp_path) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML, label_names=["billing"])
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        body = kb.articles[ext]["body"]
        kb.edit(ext, body=body.replace("<p>Refunds always go back to the card you paid with.</p>", DOCS_EDIT))
        svc.publisher = publisher("zendesk")
        out = publishing.publish(svc, gap_id=gap_id, user="UANA")
        live = kb.articles[ext]
        sent = [r for r in kb.requests if r[0] in ("POST", "PUT")]
    assert out.article_id == article_id and kb.creates == 0 and len(kb.articles) == 1  # in place, never a second
    assert live["title"] == "Refunds to your card"
    assert "never to a gift card" in live["body"]  # the docs team's edit, kept
    assert "Call the billing team on weekdays." in live["body"]  # the article's other facts, kept
    assert "5 business days" in live["body"]  # and the change
    assert "billing" in live["label_names"]
    for _, _, payload in sent:  # nothing internal reached the help centre
        text = str(payload)
        assert "offline provider" not in text and "conversation c101" not in text and "Sources" not in text
    with svc.session() as s:
        article = s.get(Article, article_id)
        assert article is not None and article.external_id == ext and "never to a gift card" in article.body
        assert article.external_revision == live["updated_at"]  # our own update is not taken for theirs
        assert [v.author for v in article.versions] == ["sync:zendesk", "sync:zendesk", "UANA"]


def test_an_edit_on_the_same_lines_is_a_conflict_and_nothing_is_published(svc, tmp_path) -> None:
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML)
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        with svc.session() as s:  # the draft rewrites the first line; so does the docs team
            draft = s.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))
            assert draft is not None
            draft.body = draft.body.replace("depends on when", "is 5 business days after")
        kb.edit(ext, body=ARTICLE_HTML.replace("depends on when", "is 10 days after"))
        svc.publisher = publisher("zendesk")
        with pytest.raises(UpdateConflict, match="edited in the help centre") as err:
            publishing.publish(svc, gap_id=gap_id, user="UANA")
        assert "is 10 days after" in kb.articles[ext]["body"] and kb.creates == 0
    assert err.value.conflicts and "is 10 days after" in " ".join(err.value.conflicts[0].theirs)
    with svc.session() as s:  # the help centre's text is the latest version here: redraft from it
        assert "is 10 days after" in (s.get(Article, article_id).body or "")


def test_an_edit_a_sync_already_brought_in_is_still_kept_at_publish(svc, tmp_path) -> None:
    """The docs team edits the article, the scheduled sync stores it, then the (older) draft is published: it is
    merged with their edit, never published over it."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML, label_names=["billing"])
        gap_id, article_id = flag_and_draft(svc, tmp_path, kb)
        body = kb.articles[ext]["body"]
        kb.edit(ext, body=body.replace("<p>Refunds always go back to the card you paid with.</p>", DOCS_EDIT))
        sync(svc.kb, svc.session, reader("zendesk"), clock=lambda: NOW + dt.timedelta(hours=1))
        svc.publisher = publisher("zendesk")
        publishing.publish(svc, gap_id=gap_id, user="UANA")
        live = kb.articles[ext]
    assert "never to a gift card" in live["body"] and "5 business days" in live["body"]
    assert "Call the billing team on weekdays." in live["body"]


def test_publishing_the_same_draft_after_a_conflict_is_refused_again(svc, tmp_path) -> None:
    """After a conflict their text is stored here: publishing the unchanged draft again must not overwrite it."""
    with external_kb("zendesk", now=lambda: 0.0) as kb:
        ext = kb.seed("Refunds to your card", ARTICLE_HTML)
        gap_id, _ = flag_and_draft(svc, tmp_path, kb)
        with svc.session() as s:
            draft = s.scalar(select(Draft).where(Draft.gap_id == gap_id).order_by(Draft.id.desc()))
            assert draft is not None
            draft.body = draft.body.replace("depends on when", "is 5 business days after")
        kb.edit(ext, body=ARTICLE_HTML.replace("depends on when", "is 10 days after"))
        svc.publisher = publisher("zendesk")
        for _ in range(2):
            with pytest.raises(UpdateConflict):
                publishing.publish(svc, gap_id=gap_id, user="UANA")
        assert "is 10 days after" in kb.articles[ext]["body"] and kb.creates == 0


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def test_a_person_chooses_the_article_a_draft_updates_or_a_new_one(env: Path) -> None:
    data = env / "c.jsonl"
    data.write_text(__import__("json").dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    (env / "kb").mkdir()
    (env / "kb" / "orders.md").write_text("---\ntitle: Order status\nslug: order-status\n---\nOpen Orders.\n")
    run("kb", "import", str(env / "kb"))
    run("gaps", "flag", "c1")
    run("draft", "1")
    assert "updates article #1" in run("gaps", "target", "1", "--article", "order-status")
    assert "Open Orders." in run("draft", "1")  # the draft now starts from the chosen article
    assert "is a new article" in run("gaps", "target", "1", "--new")
    assert "Open Orders." not in run("draft", "1")
    run("gaps", "target", "1", code=2)  # neither --article nor --new


ARTICLE_MD = ("---\ntitle: Refunds to your card\n---\nHow long a refund to your credit card takes depends on when the "
              "returned item arrives.\n\nRefunds always go back to the card you paid with.\n")
MID_EDIT = "---\ntitle: [Refunds to your card\n---\nHalf-written: refunds take 10 days.\n"  # front matter not closed


@pytest.fixture
def docs(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The team's Markdown folder, synced and published to (the same folder, as a docs repository is)."""
    folder = env / "docs"
    folder.mkdir()
    for name, value in {"FLYWHEEL_KB_SYNC_DIR": folder, "FLYWHEEL_PUBLISHER": "markdown",
                        "FLYWHEEL_MARKDOWN_DIR": folder, "FLYWHEEL_MARKDOWN_GIT_COMMIT": "false"}.items():
        monkeypatch.setenv(name, str(value))
    (folder / "refunds.md").write_text(ARTICLE_MD, encoding="utf-8")
    data = env / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    run("import", str(data))
    assert "created 1," in run("kb", "sync", "markdown")
    run("gaps", "flag", "c1")
    assert "updates article #1" in run("gaps", "target", "1", "--article", "refunds-to-your-card")
    assert "Refunds always go back" in run("draft", "1")  # the update: the article plus the change
    return folder


@pytest.mark.parametrize("why", ["mid-edit", "permission denied"])
def test_a_markdown_file_unreadable_at_publish_is_never_overwritten(docs: Path, why: str) -> None:
    """A person is mid-edit (the front matter is broken), or the file system refuses the file: the publish is refused
    with the reason and the file is left as it is; once it reads again, the publish goes through, their edit kept."""
    with pytest.MonkeyPatch.context() as patch:
        if why == "mid-edit":
            (docs / "refunds.md").write_text(MID_EDIT, encoding="utf-8")
        else:
            deny_open(patch, "refunds.md")
        before = (docs / "refunds.md").read_bytes()
        with pytest.raises(PublishError) as refused:  # main() prints it and exits 1
            run("publish", "1", "--anyway", "docs test")  # before: "Published article #1 v2", over their file
    reason = "(invalid YAML front matter (line 2, column 29))" if why == "mid-edit" else "(permission denied)"
    assert f"nothing was published: refunds.md is in the folder but cannot be read right now {reason}; it was " \
           "left as it is" in refused.value.message
    assert (docs / "refunds.md").read_bytes() == before and "Half-written" not in run("kb", "list")
    assert "drafting" in run("gaps", "show", "1")
    (docs / "refunds.md").write_text(ARTICLE_MD.replace("you paid with.", "you paid with, never a gift card."),
                                     encoding="utf-8")
    assert "Published article #1 v3" in run("publish", "1", "--anyway", "docs test")
    text = (docs / "refunds.md").read_text(encoding="utf-8")
    assert "never a gift card" in text and REFUND_FACT in text  # their edit and the change


def test_the_publish_button_shows_why_an_unreadable_markdown_file_was_not_published(harness, world, tmp_path) -> None:
    """The same refusal from Slack: the thread shows the file and the reason in place of the placeholder, with a
    retry, and the file a person is editing is left as it is."""
    svc, folder = harness.services, tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.md").write_text(ARTICLE_MD, encoding="utf-8")
    svc.settings = svc.settings.model_copy(update={"kb_sync_dir": folder})
    svc.publisher = MarkdownPublisher(folder, git_commit=False)
    sync(svc.kb, svc.session, MarkdownFolder(folder), clock=svc.clock)
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    with svc.session() as s:
        assert s.scalars(select(Draft)).one().target_article_id is not None  # an update of the synced file
    (folder / "refunds.md").write_text(MID_EDIT, encoding="utf-8")
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    shown = texts(harness.thread_with(item, "cannot be read right now"))
    assert "nothing was published: refunds.md is in the folder but cannot be read right now (invalid YAML" in shown
    assert "Retry" in shown  # publishing again once the file reads goes through (the CLI test above)
    harness.drain()
    assert (folder / "refunds.md").read_text(encoding="utf-8") == MID_EDIT  # before: written over
