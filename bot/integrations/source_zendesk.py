"""Zendesk tickets as conversations: the cursor-based incremental export, then each finished ticket's comments."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.integrations.http import HttpClient, Pages, SourceError
from bot.integrations.settings import IntegrationSettings, split_ids
from bot.integrations.source_base import DAY, Batch, PullFilter, Refused, plain

log = logging.getLogger(__name__)


class ZendeskSource:
    """Tickets from the cursor-based incremental export; their public comments become the messages.

    A reopened ticket that is solved again, or rated after it was solved, is listed again by the export (it
    was updated) and updates the stored conversation (`bot/services/import_update.py`). A ticket whose
    comments the API user may not read (HTTP 403) is skipped and named in the report; only a 401/403 on the
    export itself means the credentials are wrong."""

    name = "zendesk"

    def __init__(self, http: HttpClient, *, bot_author_ids: frozenset[str] = frozenset(),
                 bot_via: frozenset[str] = frozenset(), statuses: frozenset[str] = frozenset({"solved", "closed"}),
                 page_size: int = 100, backfill_days: int = 30, clock: Callable[[], float] = time.time,
                 filters: PullFilter = PullFilter()) -> None:
        self.http, self.bots, self.bot_via, self.statuses = http, bot_author_ids, bot_via, statuses
        self.page_size, self.backfill_days, self.clock, self.filters = page_size, backfill_days, clock, filters

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> ZendeskSource:
        from bot.publishers.zendesk import zendesk_client

        clock = kw.pop("clock", time.time)
        filters = kw.pop("filters", None) or PullFilter.from_settings(conf)
        return cls(zendesk_client(conf, SourceError, clock=clock, **kw),
                   bot_author_ids=split_ids(conf.zendesk_bot_author_ids), bot_via=split_ids(conf.zendesk_bot_via),
                   statuses=split_ids(conf.zendesk_statuses), page_size=conf.source_page_size,
                   backfill_days=conf.source_backfill_days, clock=clock, filters=filters)

    def fetch(self, cursor: str | None) -> Iterator[Batch]:
        start = int(self.clock()) - max(self.backfill_days * DAY, 120)  # Zendesk wants start_time > 1 min ago
        params: dict[str, Any] = {"per_page": self.page_size}
        params |= {"cursor": cursor} if cursor else {"start_time": start}
        guard = Pages("Zendesk", SourceError)  # an after_cursor already read (a loop) stops the pull
        while True:
            guard.follow(params)
            page = self.http.json(self.http.request("GET", "/api/v2/incremental/tickets/cursor.json", params=params))
            tickets = [t for t in page.get("tickets") or [] if isinstance(t, dict) and t.get("id") is not None]
            finished = [t for t in tickets if str(t.get("status")) in self.statuses]
            wanted = [t for t in finished if self.filters.keep_tags(t.get("tags") or [])
                      and self.filters.keep_brand(t.get("brand_id"))]  # before any comment is fetched
            records, refused = [], []
            for t in wanted:
                try:
                    if r := self.record(t):
                        records.append(r)
                except Refused as exc:
                    refused.append(exc.what)
            cursor = page.get("after_cursor") or cursor
            yield Batch(records, cursor, refused=refused, filtered=len(finished) - len(wanted))
            if page.get("end_of_stream", True) or not page.get("after_cursor"):
                return
            params = {"per_page": self.page_size, "cursor": cursor}

    def comments(self, ticket_id: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Every comment of a ticket (following next_page on the same host), and each author's role."""
        comments: list[dict[str, Any]] = []
        roles: dict[str, str] = {}
        url: str | None = f"/api/v2/tickets/{int(ticket_id)}/comments.json"
        params: dict[str, Any] | None = {"include": "users"}
        guard = Pages("Zendesk", SourceError)
        while url:
            guard.follow(url if params is None else [url, params])
            resp = self.http.request("GET", url, params=params, allow=(403, 404))
            if resp.status_code == 404:  # deleted since the export listed it: nothing to review
                log.info("zendesk ticket %s is gone; skipped", int(ticket_id))
                return [], {}
            if resp.status_code == 403:  # this ticket only (a brand or group the API user cannot see)
                log.warning("zendesk refused the comments of ticket %s (HTTP 403); skipped", int(ticket_id))
                raise Refused(f"ticket {int(ticket_id)}: Zendesk refused its comments (HTTP 403); give the API "
                              "user access to it, it comes back when the ticket is next updated")
            page = self.http.json(resp)
            comments += [c for c in page.get("comments") or [] if isinstance(c, dict)]
            roles |= {str(u.get("id")): str(u.get("role")) for u in page.get("users") or [] if isinstance(u, dict)}
            url, params = page.get("next_page"), None
            if url and not self.http.same_origin(url):
                raise SourceError("Zendesk sent a next-page link to another host; stopped.", retryable=False)
        return comments, roles

    def is_bot(self, comment: dict[str, Any]) -> bool:
        via = comment.get("via") if isinstance(comment.get("via"), dict) else {}
        return str(comment.get("author_id")) in self.bots or str((via or {}).get("channel")) in self.bot_via

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
            role = "user" if end_user else "agent" if self.is_bot(c) else "human"
            messages.append({"role": role, "text": str(text).strip(), "timestamp": c.get("created_at")})
        if not messages:
            return None
        rating = (ticket.get("satisfaction_rating") or {}).get("score")
        meta = {"resolved": ticket.get("status") in ("solved", "closed"), "zendesk_status": ticket.get("status"),
                "csat": {"good": 5, "bad": 1}.get(str(rating)), "tags": ticket.get("tags") or []}
        if ticket.get("brand_id") is not None:
            meta["brand_id"] = ticket["brand_id"]
        return {"id": str(ticket["id"]), "source": self.name, "started_at": ticket.get("created_at"),
                "channel": (ticket.get("via") or {}).get("channel"), "metadata": meta, "messages": messages}
