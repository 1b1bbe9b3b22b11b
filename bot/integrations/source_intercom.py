"""Intercom conversations: `POST /conversations/search` (updated_at filter, `starting_after` pages), then each
conversation's parts (`GET /conversations/{id}`). The cursor is JSON: {since, started, high, after}."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.integrations.http import HttpClient, Pages, SourceError
from bot.integrations.settings import IntegrationSettings, split_ids
from bot.integrations.source_base import DAY, Batch, PullFilter, Refused, plain

log = logging.getLogger(__name__)


class IntercomSource:
    """A conversation reopened and closed again, or rated later, is found again by the `updated_at` search and
    updates the stored one. One the token may not read (HTTP 403) is skipped and named in the report. Rate
    limits: Intercom's `X-RateLimit-Reset` is honoured like Retry-After (`bot/integrations/http.py`)."""

    name = "intercom"
    OVERLAP = 300  # seconds re-read at each pass: the search index lags a little behind

    def __init__(self, http: HttpClient, *, bot_author_ids: frozenset[str] = frozenset(),
                 states: frozenset[str] = frozenset({"closed"}), page_size: int = 100, backfill_days: int = 30,
                 clock: Callable[[], float] = time.time, filters: PullFilter = PullFilter()) -> None:
        self.http, self.bots, self.states, self.page_size = http, bot_author_ids, sorted(states), min(page_size, 150)
        self.backfill_days, self.clock, self.filters = backfill_days, clock, filters

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> IntercomSource:
        from bot.publishers.intercom import intercom_client

        clock = kw.pop("clock", time.time)
        filters = kw.pop("filters", None) or PullFilter.from_settings(conf)
        return cls(intercom_client(conf, SourceError, clock=clock, **kw),
                   bot_author_ids=split_ids(conf.intercom_bot_author_ids), states=split_ids(conf.intercom_states),
                   page_size=conf.source_page_size, backfill_days=conf.source_backfill_days, clock=clock,
                   filters=filters)

    def fetch(self, cursor: str | None) -> Iterator[Batch]:
        now = int(self.clock())
        state = json.loads(cursor) if cursor else {"since": now - self.backfill_days * DAY}
        since, after = int(state["since"]), state.get("after")
        started, high = int(state.get("started", now)), int(state.get("high", since))
        guard, restarted = Pages("Intercom", SourceError), False  # a starting_after already read stops the pull
        while True:
            guard.follow(after)
            query = {"operator": "AND", "value": [
                {"field": "updated_at", "operator": ">", "value": since - 1},
                {"field": "state", "operator": "IN", "value": self.states}]}
            pagination = {"per_page": self.page_size, **({"starting_after": after} if after else {})}
            resp = self.http.request("POST", "/conversations/search", json={"query": query, "pagination": pagination},
                                     allow=(400,) if after else ())
            if resp.status_code == 400:  # a resumed page token that expired: redo the pass (the importer skips repeats)
                if restarted:  # once per pull: a server that refuses every token would restart for ever
                    raise SourceError("Intercom refused its own page token again; try again later.")
                log.warning("intercom page token refused; restarting the pass since=%d", since)
                after, restarted, guard = None, True, Pages("Intercom", SourceError)
                continue
            page = self.http.json(resp)
            found = [c for c in page.get("conversations") or [] if isinstance(c, dict) and c.get("id")]
            high = max([high, *(int(c.get("updated_at") or 0) for c in found)])
            records, refused = [], []
            for c in found:
                try:
                    if r := self.record(self.conversation(c["id"])):
                        records.append(r)
                except Refused as exc:
                    refused.append(exc.what)
            nxt = (page.get("pages") or {}).get("next")
            after = nxt.get("starting_after") if isinstance(nxt, dict) else None
            if after:
                state = {"since": since, "started": started, "high": high, "after": after}
            else:  # the pass is complete: the next one starts where this one's data ends
                state = {"since": max(since, min(high, started - self.OVERLAP))}
            yield Batch(records, json.dumps(state, sort_keys=True), refused=refused)
            if not after:
                return

    def conversation(self, conversation_id: Any) -> dict[str, Any]:
        resp = self.http.request("GET", f"/conversations/{conversation_id}", params={"display_as": "plaintext"},
                                 allow=(403, 404))
        if resp.status_code == 404:  # deleted since the search listed it: nothing to review
            log.info("intercom conversation %s is gone; skipped", conversation_id)
            return {}
        if resp.status_code == 403:
            log.warning("intercom refused conversation %s (HTTP 403); skipped", conversation_id)
            raise Refused(f"conversation {conversation_id}: Intercom refused it (HTTP 403); check the token's "
                          "access, it comes back when the conversation is next updated")
        return self.http.json(resp)

    def role(self, author: dict[str, Any]) -> str:
        kind = author.get("type")
        if kind in ("user", "lead", "contact"):
            return "user"
        if kind == "bot" or str(author.get("id")) in self.bots:
            return "agent"
        return "human"

    def record(self, conv: dict[str, Any]) -> dict[str, Any] | None:
        if not conv.get("id"):
            return None
        src = conv.get("source") or {}
        parts = ((conv.get("conversation_parts") or {}).get("conversation_parts")) or []
        messages = []
        for part in [{**src, "created_at": conv.get("created_at"), "part_type": "source"}, *parts]:
            if not isinstance(part, dict) or part.get("part_type") in ("note", "note_and_reopen"):
                continue  # internal notes are not part of the conversation
            if not (text := plain(part.get("body"))):
                continue
            messages.append({"role": self.role(part.get("author") or {}), "text": text,
                             "timestamp": part.get("created_at")})
        if not messages:
            return None
        rating = (conv.get("conversation_rating") or {}).get("rating")
        tags = (conv.get("tags") or {}).get("tags") if isinstance(conv.get("tags"), dict) else None
        meta = {"resolved": conv.get("state") == "closed", "intercom_state": conv.get("state"),
                "csat": rating if isinstance(rating, int) and 1 <= rating <= 5 else None}
        if names := [str(t.get("name")) for t in tags or [] if isinstance(t, dict) and t.get("name")]:
            meta["tags"] = names
        return {"id": str(conv["id"]), "source": self.name, "started_at": conv.get("created_at"),
                "channel": src.get("type"), "metadata": meta, "messages": messages}
