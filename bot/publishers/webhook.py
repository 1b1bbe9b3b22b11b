"""Publish by POSTing the article to the team's endpoint, signed with HMAC-SHA256.

    POST <FLYWHEEL_WEBHOOK_URL>
    Content-Type: application/json
    X-Flywheel-Event: article.published
    X-Flywheel-Delivery: <id: the publish attempt's key (the same on a retry or resume); deduplicate on it>
    Idempotency-Key: <the same id>
    X-Flywheel-Timestamp: <unix seconds>
    X-Flywheel-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The receiver recomputes the HMAC over the raw body, compares in constant time and rejects timestamps
older than 5 minutes (docs/INTEGRATIONS.md has the code). A 2xx answer may carry
`{"external_id": "...", "url": "..."}`, recorded on the article.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from bot.errors import ConfigError, PublishError
from bot.integrations.html import markdown_to_html
from bot.integrations.http import HttpClient, Retry
from bot.integrations.settings import IntegrationSettings
from bot.publishers import ArticleToPublish, PublishReceipt

log = logging.getLogger(__name__)

EVENT = "article.published"
UNPUBLISHED = "article.unpublished"
_SECRET_HINT = "Check FLYWHEEL_WEBHOOK_SECRET on both sides."


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: float = 300.0) -> bool:
    """The receiver's check (also used by the tests): a fresh timestamp and a matching signature."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header)


def payload(article: ArticleToPublish) -> dict[str, Any]:
    return {"event": EVENT, "article": {
        "slug": article.slug, "title": article.title, "body_markdown": article.body,
        "body_html": markdown_to_html(article.body), "tags": list(article.tags), "external_id": article.external_id,
        "version": article.version, "gap_id": article.gap_id, "author": article.author,
        "source_conversations": list(article.source_conversations)}}


class WebhookPublisher:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0, retry: Retry = Retry(),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError("FLYWHEEL_WEBHOOK_URL must be an http:// or https:// URL.")
        if len(secret) < 16:
            raise ConfigError("FLYWHEEL_WEBHOOK_SECRET must be at least 16 characters.")
        self.url, self.secret, self.clock = url, secret.encode("utf-8"), clock
        self.http = HttpClient("The webhook", url, timeout=timeout, error=PublishError, retry=retry, sleep=sleep,
                               session=session, hints={401: _SECRET_HINT, 403: _SECRET_HINT,
                                                       404: "Check FLYWHEEL_WEBHOOK_URL."})

    @classmethod
    def from_settings(cls, conf: IntegrationSettings, **kw: Any) -> WebhookPublisher:
        conf.require("webhook_url", "webhook_secret", connector="webhook")
        assert conf.webhook_url and conf.webhook_secret
        return cls(conf.webhook_url, conf.webhook_secret.get_secret_value(), timeout=conf.webhook_timeout,
                   retry=Retry.from_settings(conf), **kw)

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        body = json.dumps(payload(article), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        delivery = article.idempotency_key or hashlib.sha256(body).hexdigest()[:32]
        resp = self._send(body, EVENT, delivery)
        log.info("webhook published delivery=%s gap_id=%r status=%d", delivery, article.gap_id, resp.status_code)
        try:
            answer = resp.json() if resp.content else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        ext, url = answer.get("external_id"), answer.get("url")
        return PublishReceipt(external_id=str(ext) if isinstance(ext, str | int) else None,
                              url=url if isinstance(url, str) else None)

    def unpublish(self, external_id: str, *, gap_id: int | None = None) -> None:
        """`article.unpublished`: a FAIL verdict took a new article back (same signature and headers)."""
        data = {"event": UNPUBLISHED, "article": {"external_id": external_id, "gap_id": gap_id}}
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")
        resp = self._send(body, UNPUBLISHED, hashlib.sha256(body).hexdigest()[:32])
        log.info("webhook unpublished gap_id=%r status=%d", gap_id, resp.status_code)

    def _send(self, body: bytes, event: str, delivery: str) -> requests.Response:
        def sign() -> dict[str, str]:  # a fresh timestamp on every attempt
            ts = str(int(self.clock()))
            return {"X-Flywheel-Timestamp": ts, "X-Flywheel-Signature": signature(self.secret, ts, body)}

        return self.http.request("POST", self.url, data=body, sign=sign, headers={
            "Content-Type": "application/json", "X-Flywheel-Event": event, "X-Flywheel-Delivery": delivery,
            "Idempotency-Key": delivery})
