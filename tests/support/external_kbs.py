"""Local fakes of the team's KBs, with state, behind `responses`: Zendesk Help Center, Intercom Articles and a
webhook receiver that deduplicates on `Idempotency-Key`. Each records the articles it holds and when each was
created (`indexed_at`: an external KB reaches the team's agent only some time later)."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from bot.integrations.settings import IntegrationSettings
from bot.publishers import Publisher
from bot.publishers.intercom import IntercomPublisher
from bot.publishers.webhook import WebhookPublisher
from bot.publishers.zendesk import ZendeskPublisher

ZD, IC, HOOK = "https://zd.fake", "https://ic.fake", "https://hooks.fake/flywheel"
SECRET = "fake-secret-0123456789"
Reply = tuple[int, dict[str, str], str]


@dataclass
class FakeKB:
    """What the external KB holds: id → article (title, body, labels, state)."""

    name: str
    now: Callable[[], float]
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    indexed_at: dict[str, float] = field(default_factory=dict)
    creates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(101))

    def create(self, article: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ext = str(next(self._ids))
            self.creates += 1
            self.articles[ext] = {**article, "id": int(ext), "html_url": f"https://help.fake/{ext}",
                                  "url": f"https://help.fake/{ext}"}
            self.indexed_at[ext] = self.now()
            return self.articles[ext]

    def live(self) -> list[dict[str, Any]]:
        return [a for a in self.articles.values() if a.get("state", "published") == "published"
                and not a.get("archived")]


def _json(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def _zendesk(kb: FakeKB, mock: responses.RequestsMock) -> None:
    def create(req: Any) -> Reply:
        art = json.loads(req.body)["article"]
        return _json(201, {"article": kb.create({"title": art["title"], "body": art["body"],
                                                 "label_names": art.get("label_names", [])})})

    def find(req: Any) -> Reply:
        label = parse_qs(urlsplit(req.url).query).get("label_names", [""])[0]
        return _json(200, {"articles": [a for a in kb.articles.values() if label in a.get("label_names", [])]})

    def translate(req: Any) -> Reply:
        ext = re.search(r"articles/(\d+)/", req.url).group(1)  # type: ignore[union-attr]
        if ext not in kb.articles:
            return _json(404, {"error": "RecordNotFound"})
        kb.articles[ext].update(json.loads(req.body)["translation"])
        kb.articles[ext]["archived"] = False
        return _json(200, {"translation": {**kb.articles[ext], "html_url": kb.articles[ext]["html_url"]}})

    def archive(req: Any) -> Reply:
        ext = re.search(r"articles/(\d+)\.json", req.url).group(1)  # type: ignore[union-attr]
        kb.articles[ext]["archived"] = True
        return 204, {}, ""

    mock.add_callback(responses.POST, re.compile(rf"{ZD}/api/v2/help_center/[\w-]+/sections/\d+/articles\.json"),
                      callback=create)
    mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/help_center/articles\.json.*"), callback=find)
    mock.add_callback(responses.PUT, re.compile(rf"{ZD}/api/v2/help_center/articles/\d+/translations/.*"),
                      callback=translate)
    mock.add_callback(responses.DELETE, re.compile(rf"{ZD}/api/v2/help_center/articles/\d+\.json"), callback=archive)


def _intercom(kb: FakeKB, mock: responses.RequestsMock) -> None:
    def create(req: Any) -> Reply:
        return _json(200, kb.create(json.loads(req.body)))

    def search(req: Any) -> Reply:
        phrase = parse_qs(urlsplit(req.url).query).get("phrase", [""])[0]
        hits = [a for a in kb.articles.values() if phrase.lower() in a["title"].lower()]
        return _json(200, {"type": "list", "data": {"articles": hits}})

    def update(req: Any) -> Reply:
        ext = req.url.rsplit("/", 1)[1]
        if ext not in kb.articles:
            return _json(404, {"type": "error.list"})
        kb.articles[ext].update(json.loads(req.body))
        return _json(200, kb.articles[ext])

    mock.add_callback(responses.POST, f"{IC}/articles", callback=create)
    mock.add_callback(responses.GET, re.compile(rf"{IC}/articles/search.*"), callback=search)
    mock.add_callback(responses.PUT, re.compile(rf"{IC}/articles/\d+"), callback=update)


def _webhook(kb: FakeKB, mock: responses.RequestsMock) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def receive(req: Any) -> Reply:
        sent = json.loads(req.body)
        if sent["event"] == "article.unpublished":
            kb.articles[sent["article"]["external_id"]]["archived"] = True
            return 204, {}, ""
        key = req.headers["Idempotency-Key"]
        with kb.lock:  # the receiver deduplicates on the key, as docs/INTEGRATIONS.md asks
            found = seen.get(key)
        art = sent["article"]
        if found is None and art.get("external_id") in kb.articles:
            kb.articles[art["external_id"]].update(title=art["title"], body=art["body_markdown"], archived=False)
            found = kb.articles[art["external_id"]]
        if found is None:
            found = kb.create({"title": art["title"], "body": art["body_markdown"]})
        with kb.lock:
            seen[key] = found
        return _json(200, {"external_id": str(found["id"]), "url": found["url"]})

    mock.add_callback(responses.POST, HOOK, callback=receive)


def publisher(name: str, **extra: object) -> Publisher:
    conf = IntegrationSettings(_env_file=None, zendesk_url=ZD, zendesk_email="ops@acme.test",  # type: ignore[call-arg]
                               zendesk_token=SECRET, zendesk_section_id=7, zendesk_permission_group_id=3,
                               intercom_url=IC, intercom_token=SECRET, intercom_author_id=991,
                               webhook_url=HOOK, webhook_secret=SECRET, **extra)
    build = {"zendesk": ZendeskPublisher.from_settings, "intercom": IntercomPublisher.from_settings,
             "webhook": WebhookPublisher.from_settings}[name]
    return build(conf, sleep=lambda s: None)  # type: ignore[operator]


@contextmanager
def external_kb(name: str, now: Callable[[], float]) -> Iterator[FakeKB]:
    """The fake KB called `name` (zendesk, intercom, webhook), live for the block."""
    kb = FakeKB(name, now)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        {"zendesk": _zendesk, "intercom": _intercom, "webhook": _webhook}[name](kb, mock)
        yield kb
