"""Read Intercom Articles for the KB sync (`bot/kb/sync.py`).

`GET /articles?page=N&per_page=50` pages through every article (Intercom's list has no "updated since"
filter, so each pass lists them all: it is always complete, and an article deleted there leaves search at
the next pass); only those whose `updated_at` is past the cursor are passed on, the rest are unchanged.
Each locale of `translated_content` is its own KB article (the default one is the top-level text).
A draft (`state: draft`) is kept out of search. One article: `GET /articles/{id}` (404: deleted).
An article's collection (`parent_id`) is kept as its section id; the collection's name is not read (it would take
`GET /help_center/collections` each pass), so Intercom articles show no section name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.integrations.html import html_to_markdown
from bot.integrations.http import HttpClient, SourceError
from bot.integrations.settings import IntegrationSettings
from bot.kb.sync import ExternalArticle, SyncPage, section_ref

PER_PAGE = 50
MAX_PAGES = 10_000


def _one(article_id: str, fields: dict[str, Any], locale: str | None, parent: str | None = None) -> ExternalArticle:
    stamp = fields.get("updated_at")
    return ExternalArticle(
        external_id=article_id, locale=locale, title=str(fields.get("title") or "").strip(),
        body=html_to_markdown(fields.get("body")), url=fields.get("url") if isinstance(fields.get("url"), str)
        and fields.get("url") else None, revision=str(stamp) if stamp is not None else "",
        live=fields.get("state", "published") == "published", section_id=parent)


def to_external(raw: dict[str, Any]) -> list[ExternalArticle]:
    """The article in its default locale, and each translation as its own article."""
    article_id = str(raw["id"])
    default, parent = str(raw.get("default_locale") or "en"), section_ref(raw.get("parent_id"))
    found = [_one(article_id, raw, default, parent)]
    translated = raw.get("translated_content")
    translated = translated if isinstance(translated, dict) else {}
    for locale, fields in translated.items():
        if locale != default and locale != "type" and isinstance(fields, dict) and fields.get("title"):
            found.append(_one(article_id, fields, locale, parent))
    return found


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

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> IntercomArticles:
        from bot.publishers.intercom import intercom_client

        clock = kw.pop("clock", time.time)
        return cls(intercom_client(conf, SourceError, **kw), clock=clock)

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        state = json.loads(cursor) if cursor else {}
        since = 0 if full else int(state.get("since") or 0)
        high, started = since, int(self.clock())
        for number in range(1, MAX_PAGES):
            page = self.http.json(self.http.request("GET", "/articles", params={"page": number,
                                                                                "per_page": PER_PAGE}))
            raws = [a for a in page.get("data") or [] if isinstance(a, dict) and a.get("id") is not None]
            high = max([high, *(_updated(a) for a in raws)])
            changed = [e for a in raws if _updated(a) > since for e in to_external(a)]
            # listed but unchanged: still there (so not removed at the end of the pass)
            listed = [(e.external_id, e.locale) for a in raws if _updated(a) <= since for e in to_external(a)]
            pages = page.get("pages")
            pages = pages if isinstance(pages, dict) else {}
            last = not raws or number >= int(pages.get("total_pages") or number)
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
        found = to_external(raw)
        return next((a for a in found if a.locale == locale), found[0])
