"""Publishers: the Markdown folder (+ git), the signed webhook, Zendesk Help Center, Intercom Articles, the registry."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import subprocess
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import responses

from bot.errors import ConfigError, PublishError
from bot.kb.markdown import parse_markdown
from bot.publishers import ArticleToPublish, BuiltinPublisher
from bot.publishers.intercom import IntercomPublisher
from bot.publishers.markdown import MarkdownPublisher
from bot.publishers.registry import build_publisher, load_publisher
from bot.publishers.webhook import WebhookPublisher, verify
from bot.publishers.zendesk import ZendeskPublisher
from tests.support.connectors import SECRET

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
ART = ArticleToPublish(slug="refund-times", title="Refund times", body="# Refunds\n\nRefunds take **5 business days**.",
                       tags=("billing",), gap_id=7, author="U1", source_conversations=("c1",))
ZD = "https://acme.zendesk.com"


def _v2(article: ArticleToPublish, external_id: str) -> ArticleToPublish:
    return ArticleToPublish(**{**article.__dict__, "external_id": external_id, "version": 2,
                               "body": article.body + "\n\nStore credit is instant."})


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout


def test_markdown_writes_front_matter_that_kb_import_reads(tmp_path: Path) -> None:
    receipt = MarkdownPublisher(tmp_path / "kb", clock=lambda: NOW).publish(ART)
    path = tmp_path / "kb" / "refund-times.md"
    assert receipt.external_id == "refund-times.md" and receipt.url == str(path.resolve())
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: Refund times\n")
    meta, body = parse_markdown(text, fallback_title="x")
    assert meta["title"] == "Refund times" and meta["version"] == 1 and meta["tags"] == ["billing"]
    assert meta["gap_id"] == 7 and meta["source_conversations"] == ["c1"] and "2026-11-21" in meta["updated_at"]
    assert body == ART.body
    assert not list((tmp_path / "kb").glob(".flywheel-*"))  # no temporary file left behind


def test_markdown_file_names_are_stable_and_stay_in_the_folder(tmp_path: Path) -> None:
    pub = MarkdownPublisher(tmp_path, base_url="https://docs.acme.test/kb/")
    first = pub.publish(ART)
    second = pub.publish(_v2(ART, first.external_id or ""))
    assert second.external_id == first.external_id == "refund-times.md"
    assert second.url == "https://docs.acme.test/kb/refund-times.md"
    assert "Store credit is instant." in (tmp_path / "refund-times.md").read_text()
    hostile = ArticleToPublish(slug="../../etc/passwd", title="x", body="y", external_id="../escape.md")
    assert pub.publish(hostile).external_id == "etc-passwd.md" and (tmp_path / "etc-passwd.md").exists()
    assert MarkdownPublisher(tmp_path, base_url="https://docs.acme.test/{slug}/").url("a.md", "a b") == \
        "https://docs.acme.test/a%20b/"


def test_markdown_commits_each_publish_in_a_git_folder(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "other.md").write_text("someone else's unstaged work")
    pub = MarkdownPublisher(tmp_path)
    first = pub.publish(ART)
    pub.publish(_v2(ART, first.external_id or ""))
    log = git(tmp_path, "log", "--format=%an <%ae>|%cn|%s")
    assert log.splitlines() == ["Flywheel <flywheel@localhost>|Flywheel|Update refund-times.md: Refund times",
                                "Flywheel <flywheel@localhost>|Flywheel|Add refund-times.md: Refund times"]
    assert git(tmp_path, "show", "--name-only", "--format=", "HEAD").split() == ["refund-times.md"]
    assert "?? other.md" in git(tmp_path, "status", "--porcelain")  # only its own file is committed


def test_markdown_git_off_or_failing(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    MarkdownPublisher(tmp_path, git_commit=False).publish(ART)
    assert subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True).returncode != 0
    hook = tmp_path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PublishError, match="git commit of refund-times.md failed") as exc:
        MarkdownPublisher(tmp_path).publish(ART)
    assert exc.value.retryable


def test_markdown_unwritable_folder_is_a_publish_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(PublishError, match="Cannot write refund-times.md"):
        MarkdownPublisher(tmp_path / "file" / "kb").publish(ART)


@responses.activate
def test_webhook_is_signed_and_verifiable(conf) -> None:
    url = "https://hooks.example/flywheel"
    responses.add(responses.POST, url, status=503)
    responses.add(responses.POST, url, status=204)
    ticks = iter([1_800_000_000, 1_800_000_003])
    pub = WebhookPublisher.from_settings(conf(webhook_url=url, webhook_secret=SECRET), sleep=lambda s: None,
                                         clock=lambda: next(ticks))
    receipt = pub.publish(ART)
    assert receipt.external_id is None and receipt.url is None
    first, second = (c.request for c in responses.calls)
    assert [r.headers["X-Flywheel-Timestamp"] for r in (first, second)] == ["1800000000", "1800000003"]
    for req in (first, second):
        ts, body = req.headers["X-Flywheel-Timestamp"], req.body
        expected = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert req.headers["X-Flywheel-Signature"] == f"sha256={expected}"
        assert verify(SECRET.encode(), ts, body, req.headers["X-Flywheel-Signature"], now=int(ts) + 60)
    assert first.headers["X-Flywheel-Delivery"] == second.headers["X-Flywheel-Delivery"]
    assert not verify(SECRET.encode(), "1800000000", first.body, first.headers["X-Flywheel-Signature"],
                      now=1_800_000_000 + 301)  # too old: a replayed request
    assert not verify(b"wrong-secret-000000", "1800000000", first.body, first.headers["X-Flywheel-Signature"],
                      now=1_800_000_000)
    sent = json.loads(first.body)
    assert sent["event"] == "article.published" and sent["article"]["body_markdown"] == ART.body
    assert "<strong>5 business days</strong>" in sent["article"]["body_html"] and sent["article"]["gap_id"] == 7


def test_webhook_refuses_weak_configuration(conf) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        WebhookPublisher.from_settings(conf(webhook_url="https://h.example", webhook_secret="short"))
    with pytest.raises(ConfigError, match="FLYWHEEL_WEBHOOK_URL, FLYWHEEL_WEBHOOK_SECRET"):
        WebhookPublisher.from_settings(conf())


def zendesk(conf) -> ZendeskPublisher:
    return ZendeskPublisher.from_settings(conf(zendesk_subdomain="acme", zendesk_email="ops@acme.test",
                                               zendesk_token=SECRET, zendesk_section_id=7,
                                               zendesk_permission_group_id=3, zendesk_locale="en-gb"))


@responses.activate
def test_zendesk_creates_an_article_with_safe_html(conf) -> None:
    responses.add(responses.POST, f"{ZD}/api/v2/help_center/en-gb/sections/7/articles.json", status=201,
                  json={"article": {"id": 360001, "html_url": f"{ZD}/hc/en-gb/articles/360001-Refund-times"}})
    hostile = ArticleToPublish(**{**ART.__dict__, "body": ART.body + "\n\n<script>alert(1)</script>"})
    receipt = zendesk(conf).publish(hostile)
    assert receipt.external_id == "360001" and receipt.url == f"{ZD}/hc/en-gb/articles/360001-Refund-times"
    req = responses.calls[0].request
    basic = base64.b64encode(f"ops@acme.test/token:{SECRET}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {basic}"
    sent = json.loads(req.body)
    assert sent["notify_subscribers"] is False
    article = sent["article"]
    assert article["title"] == "Refund times" and article["locale"] == "en-gb" and article["permission_group_id"] == 3
    assert article["user_segment_id"] is None and article["label_names"] == ["billing"]
    assert "<h1>Refunds</h1>" in article["body"] and "<script>" not in article["body"]
    assert "&lt;script&gt;" in article["body"]


@responses.activate
def test_zendesk_new_version_updates_the_translation(conf) -> None:
    responses.add(responses.PUT, f"{ZD}/api/v2/help_center/articles/360001/translations/en-gb.json",
                  json={"translation": {"id": 5, "locale": "en-gb", "html_url": f"{ZD}/hc/en-gb/articles/360001"}})
    responses.add(responses.PUT, f"{ZD}/api/v2/help_center/articles/360001.json", json={"article": {"id": 360001}})
    receipt = zendesk(conf).publish(_v2(ART, "360001"))
    assert receipt.external_id == "360001" and receipt.url == f"{ZD}/hc/en-gb/articles/360001"
    sent = json.loads(responses.calls[0].request.body)["translation"]
    assert sent["title"] == "Refund times" and "Store credit is instant." in sent["body"]
    assert json.loads(responses.calls[1].request.body) == {"article": {"label_names": ["billing"]}}  # labels follow


@responses.activate
def test_zendesk_404_on_update_adds_the_translation_or_recreates_a_deleted_article(conf) -> None:
    put = f"{ZD}/api/v2/help_center/articles/%s/translations/en-gb.json"
    responses.add(responses.PUT, put % 1, status=404, json={"error": "RecordNotFound"})
    responses.add(responses.GET, f"{ZD}/api/v2/help_center/articles/1.json", json={"article": {"id": 1}})
    responses.add(responses.POST, f"{ZD}/api/v2/help_center/articles/1/translations.json", status=201,
                  json={"translation": {"id": 6, "html_url": f"{ZD}/hc/en-gb/articles/1"}})
    responses.add(responses.PUT, f"{ZD}/api/v2/help_center/articles/1.json", json={"article": {"id": 1}})
    assert zendesk(conf).publish(_v2(ART, "1")).url == f"{ZD}/hc/en-gb/articles/1"
    assert json.loads(responses.calls[-2].request.body)["translation"]["locale"] == "en-gb"
    responses.add(responses.PUT, put % 2, status=404)
    responses.add(responses.GET, f"{ZD}/api/v2/help_center/articles/2.json", status=404)
    responses.add(responses.POST, f"{ZD}/api/v2/help_center/en-gb/sections/7/articles.json", status=201,
                  json={"article": {"id": 3, "html_url": f"{ZD}/hc/en-gb/articles/3"}})
    assert zendesk(conf).publish(_v2(ART, "2")).external_id == "3"


@responses.activate
def test_zendesk_create_into_a_missing_section_names_the_setting(conf) -> None:
    responses.add(responses.POST, f"{ZD}/api/v2/help_center/en-gb/sections/7/articles.json", status=404)
    with pytest.raises(PublishError, match="FLYWHEEL_ZENDESK_SECTION_ID"):
        zendesk(conf).publish(ART)


def intercom(conf, **kw) -> IntercomPublisher:
    return IntercomPublisher.from_settings(conf(intercom_token=SECRET, intercom_author_id=991, **kw))


@responses.activate
def test_intercom_creates_and_updates_articles(conf) -> None:
    responses.add(responses.POST, "https://api.intercom.io/articles",
                  json={"id": "8123", "type": "article", "url": "https://help.acme.test/en/articles/8123"})
    responses.add(responses.PUT, "https://api.intercom.io/articles/8123",
                  json={"id": "8123", "type": "article", "url": None})
    pub = intercom(conf, intercom_parent_id=44, intercom_article_state="draft")
    assert pub.publish(ART).url == "https://help.acme.test/en/articles/8123"
    assert pub.publish(_v2(ART, "8123")).url is None  # a draft has no public url
    create, update = (c.request for c in responses.calls)
    assert create.headers["Authorization"] == f"Bearer {SECRET}" and create.headers["Intercom-Version"] == "2.11"
    sent = json.loads(create.body)
    assert sent["author_id"] == 991 and sent["state"] == "draft" and sent["parent_id"] == 44
    assert sent["parent_type"] == "collection" and "<strong>5 business days</strong>" in sent["body"]
    assert "Store credit is instant." in json.loads(update.body)["body"]


@responses.activate
def test_intercom_recreates_an_article_deleted_there(conf) -> None:
    responses.add(responses.PUT, "https://api.intercom.io/articles/5", status=404, json={"type": "error.list"})
    responses.add(responses.POST, "https://api.intercom.io/articles", json={"id": 6, "url": "https://h/6"})
    assert intercom(conf).publish(_v2(ART, "5")).external_id == "6"


def test_registry_builds_each_builtin_and_entry_points(conf, monkeypatch, tmp_path) -> None:
    import bot.integrations as integrations

    settings = conf(markdown_dir=tmp_path, webhook_url="https://h.example", webhook_secret=SECRET,
                    zendesk_subdomain="acme", zendesk_email="e", zendesk_token=SECRET, zendesk_section_id=1,
                    zendesk_permission_group_id=2, intercom_token=SECRET, intercom_author_id=3)
    kinds = {n: type(load_publisher(n, settings)).__name__ for n in ("builtin", "markdown", "webhook", "zendesk",
                                                                     "intercom")}
    assert kinds == {"builtin": "BuiltinPublisher", "markdown": "MarkdownPublisher", "webhook": "WebhookPublisher",
                     "zendesk": "ZendeskPublisher", "intercom": "IntercomPublisher"}
    assert isinstance(build_publisher(conf(publisher="markdown", markdown_dir=tmp_path)), MarkdownPublisher)
    assert isinstance(build_publisher(conf()), BuiltinPublisher)
    (tmp_path / "team_pub.py").write_text(
        "class Pub:\n    name = 'confluence'\n    def __init__(self, settings):\n        self.settings = settings\n"
        "    def publish(self, article):\n        return None\n"
        "def nothing(settings):\n    return object()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("confluence", "team_pub:Pub", "flywheel.publishers"),
           EntryPoint("bad", "team_pub:nothing", "flywheel.publishers")]
    monkeypatch.setattr(integrations, "entry_points", lambda group: [e for e in eps if e.group == group])
    plugged = load_publisher("confluence", settings)
    assert plugged.name == "confluence" and plugged.settings is settings  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="no publish"):
        load_publisher("bad", settings)
    with pytest.raises(ConfigError, match="Known: builtin, markdown, webhook, zendesk, intercom, bad, confluence"):
        load_publisher("notion", settings)
    with pytest.raises(ConfigError, match="FLYWHEEL_ZENDESK_SECTION_ID, FLYWHEEL_ZENDESK_PERMISSION_GROUP_ID"):
        load_publisher("zendesk", conf(zendesk_subdomain="acme", zendesk_email="e", zendesk_token=SECRET))
