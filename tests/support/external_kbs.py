"""Local fakes of the team's KBs, with state, behind `responses`: Zendesk Help Center, Intercom Articles and a
webhook receiver that deduplicates on `Idempotency-Key`. Each records the articles it holds and when each was
created (`indexed_at`: an external KB reaches the team's agent only some time later).

For the help-centre sync they also list their articles as the real APIs do: Zendesk per locale with
`next_page` links (`per_page`), its incremental export (`start_time`, `end_time`), one article by id; Intercom
`GET /articles` pages, `GET /articles/{id}` and its collections (`tests/support/external_kbs_intercom.py`).
`seed`/`edit`/`delete` change the help centre as its docs team would (each write moves `updated_at`);
`throttle = n` answers the next n list requests 429 with Retry-After."""

from __future__ import annotations

import datetime as dt
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
from bot.kb.sync import ArticleReader
from bot.kb.sync_intercom import IntercomArticles
from bot.kb.sync_zendesk import ZendeskArticles
from bot.publishers import Publisher
from bot.publishers.intercom import IntercomPublisher
from bot.publishers.webhook import WebhookPublisher
from bot.publishers.zendesk import ZendeskPublisher

ZD, IC, HOOK = "https://zd.fake", "https://ic.fake", "https://hooks.fake/flywheel"
EPOCH = 1_800_000_000  # the fake help centres' clock: each write moves it one second
RETRY_AFTER = 7
INCREMENTAL_PAGE = 2
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
    _ticks: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    throttle: int = 0  # the next list requests answered 429 (Retry-After: RETRY_AFTER)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, url, JSON body) received
    sections: dict[str, dict[str, str]] = field(default_factory=dict)  # Zendesk: section id → {locale: name};
    # Intercom: collection id → {locale: name}, the first locale its default (tests/support/external_kbs_intercom.py)
    collection_pages: str = "cursor"  # Intercom: how the collection list pages (cursor, numbers, or a link's host)
    section_reads: list[str] = field(default_factory=list)  # the URLs of the section lists asked for

    def touch(self, article: dict[str, Any]) -> dict[str, Any]:
        epoch = EPOCH + next(self._ticks)
        article["updated_epoch"] = epoch
        article["updated_at"] = epoch if self.name == "intercom" else \
            dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return article

    def seed(self, title: str, body: str, **fields: Any) -> str:
        """An article the docs team wrote (HTML body); returns its id."""
        made = self.create({"title": title, "body": body, "locale": "en-us", "label_names": [], **fields})
        self.creates -= 1
        return str(made["id"])

    def edit(self, ext: str, **fields: Any) -> None:
        self.articles[ext].update(fields)
        self.touch(self.articles[ext])

    def delete(self, ext: str) -> None:
        del self.articles[ext]

    def create(self, article: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ext = str(next(self._ids))
            self.creates += 1
            self.articles[ext] = self.touch({**article, "id": int(ext), "html_url": f"https://help.fake/{ext}",
                                             "url": f"https://help.fake/{ext}"})
            self.indexed_at[ext] = self.now()
            return self.articles[ext]

    def live(self) -> list[dict[str, Any]]:
        return [a for a in self.articles.values() if a.get("state", "published") == "published"
                and not a.get("archived")]


def _json(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def _throttled(kb: FakeKB) -> Reply | None:
    if kb.throttle > 0:
        kb.throttle -= 1
        return 429, {"Retry-After": str(RETRY_AFTER), "Content-Type": "application/json"}, "{}"
    return None


def _query(req: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(req.url).query).items()}


def _zendesk_lists(kb: FakeKB, mock: responses.RequestsMock) -> None:
    """The help centre's article lists (per locale, incremental) and one article by id."""

    def in_locale(art: dict[str, Any], locale: str) -> dict[str, Any] | None:
        if art.get("archived"):
            return None
        if art.get("locale", "en-us") == locale:
            return {k: v for k, v in art.items() if k != "translations"}
        tr = (art.get("translations") or {}).get(locale)
        return {**{k: v for k, v in art.items() if k != "translations"}, **tr, "locale": locale} if tr else None

    def listing(req: Any) -> Reply:
        if (busy := _throttled(kb)) is not None:
            return busy
        locale = re.search(r"help_center/([\w-]+)/articles\.json", req.url).group(1)  # type: ignore[union-attr]
        q = _query(req)
        size, page = int(q.get("per_page", 30)), int(q.get("page", 1))
        found = [a for art in sorted(kb.articles.values(), key=lambda a: a["id"]) if (a := in_locale(art, locale))]
        more = page * size < len(found)
        nxt = f"{ZD}/api/v2/help_center/{locale}/articles.json?per_page={size}&page={page + 1}" if more else None
        return _json(200, {"articles": found[(page - 1) * size:page * size], "next_page": nxt, "count": len(found)})

    def incremental(req: Any) -> Reply:
        if (busy := _throttled(kb)) is not None:
            return busy
        start = int(_query(req)["start_time"])
        found = sorted((a for a in kb.articles.values() if a["updated_epoch"] >= start and not a.get("archived")),
                       key=lambda a: a["updated_epoch"])[:INCREMENTAL_PAGE]
        end = found[-1]["updated_epoch"] if found else start
        nxt = f"{ZD}/api/v2/help_center/incremental/articles.json?start_time={end + 1}" \
            if len(found) == INCREMENTAL_PAGE else None
        return _json(200, {"articles": [in_locale(a, a.get("locale", "en-us")) for a in found], "next_page": nxt,
                           "end_time": end, "count": len(found)})

    def one(req: Any) -> Reply:
        locale, ext = re.search(r"help_center/([\w-]+)/articles/(\d+)\.json", req.url).groups()  # type: ignore[union-attr]
        art = in_locale(kb.articles[ext], locale) if ext in kb.articles else None
        return _json(200, {"article": art}) if art else _json(404, {"error": "RecordNotFound"})

    def sections(req: Any) -> Reply:  # a locale's section names, paged like the article lists
        kb.section_reads.append(req.url)
        if (busy := _throttled(kb)) is not None:
            return busy
        locale, q = re.search(r"help_center/([\w-]+)/sections\.json", req.url).group(1), _query(req)  # type: ignore[union-attr]
        size, page = int(q.get("per_page", 30)), int(q.get("page", 1))
        found = [{"id": int(i), "locale": locale, "name": n[locale]} for i, n in sorted(kb.sections.items())
                 if locale in n]
        nxt = f"{ZD}/api/v2/help_center/{locale}/sections.json?per_page={size}&page={page + 1}" \
            if page * size < len(found) else None
        return _json(200, {"sections": found[(page - 1) * size:page * size], "next_page": nxt})

    def labels(req: Any) -> Reply:
        ext = re.search(r"articles/(\d+)\.json", req.url).group(1)  # type: ignore[union-attr]
        kb.requests.append(("PUT", req.url, json.loads(req.body)))
        kb.articles[ext].update(json.loads(req.body)["article"])
        return _json(200, {"article": kb.articles[ext]})

    mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/help_center/(?!incremental/)[\w-]+/articles\.json.*"),
                      callback=listing)
    mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/help_center/incremental/articles\.json.*"),
                      callback=incremental)
    mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/help_center/[\w-]+/articles/\d+\.json"), callback=one)
    mock.add_callback(responses.GET, re.compile(rf"{ZD}/api/v2/help_center/[\w-]+/sections\.json.*"), callback=sections)
    mock.add_callback(responses.PUT, re.compile(rf"{ZD}/api/v2/help_center/articles/\d+\.json"), callback=labels)


def _zendesk(kb: FakeKB, mock: responses.RequestsMock) -> None:
    _zendesk_lists(kb, mock)

    def create(req: Any) -> Reply:
        kb.requests.append(("POST", req.url, json.loads(req.body)))
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
        kb.requests.append(("PUT", req.url, json.loads(req.body)))
        locale = re.search(r"translations/([\w-]+)\.json", req.url).group(1)  # type: ignore[union-attr]
        if locale == kb.articles[ext].get("locale", "en-us"):
            kb.articles[ext].update(json.loads(req.body)["translation"])
        else:
            kb.articles[ext].setdefault("translations", {})[locale] = json.loads(req.body)["translation"]
        kb.touch(kb.articles[ext])
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


def settings(**extra: object) -> IntegrationSettings:
    """Connector settings pointing at the fakes."""
    return IntegrationSettings(_env_file=None, zendesk_url=ZD, zendesk_email="ops@acme.test",  # type: ignore[call-arg]
                               zendesk_token=SECRET, zendesk_section_id=7, zendesk_permission_group_id=3,
                               intercom_url=IC, intercom_token=SECRET, intercom_author_id=991,
                               webhook_url=HOOK, webhook_secret=SECRET, **extra)


def reader(name: str, *, sleep: Callable[[float], None] = lambda s: None, locales: str = "",
           **extra: object) -> ArticleReader:
    """The help-centre sync's reader of the fake called `name` (zendesk, intercom)."""
    if name == "zendesk":
        return ZendeskArticles.from_settings(settings(**extra), locales=locales, sleep=sleep)
    return IntercomArticles.from_settings(settings(**extra), sleep=sleep)


def publisher(name: str, **extra: object) -> Publisher:
    conf = settings(**extra)
    build = {"zendesk": ZendeskPublisher.from_settings, "intercom": IntercomPublisher.from_settings,
             "webhook": WebhookPublisher.from_settings}[name]
    return build(conf, sleep=lambda s: None)  # type: ignore[operator]


@contextmanager
def external_kb(name: str, now: Callable[[], float]) -> Iterator[FakeKB]:
    """The fake KB called `name` (zendesk, intercom, webhook), live for the block."""
    from tests.support.external_kbs_intercom import intercom  # it imports this module's helpers

    kb = FakeKB(name, now)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        {"zendesk": _zendesk, "intercom": intercom, "webhook": _webhook}[name](kb, mock)
        yield kb
