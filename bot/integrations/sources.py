"""Incremental pulls of conversations from Zendesk and Intercom (and `flywheel.sources` plug-ins).

A source yields batches: conversations in the JSONL shape plus the cursor to resume from once they are
stored. `pull` imports each batch (idempotent on source + id), and only then saves the cursor in
`SourceCursor`: a crash or an error mid-pull resumes after the last imported batch, nothing is skipped,
and a batch fetched twice is skipped by the importer, never stored twice.
Only finished conversations are pulled (Zendesk solved/closed, Intercom closed, configurable): closing a
conversation updates it, so it comes back in a later pull once its transcript is complete.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from bot.integrations import SOURCES_GROUP, load_entry_point
from bot.integrations.http import HttpClient, SourceError
from bot.integrations.settings import IntegrationSettings, split_ids
from bot.services import Services
from bot.services.importer import import_records
from storage.models import SourceCursor

log = logging.getLogger(__name__)

DAY = 86400
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Batch:
    records: list[dict[str, Any]]  # conversations in the JSONL shape (README, "Importing conversations")
    cursor: str | None  # where the next pull starts once these records are stored


class Source(Protocol):
    name: str  # also the conversations' `source` and the SourceCursor key

    def fetch(self, cursor: str | None) -> Iterator[Batch]: ...


@dataclass
class PullReport:
    source: str
    batches: int = 0
    added: int = 0
    skipped: int = 0
    bad: list[str] = field(default_factory=list)  # "<conversation id>: <reason>", never conversation text


def load_cursor(services: Services, name: str) -> str | None:
    with services.session() as session:
        row = session.get(SourceCursor, name)
        return row.cursor if row else None


def save_cursor(services: Services, name: str, cursor: str | None) -> None:
    with services.session() as session:
        row = session.get(SourceCursor, name) or SourceCursor(name=name)
        row.cursor, row.updated_at = cursor, services.clock()
        session.add(row)


def pull(services: Services, source: Source) -> PullReport:
    """One incremental pull: import batch after batch, saving the cursor after each imported batch."""
    report = PullReport(source=source.name)
    for batch in source.fetch(load_cursor(services, source.name)):
        result = import_records(services, enumerate(batch.records), source=source.name)
        report.batches += 1
        report.added += result.conversations_added
        report.skipped += result.conversations_skipped
        report.bad += [f"{batch.records[b.line].get('id')}: {b.reason}" for b in result.bad_lines]
        save_cursor(services, source.name, batch.cursor)
    log.info("pull done source=%s batches=%d added=%d skipped=%d bad=%d", source.name, report.batches,
             report.added, report.skipped, len(report.bad))
    return report


def plain(text: str | None) -> str:
    """Vendor HTML bodies → plain text (safe to store: no markup is kept)."""
    if not text:
        return ""
    if "<" in text:
        text = _TAG.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", text))
    return re.sub(r"[ \t]+", " ", html.unescape(text)).strip()


class ZendeskSource:
    """Tickets from the cursor-based incremental export; their public comments become the messages."""

    name = "zendesk"

    def __init__(self, http: HttpClient, *, bot_author_ids: frozenset[str] = frozenset(),
                 statuses: frozenset[str] = frozenset({"solved", "closed"}), page_size: int = 100,
                 backfill_days: int = 30, clock: Callable[[], float] = time.time) -> None:
        self.http, self.bots, self.statuses, self.page_size = http, bot_author_ids, statuses, page_size
        self.backfill_days, self.clock = backfill_days, clock

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> ZendeskSource:
        from bot.publishers.zendesk import zendesk_client

        clock = kw.pop("clock", time.time)
        return cls(zendesk_client(conf, SourceError, **kw), bot_author_ids=split_ids(conf.zendesk_bot_author_ids),
                   statuses=split_ids(conf.zendesk_statuses), page_size=conf.source_page_size,
                   backfill_days=conf.source_backfill_days, clock=clock)

    def fetch(self, cursor: str | None) -> Iterator[Batch]:
        start = int(self.clock()) - max(self.backfill_days * DAY, 120)  # Zendesk wants start_time > 1 min ago
        params: dict[str, Any] = {"per_page": self.page_size}
        params |= {"cursor": cursor} if cursor else {"start_time": start}
        while True:
            page = self.http.json(self.http.request("GET", "/api/v2/incremental/tickets/cursor.json", params=params))
            tickets = [t for t in page.get("tickets") or [] if isinstance(t, dict) and t.get("id") is not None]
            records = [r for t in tickets if str(t.get("status")) in self.statuses if (r := self.record(t))]
            cursor = page.get("after_cursor") or cursor
            yield Batch(records, cursor)
            if page.get("end_of_stream", True) or not page.get("after_cursor"):
                return
            params = {"per_page": self.page_size, "cursor": cursor}

    def comments(self, ticket_id: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Every comment of a ticket (following next_page on the same host), and each author's role."""
        comments: list[dict[str, Any]] = []
        roles: dict[str, str] = {}
        url: str | None = f"/api/v2/tickets/{int(ticket_id)}/comments.json"
        params: dict[str, Any] | None = {"include": "users"}
        while url:
            resp = self.http.request("GET", url, params=params, allow=(404,))
            if resp.status_code == 404:  # deleted since the export listed it: nothing to review
                log.info("zendesk ticket %s is gone; skipped", int(ticket_id))
                return [], {}
            page = self.http.json(resp)
            comments += [c for c in page.get("comments") or [] if isinstance(c, dict)]
            roles |= {str(u.get("id")): str(u.get("role")) for u in page.get("users") or [] if isinstance(u, dict)}
            url, params = page.get("next_page"), None
            if url and not self.http.same_origin(url):
                raise SourceError("Zendesk sent a next-page link to another host; stopped.", retryable=False)
        return comments, roles

    def record(self, ticket: dict[str, Any]) -> dict[str, Any] | None:
        comments, roles = self.comments(ticket["id"])
        requester = str(ticket.get("requester_id"))
        messages = []
        for c in comments:
            text = c.get("plain_body") or plain(c.get("html_body") or c.get("body"))
            if c.get("public") is False or not str(text).strip():
                continue  # internal notes are not part of the conversation
            author = str(c.get("author_id"))
            end_user = roles.get(author) == "end-user" or (author not in roles and author == requester)
            role = "user" if end_user else "agent" if author in self.bots else "human"
            messages.append({"role": role, "text": str(text).strip(), "timestamp": c.get("created_at")})
        if not messages:
            return None
        rating = (ticket.get("satisfaction_rating") or {}).get("score")
        meta = {"resolved": ticket.get("status") in ("solved", "closed"), "zendesk_status": ticket.get("status"),
                "csat": {"good": 5, "bad": 1}.get(str(rating)), "tags": ticket.get("tags") or []}
        return {"id": str(ticket["id"]), "source": self.name, "started_at": ticket.get("created_at"),
                "channel": (ticket.get("via") or {}).get("channel"), "metadata": meta, "messages": messages}


class IntercomSource:
    """Conversations from `POST /conversations/search` (updated_at filter, `starting_after` pages); the parts
    of each (`GET /conversations/{id}`) become the messages. The cursor is JSON: {since, started, after}."""

    name = "intercom"
    OVERLAP = 300  # seconds re-read at each pass: the search index lags a little behind

    def __init__(self, http: HttpClient, *, bot_author_ids: frozenset[str] = frozenset(),
                 states: frozenset[str] = frozenset({"closed"}), page_size: int = 100, backfill_days: int = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.http, self.bots, self.states, self.page_size = http, bot_author_ids, sorted(states), min(page_size, 150)
        self.backfill_days, self.clock = backfill_days, clock

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> IntercomSource:
        from bot.publishers.intercom import intercom_client

        clock = kw.pop("clock", time.time)
        return cls(intercom_client(conf, SourceError, **kw), bot_author_ids=split_ids(conf.intercom_bot_author_ids),
                   states=split_ids(conf.intercom_states), page_size=conf.source_page_size,
                   backfill_days=conf.source_backfill_days, clock=clock)

    def fetch(self, cursor: str | None) -> Iterator[Batch]:
        now = int(self.clock())
        state = json.loads(cursor) if cursor else {"since": now - self.backfill_days * DAY}
        since, after = int(state["since"]), state.get("after")
        started, high = int(state.get("started", now)), int(state.get("high", since))
        while True:
            query = {"operator": "AND", "value": [
                {"field": "updated_at", "operator": ">", "value": since - 1},
                {"field": "state", "operator": "IN", "value": self.states}]}
            pagination = {"per_page": self.page_size, **({"starting_after": after} if after else {})}
            resp = self.http.request("POST", "/conversations/search", json={"query": query, "pagination": pagination},
                                     allow=(400,) if after else ())
            if resp.status_code == 400:  # a resumed page token that expired: redo the pass (the importer skips repeats)
                log.warning("intercom page token refused; restarting the pass since=%d", since)
                after = None
                continue
            page = self.http.json(resp)
            found = [c for c in page.get("conversations") or [] if isinstance(c, dict) and c.get("id")]
            high = max([high, *(int(c.get("updated_at") or 0) for c in found)])
            records = [r for c in found if (r := self.record(self.conversation(c["id"])))]
            nxt = (page.get("pages") or {}).get("next")
            after = nxt.get("starting_after") if isinstance(nxt, dict) else None
            if after:
                state = {"since": since, "started": started, "high": high, "after": after}
            else:  # the pass is complete: the next one starts where this one's data ends
                state = {"since": max(since, min(high, started - self.OVERLAP))}
            yield Batch(records, json.dumps(state, sort_keys=True))
            if not after:
                return

    def conversation(self, conversation_id: Any) -> dict[str, Any]:
        resp = self.http.request("GET", f"/conversations/{conversation_id}", params={"display_as": "plaintext"},
                                 allow=(404,))
        if resp.status_code == 404:  # deleted since the search listed it: nothing to review
            log.info("intercom conversation %s is gone; skipped", conversation_id)
            return {}
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
        meta = {"resolved": conv.get("state") == "closed", "intercom_state": conv.get("state"),
                "csat": rating if isinstance(rating, int) and 1 <= rating <= 5 else None}
        return {"id": str(conv["id"]), "source": self.name, "started_at": conv.get("created_at"),
                "channel": src.get("type"), "metadata": meta, "messages": messages}


def build_source(name: str, conf: IntegrationSettings, **kw: Any) -> Source:
    """`zendesk`, `intercom`, or a `flywheel.sources` entry point (a factory called with the connector
    settings, `Services.integrations`)."""
    if name == "zendesk":
        return ZendeskSource.from_settings(conf, **kw)
    if name == "intercom":
        return IntercomSource.from_settings(conf, **kw)
    source = load_entry_point(SOURCES_GROUP, name, builtin=("zendesk", "intercom"))(conf)
    if not callable(getattr(source, "fetch", None)):
        raise SourceError(f"The source {name!r} from {SOURCES_GROUP} has no fetch() method.", retryable=False)
    return cast(Source, source)  # checked above: it has a fetch() method

