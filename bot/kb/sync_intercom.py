"""Read Intercom Articles for the KB sync (`bot/kb/sync.py`).

`GET /articles?page=N&per_page=50` pages through every article (Intercom's list has no "updated since"
filter, so each pass lists them all: it is always complete, and an article deleted there leaves search at
the next pass); only those whose `updated_at` is past the cursor are passed on, the rest are unchanged.
Each locale of `translated_content` is its own KB article (the default one is the top-level text).
A draft (`state: draft`) is kept out of search. One article: `GET /articles/{id}` (404: deleted).
An article's collection (`parent_id`) is its section. The collections' names come from
`GET /help_center/collections`, listed once at the start of every pass (never once an article; a rename there
moves no article's `updated_at`) and handed over with the first page (`SyncPage.sections`), so a renamed collection
is renamed here at once: its `name` (the default locale's) and each `translated_content` locale's. Its pages are
followed as Intercom's API versions send them: a `pages.next` link (only on the configured host, never one already
read), a `pages.next.starting_after` cursor, or else `page` numbers up to `pages.total_pages`. A 429 waits as for
any request (the shared HTTP client); a list that still fails costs no article: the pass goes on without names (the
stored ones are kept), and it is logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.integrations.html import html_to_markdown
from bot.integrations.http import HttpClient, Pages, SourceError
from bot.integrations.settings import IntegrationSettings
from bot.kb.sync import ExternalArticle, SectionNames, SyncPage, listed_names, named_first, section_label, section_ref

log = logging.getLogger(__name__)
PER_PAGE = 50
MAX_PAGES = 10_000


def _one(article_id: str, fields: dict[str, Any], locale: str | None, parent: str | None = None,
         sections: SectionNames | None = None) -> ExternalArticle:
    stamp, names = fields.get("updated_at"), sections or {}
    return ExternalArticle(
        external_id=article_id, locale=locale, title=str(fields.get("title") or "").strip(),
        body=html_to_markdown(fields.get("body")), url=fields.get("url") if isinstance(fields.get("url"), str)
        and fields.get("url") else None, revision=str(stamp) if stamp is not None else "",
        live=fields.get("state", "published") == "published", section_id=parent,
        section=(names.get((locale, parent)) or names.get((None, parent))) if parent else None)


def to_external(raw: dict[str, Any], sections: SectionNames | None = None) -> list[ExternalArticle]:
    """The article in its default locale, and each translation as its own article."""
    article_id = str(raw["id"])
    default, parent = str(raw.get("default_locale") or "en"), section_ref(raw.get("parent_id"))
    found = [_one(article_id, raw, default, parent, sections)]
    translated = raw.get("translated_content")
    translated = translated if isinstance(translated, dict) else {}
    for locale, fields in translated.items():
        if locale != default and locale != "type" and isinstance(fields, dict) and fields.get("title"):
            found.append(_one(article_id, fields, locale, parent, sections))
    return found


def collection_names(raw: dict[str, Any]) -> dict[tuple[str | None, str], str]:
    """One listed collection's names: (None, id) and (its default locale, id) → its `name`; (locale, id) → the name
    of each `translated_content` locale. Cleaned and capped (`section_label`); a name that is not text is left out."""
    cid, names = section_ref(raw.get("id")), dict[tuple[str | None, str], str]()
    if cid is None:
        return {}
    if (name := section_label(raw.get("name"))) is not None:
        names[(None, cid)] = name
        if isinstance(raw.get("default_locale"), str):
            names[(raw["default_locale"], cid)] = name
    translated = raw.get("translated_content")
    for locale, fields in (translated if isinstance(translated, dict) else {}).items():
        if locale != "type" and isinstance(fields, dict) and (name := section_label(fields.get("name"))):
            names[(str(locale), cid)] = name
    return names


def _int(value: object) -> int:
    """A page count as sent (JSON allows 1e999 and NaN, which int() refuses): 0 when it is not a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _updated(raw: dict[str, Any]) -> int:
    stamps = [raw.get("updated_at")]
    translated = raw.get("translated_content")
    translated = translated if isinstance(translated, dict) else {}
    stamps += [f.get("updated_at") for f in translated.values() if isinstance(f, dict)]
    return max((int(s) for s in stamps if isinstance(s, int | float)), default=0)


class IntercomArticles:
    name = "intercom"

    def __init__(self, http: HttpClient, *, clock: Callable[[], float] = time.time) -> None:
        self.http, self.clock = http, clock
        self.sections: SectionNames = {}  # the collection names listed at the start of the last pass

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> IntercomArticles:
        from bot.publishers.intercom import intercom_client

        clock = kw.pop("clock", time.time)
        return cls(intercom_client(conf, SourceError, **kw), clock=clock)

    def _listing(self, path: str) -> Iterator[dict[str, Any]]:
        """Every page of a list (see the module's docstring for how its next page is found)."""
        url: str = path
        params: dict[str, Any] | None = {"page": 1, "per_page": PER_PAGE}
        guard = Pages("Intercom", SourceError)  # a next link or cursor already read: stopped, never a loop
        while True:
            guard.follow(url if params is None else [url, params])
            page = self.http.json(self.http.request("GET", url, params=params))
            yield page
            found = page.get("pages")
            pages: dict[str, Any] = found if isinstance(found, dict) else {}
            nxt, number = pages.get("next"), (params or {}).get("page")
            if isinstance(nxt, str) and nxt:
                if not self.http.same_origin(nxt):
                    raise SourceError("Intercom sent a next-page link to another host; stopped.", retryable=False)
                url, params = nxt, None
            elif isinstance(nxt, dict) and isinstance(nxt.get("starting_after"), str) and nxt["starting_after"]:
                params = {"per_page": PER_PAGE, "starting_after": nxt["starting_after"]}
            elif isinstance(number, int) and page.get("data") and number < _int(pages.get("total_pages")):
                params = {"page": number + 1, "per_page": PER_PAGE}
            else:
                return

    def section_names(self) -> SectionNames:
        """(locale, collection id) → name for every collection (`collection_names`), read once a pass."""
        names: dict[tuple[str | None, str], str] = {}
        for page in self._listing("/help_center/collections"):
            found = page.get("data")
            for raw in found if isinstance(found, list) else []:
                if isinstance(raw, dict):
                    names.update(collection_names(raw))
        return names

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        self.sections = listed_names("intercom", "collection", self.section_names)
        yield from named_first(self._article_pages(cursor, full=full), self.sections)

    def _article_pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        state = json.loads(cursor) if cursor else {}
        since = 0 if full else int(state.get("since") or 0)
        high, started = since, int(self.clock())
        for number in range(1, MAX_PAGES):
            page = self.http.json(self.http.request("GET", "/articles", params={"page": number,
                                                                                "per_page": PER_PAGE}))
            raws = [a for a in page.get("data") or [] if isinstance(a, dict) and a.get("id") is not None]
            high = max([high, *(_updated(a) for a in raws)])
            changed = [e for a in raws if _updated(a) > since for e in to_external(a, self.sections)]
            # listed but unchanged: still there (so not removed at the end of the pass)
            listed = [(e.external_id, e.locale) for a in raws if _updated(a) <= since for e in to_external(a)]
            pages = page.get("pages")
            pages = pages if isinstance(pages, dict) else {}
            last = not raws or number >= (_int(pages.get("total_pages")) or number)
            yield SyncPage(changed, json.dumps({"since": high, "full_at": started if full else
                                                            state.get("full_at", started)}) if last else cursor,
                           complete=last, listed=listed)
            if last:
                return

    def fetch(self, external_id: str, locale: str | None) -> ExternalArticle | None:
        if not external_id.isdigit():
            return None
        resp = self.http.request("GET", f"/articles/{external_id}", allow=(404,))
        if resp.status_code == 404:
            return None
        raw = self.http.json(resp)
        if raw.get("id") is None:
            return None
        found = to_external(raw, self.sections)
        return next((a for a in found if a.locale == locale), found[0])
