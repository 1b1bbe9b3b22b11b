"""Publish to Zendesk Help Center (Guide): a new article, or a new version of one published before.

- new:    POST /api/v2/help_center/{locale}/sections/{section_id}/articles.json
- update: PUT  /api/v2/help_center/articles/{id}/translations/{locale}.json (the article's text in that
          locale: a synced article's own locale, else FLYWHEEL_ZENDESK_LOCALE), then
          PUT /api/v2/help_center/articles/{id}.json with the version's tags as `label_names` (labels follow
          each version that has tags); when that translation does not exist yet it is created
          (POST /api/v2/help_center/articles/{id}/translations.json); when the article was deleted in
          Zendesk, it is created again as a new article.
Auth: `{email}/token:{api_token}` basic auth. The receipt's url is the article's `html_url`.
"""

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


def key_label(key: str) -> str:
    """The label a created article carries: the publish attempt's idempotency key, looked up before creating."""
    return f"flywheel-{key}"[:100]


def _receipt(article: dict[str, Any]) -> PublishReceipt:
    return PublishReceipt(external_id=str(article["id"]), url=article.get("html_url"),
                          visible=not article.get("draft", False))


def zendesk_client(conf: IntegrationSettings, error: Any, *, not_found: str = "", **kw: Any) -> HttpClient:
    """The authenticated Zendesk client, shared by the publisher and the ticket source."""
    conf.require("zendesk_email", "zendesk_token", connector="Zendesk")
    assert conf.zendesk_token is not None
    creds = "Check FLYWHEEL_ZENDESK_EMAIL and FLYWHEEL_ZENDESK_TOKEN (and that token access is enabled)."
    return HttpClient("Zendesk", conf.zendesk_base(), timeout=conf.zendesk_timeout, error=error,
                      retry=Retry.from_settings(conf), hints={401: creds, 403: creds, 404: not_found},
                      auth=(f"{conf.zendesk_email}/token", conf.zendesk_token.get_secret_value()), **kw)


class ZendeskPublisher:
    name = "zendesk"

    def __init__(self, http: HttpClient, *, section_id: int, permission_group_id: int, locale: str = "en-us",
                 user_segment_id: int | None = None) -> None:
        self.http, self.section_id, self.locale = http, section_id, locale
        self.permission_group_id, self.user_segment_id = permission_group_id, user_segment_id

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, *, sleep: Callable[[float], None] = time.sleep,
                      session: requests.Session | None = None) -> ZendeskPublisher:
        conf.require("zendesk_section_id", "zendesk_permission_group_id", connector="Zendesk Help Center")
        assert conf.zendesk_section_id is not None and conf.zendesk_permission_group_id is not None
        http = zendesk_client(conf, PublishError, sleep=sleep, session=session,
                              not_found="Check FLYWHEEL_ZENDESK_SECTION_ID and FLYWHEEL_ZENDESK_LOCALE.")
        return cls(http,
                   section_id=conf.zendesk_section_id, permission_group_id=conf.zendesk_permission_group_id,
                   locale=conf.zendesk_locale, user_segment_id=conf.zendesk_user_segment_id)

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        body = markdown_to_html(article.body)
        if article.external_id and article.external_id.isdigit():
            return self._update(article.external_id, article, body)
        return self._create(article, body)

    def _create(self, article: ArticleToPublish, body: str) -> PublishReceipt:
        labels = list(article.tags)
        if article.idempotency_key:  # a retry or a resume finds the article it created before
            found = self._find(key_label(article.idempotency_key))
            if found is not None:
                log.info("zendesk article found by key id=%s gap_id=%r", found["id"], article.gap_id)
                return _receipt(found)
            labels.append(key_label(article.idempotency_key))
        resp = self.http.request(
            "POST", f"/api/v2/help_center/{self.locale}/sections/{self.section_id}/articles.json", idempotent=False,
            json={"article": {"title": article.title, "body": body, "locale": self.locale,
                              "permission_group_id": self.permission_group_id,
                              "user_segment_id": self.user_segment_id, "label_names": labels},
                  "notify_subscribers": False})
        created = self._object(resp, "article")
        log.info("zendesk article created id=%s gap_id=%r", created["id"], article.gap_id)
        return _receipt(created)

    def _find(self, label: str) -> dict[str, Any] | None:
        resp = self.http.request("GET", "/api/v2/help_center/articles.json", params={"label_names": label})
        found = self.http.json(resp).get("articles")
        hits = [a for a in found if isinstance(a, dict) and a.get("id") is not None] if isinstance(found, list) else []
        return hits[0] if hits else None

    def unpublish(self, external_id: str, *, gap_id: int | None = None) -> None:
        """Archive the article (Zendesk's DELETE keeps it restorable); one already gone is fine."""
        if external_id.isdigit():
            self.http.request("DELETE", f"/api/v2/help_center/articles/{external_id}.json", allow=(404,))
            log.info("zendesk article archived id=%s gap_id=%r", external_id, gap_id)

    def _update(self, article_id: str, article: ArticleToPublish, body: str) -> PublishReceipt:
        translation = {"title": article.title, "body": body}
        locale = article.locale or self.locale
        resp = self.http.request("PUT", f"/api/v2/help_center/articles/{article_id}/translations/{locale}.json",
                                 json={"translation": translation}, allow=(404,))
        if resp.status_code == 404:
            exists = self.http.request("GET", f"/api/v2/help_center/articles/{article_id}.json", allow=(404,))
            if exists.status_code == 404:
                log.warning("zendesk article id=%s was deleted there; creating it again gap_id=%r", article_id,
                            article.gap_id)
                return self._create(article, body)
            resp = self.http.request("POST", f"/api/v2/help_center/articles/{article_id}/translations.json",
                                     json={"translation": {**translation, "locale": locale}}, idempotent=False)
        updated = self._object(resp, "translation")
        if article.tags:  # the version's labels (a version without tags leaves the labels there as they are)
            self.http.request("PUT", f"/api/v2/help_center/articles/{article_id}.json",
                              json={"article": {"label_names": list(article.tags)}})
        log.info("zendesk article updated id=%s version=%r gap_id=%r", article_id, article.version, article.gap_id)
        return PublishReceipt(external_id=article_id, url=updated.get("html_url"))

    def _object(self, resp: requests.Response, key: str) -> dict[str, Any]:
        obj = self.http.json(resp).get(key)
        if not isinstance(obj, dict) or (key == "article" and obj.get("id") is None):
            raise PublishError(f'Zendesk answered without the "{key}" object.', retryable=False)
        return obj
