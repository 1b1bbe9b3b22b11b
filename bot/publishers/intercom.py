"""Publish to Intercom Articles (Help Center): `POST /articles` for a new article, `PUT /articles/{id}` for a
new version (an article deleted in Intercom is created again). Bearer token, `Intercom-Version` header;
the receipt's url is the article's `url` (empty while it is a draft)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from bot.errors import PublishError
from bot.integrations.html import markdown_to_html
from bot.integrations.http import HttpClient, Retry
from bot.integrations.settings import IntegrationSettings
from bot.publishers import ArticleToPublish, PublishReceipt

log = logging.getLogger(__name__)


def intercom_client(conf: IntegrationSettings, error: Any, *, not_found: str = "", **kw: Any) -> HttpClient:
    """The authenticated Intercom client, shared by the publisher and the conversation source."""
    conf.require("intercom_token", connector="Intercom")
    assert conf.intercom_token is not None
    creds = "Check FLYWHEEL_INTERCOM_TOKEN and the app's permissions."
    return HttpClient("Intercom", conf.intercom_url, timeout=conf.intercom_timeout, error=error,
                      retry=Retry.from_settings(conf), hints={401: creds, 403: creds, 404: not_found},
                      headers={"Authorization": f"Bearer {conf.intercom_token.get_secret_value()}",
                               "Intercom-Version": conf.intercom_version}, **kw)


class IntercomPublisher:
    name = "intercom"

    def __init__(self, http: HttpClient, *, author_id: int, parent_id: int | None = None,
                 state: str = "published") -> None:
        self.http, self.author_id, self.parent_id, self.state = http, author_id, parent_id, state

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, *, sleep: Callable[[float], None] = time.sleep,
                      session: requests.Session | None = None) -> IntercomPublisher:
        conf.require("intercom_author_id", connector="Intercom Articles")
        assert conf.intercom_author_id is not None
        http = intercom_client(conf, PublishError, sleep=sleep, session=session,
                               not_found="Check FLYWHEEL_INTERCOM_URL and FLYWHEEL_INTERCOM_PARENT_ID.")
        return cls(http, author_id=conf.intercom_author_id, parent_id=conf.intercom_parent_id,
                   state=conf.intercom_article_state)

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        fields: dict[str, Any] = {"title": article.title, "body": markdown_to_html(article.body),
                                  "author_id": self.author_id, "state": self.state}
        if self.parent_id is not None:
            fields |= {"parent_id": self.parent_id, "parent_type": "collection"}
        if article.external_id and article.external_id.isdigit():
            update = fields
            if article.locale and article.locale != "en":  # a synced translation: only that locale's text
                update = {"translated_content": {article.locale: {"title": article.title, "body": fields["body"],
                                                                  "author_id": self.author_id, "state": self.state}}}
            resp = self.http.request("PUT", f"/articles/{article.external_id}", json=update, allow=(404,))
            if resp.status_code != 404:
                return self._receipt(resp, article, "updated")
            log.warning("intercom article id=%s was deleted there; creating it again gap_id=%r",
                        article.external_id, article.gap_id)
        if article.idempotency_key:  # Intercom takes no idempotency key: a retry looks for what it created
            found = self._find(article.title)
            if found is not None:
                log.info("intercom article found id=%s gap_id=%r", found.get("id"), article.gap_id)
                resp = self.http.request("PUT", f"/articles/{found['id']}", json=fields)
                return self._receipt(resp, article, "updated")
        resp = self.http.request("POST", "/articles", json=fields, idempotent=False)
        return self._receipt(resp, article, "created")

    def _find(self, title: str) -> dict[str, Any] | None:
        """An article of ours (same author, same collection) with exactly this title, drafts included."""
        resp = self.http.request("GET", "/articles/search", params={"phrase": title, "state": "all"})
        data = self.http.json(resp).get("data")
        articles = data.get("articles") if isinstance(data, dict) else None
        for found in articles if isinstance(articles, list) else []:
            if (isinstance(found, dict) and found.get("id") is not None and found.get("title") == title
                    and found.get("author_id") == self.author_id
                    and (self.parent_id is None or found.get("parent_id") == self.parent_id)):
                return found
        return None

    def unpublish(self, external_id: str, *, gap_id: int | None = None) -> None:
        """Back to a draft (the agent stops seeing it; a person can still publish it in Intercom)."""
        if external_id.isdigit():
            self.http.request("PUT", f"/articles/{external_id}", json={"state": "draft"}, allow=(404,))
            log.info("intercom article unpublished id=%s gap_id=%r", external_id, gap_id)

    def _receipt(self, resp: requests.Response, article: ArticleToPublish, what: str) -> PublishReceipt:
        body = self.http.json(resp)
        if body.get("id") is None:
            raise PublishError("Intercom answered without the article id.", retryable=False)
        log.info("intercom article %s id=%s gap_id=%r", what, body["id"], article.gap_id)
        url = body.get("url")
        return PublishReceipt(external_id=str(body["id"]), url=url if isinstance(url, str) and url else None,
                              visible=body.get("state", self.state) == "published")
