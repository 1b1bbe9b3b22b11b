"""The Intercom part of the fake help centres (`tests/support/external_kbs.py`): Articles (create, search, update,
the `GET /articles` pages, one article) and the Help Center's collections (`GET /help_center/collections`), whose
names the KB sync reads as section names. `kb.sections` holds them: collection id → {locale: name}, the first
locale its default (`name`), the others its `translated_content`. `kb.collection_pages` says how the collection
list pages, as Intercom's API versions do: `cursor` (`pages.next.starting_after`, as 2.11 documents), `numbers`
(`page` and `pages.total_pages` only), or a base URL (`pages.next` a link on that host)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from tests.support.external_kbs import IC, FakeKB, Reply, _json, _query, _throttled


def _collection(cid: str, names: dict[str, str]) -> dict[str, Any]:
    default = next(iter(names))
    return {"type": "collection", "id": cid, "workspace_id": "fake", "name": names[default], "default_locale": default,
            "translated_content": {"type": "group_translated_content", **{
                locale: {"type": "group_content", "name": name, "description": ""} for locale, name in names.items()
                if locale != default}}}


def _collections(kb: FakeKB, mock: responses.RequestsMock) -> None:
    def listing(req: Any) -> Reply:
        kb.section_reads.append(req.url)
        if (busy := _throttled(kb)) is not None:
            return busy
        q = _query(req)
        size = int(q.get("per_page", 20))
        start = int(q["starting_after"]) if "starting_after" in q else (int(q.get("page", 1)) - 1) * size
        found = [_collection(cid, names) for cid, names in sorted(kb.sections.items())]
        pages: dict[str, Any] = {"type": "pages", "page": start // size + 1, "per_page": size,
                                 "total_pages": max(1, -(-len(found) // size))}
        if start + size < len(found) and kb.collection_pages == "cursor":
            pages["next"] = {"per_page": size, "starting_after": str(start + size)}
        elif start + size < len(found) and kb.collection_pages != "numbers":
            pages["next"] = f"{kb.collection_pages}/help_center/collections?page={start // size + 2}&per_page={size}"
        return _json(200, {"type": "list", "data": found[start:start + size], "total_count": len(found),
                           "pages": pages})

    mock.add_callback(responses.GET, re.compile(rf"{IC}/help_center/collections(\?.*)?$"), callback=listing)


def intercom(kb: FakeKB, mock: responses.RequestsMock) -> None:
    _collections(kb, mock)

    def create(req: Any) -> Reply:
        kb.requests.append(("POST", req.url, json.loads(req.body)))
        return _json(200, kb.create(json.loads(req.body)))

    def listing(req: Any) -> Reply:
        if (busy := _throttled(kb)) is not None:
            return busy
        q = _query(req)
        size, page = int(q.get("per_page", 50)), int(q.get("page", 1))
        found = sorted(kb.articles.values(), key=lambda a: a["id"])
        total = max(1, -(-len(found) // size))
        return _json(200, {"type": "list", "data": found[(page - 1) * size:page * size], "total_count": len(found),
                           "pages": {"type": "pages", "page": page, "per_page": size, "total_pages": total}})

    def one(req: Any) -> Reply:
        ext = urlsplit(req.url).path.rsplit("/", 1)[1]
        return _json(200, kb.articles[ext]) if ext in kb.articles else _json(404, {"type": "error.list"})

    def search(req: Any) -> Reply:
        phrase = parse_qs(urlsplit(req.url).query).get("phrase", [""])[0]
        hits = [a for a in kb.articles.values() if phrase.lower() in a["title"].lower()]
        return _json(200, {"type": "list", "data": {"articles": hits}})

    def update(req: Any) -> Reply:
        ext = req.url.rsplit("/", 1)[1]
        if ext not in kb.articles:
            return _json(404, {"type": "error.list"})
        sent = json.loads(req.body)
        kb.requests.append(("PUT", req.url, sent))
        translated = sent.pop("translated_content", None)
        kb.articles[ext].update(sent)
        if translated:
            kb.articles[ext].setdefault("translated_content", {}).update(translated)
        kb.touch(kb.articles[ext])
        return _json(200, kb.articles[ext])

    mock.add_callback(responses.POST, f"{IC}/articles", callback=create)
    mock.add_callback(responses.GET, re.compile(rf"{IC}/articles/search.*"), callback=search)
    mock.add_callback(responses.PUT, re.compile(rf"{IC}/articles/\d+"), callback=update)
    mock.add_callback(responses.GET, re.compile(rf"{IC}/articles(\?.*)?$"), callback=listing)
    mock.add_callback(responses.GET, re.compile(rf"{IC}/articles/\d+$"), callback=one)
