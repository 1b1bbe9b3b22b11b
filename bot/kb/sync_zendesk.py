"""Read a Zendesk Help Center's articles for the KB sync (`bot/kb/sync.py`).

- full pass: `GET /api/v2/help_center/{locale}/articles.json?per_page=100` for each synced locale, following
  `next_page` (only on the configured host, never one already read); the last page says the list is
  complete, so an article that is no longer listed (deleted or archived there) leaves search;
- incremental pass: `GET /api/v2/help_center/incremental/articles.json?start_time=<cursor>`, following
  `next_page`; the cursor is the `end_time` of the last page stored (Zendesk's own rule for this export);
- one article: `GET /api/v2/help_center/{locale}/articles/{id}.json` (404: deleted);
- section names: `GET /api/v2/help_center/{locale}/sections.json?per_page=N` for each synced locale, following
  `next_page`, once at the start of every pass (full or incremental: the incremental export carries each article's
  `section_id` but no names, and a rename there moves no article's `updated_at`). The names go with the first page
  (`SyncPage.sections`), so a renamed section is renamed here at once. A section list that fails (after the
  retries) costs no article: the pass goes on, the names stored before are kept, and it is logged.
A 429 waits `Retry-After` (the shared HTTP client). Drafts (`draft: true`) are kept out of search. Labels
(`label_names`) become the article's tags; the body's HTML becomes Markdown; `section_id` the article's section.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bot.integrations.html import html_to_markdown
from bot.integrations.http import HttpClient, Pages, SourceError
from bot.integrations.settings import IntegrationSettings
from bot.kb.sync import ExternalArticle, SectionNames, SyncPage, listed_names, named_first, section_ref

log = logging.getLogger(__name__)
OVERLAP = 60  # seconds re-read at each incremental pass: Zendesk leaves out the last minute's changes


def revision(raw: dict[str, Any]) -> str:
    stamp = raw.get("updated_at") or raw.get("edited_at")
    if isinstance(stamp, str) and stamp:
        return stamp[:64]
    return hashlib.sha256(str(raw.get("body") or "").encode("utf-8")).hexdigest()[:64]


def to_external(raw: dict[str, Any], sections: SectionNames | None = None) -> ExternalArticle:
    labels = raw.get("label_names")
    labels = labels if isinstance(labels, list) else []
    locale = str(raw.get("locale") or "") or None
    section_id, names = section_ref(raw.get("section_id")), sections or {}
    return ExternalArticle(
        external_id=str(raw["id"]), locale=locale,
        title=str(raw.get("title") or "").strip(), body=html_to_markdown(raw.get("body")),
        tags=tuple(str(label) for label in labels if str(label).strip() and not str(label).startswith("flywheel-")),
        url=raw.get("html_url") if isinstance(raw.get("html_url"), str) else None, revision=revision(raw),
        live=not raw.get("draft", False) and not raw.get("archived", False), section_id=section_id,
        section=(names.get((locale, section_id)) or names.get((None, section_id))) if section_id else None)


class ZendeskArticles:
    name = "zendesk"

    def __init__(self, http: HttpClient, *, locales: Sequence[str], page_size: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.http, self.locales, self.page_size, self.clock = http, list(locales), page_size, clock
        self.sections: SectionNames = {}  # the names listed at the start of the last pass

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, *, locales: str = "", **kw: Any) -> ZendeskArticles:
        from bot.publishers.zendesk import zendesk_client

        clock = kw.pop("clock", time.time)
        wanted = [loc.strip() for loc in locales.split(",") if loc.strip()] or [conf.zendesk_locale]
        return cls(zendesk_client(conf, SourceError, **kw), locales=wanted, page_size=conf.source_page_size,
                   clock=clock)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = path
        query: dict[str, Any] | None = params
        guard = Pages("Zendesk", SourceError)  # a next_page pointing back used to loop for ever
        while url:
            guard.follow(url if query is None else [url, query])
            page = self.http.json(self.http.request("GET", url, params=query))
            yield page
            url, query = page.get("next_page"), None
            if url and not self.http.same_origin(url):
                raise SourceError("Zendesk sent a next-page link to another host; stopped.", retryable=False)

    def section_names(self) -> SectionNames:
        """(locale, section id) → name for every synced locale, and (None, id) → the first locale's name (for an
        article in a locale its section has no name in): one list per locale, read once a pass."""
        names: dict[tuple[str | None, str], str] = {}
        for locale in self.locales:
            for page in self._pages(f"/api/v2/help_center/{locale}/sections.json", {"per_page": self.page_size}):
                found = page.get("sections")
                for raw in found if isinstance(found, list) else []:
                    if isinstance(raw, dict) and raw.get("id") is not None and isinstance(raw.get("name"), str):
                        names[(locale, str(raw["id"]))] = raw["name"]
                        names.setdefault((None, str(raw["id"])), raw["name"])
        return names

    def _articles(self, page: dict[str, Any]) -> list[ExternalArticle]:
        found = page.get("articles")
        found = found if isinstance(found, list) else []
        return [to_external(a, self.sections) for a in found if isinstance(a, dict) and a.get("id") is not None
                and (a.get("locale") in self.locales or not a.get("locale"))]

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        self.sections = listed_names("zendesk", "section", self.section_names)
        yield from named_first(self._article_pages(cursor, full=full), self.sections)

    def _article_pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        state = json.loads(cursor) if cursor else {}
        if full or "since" not in state:
            started = int(self.clock())
            for locale in self.locales:
                for page in self._pages(f"/api/v2/help_center/{locale}/articles.json",
                                        {"per_page": self.page_size, "sort_by": "updated_at"}):
                    yield SyncPage(self._articles(page), cursor)  # the old cursor until the pass is complete
            yield SyncPage([], json.dumps({"since": started - OVERLAP, "full_at": started}), complete=True)
            return
        since = int(state["since"])
        for page in self._pages("/api/v2/help_center/incremental/articles.json", {"start_time": since}):
            end = page.get("end_time")
            since = max(since, int(end) - OVERLAP) if isinstance(end, int | float) else since
            yield SyncPage(self._articles(page), json.dumps({"since": since, "full_at": state.get("full_at")}))

    def fetch(self, external_id: str, locale: str | None) -> ExternalArticle | None:
        if not external_id.isdigit():
            return None
        path = f"/api/v2/help_center/{locale or self.locales[0]}/articles/{external_id}.json"
        resp = self.http.request("GET", path, allow=(404,))
        if resp.status_code == 404:
            return None
        raw = self.http.json(resp).get("article")
        return to_external(raw, self.sections) if isinstance(raw, dict) and raw.get("id") is not None else None
