"""Build signed Slack requests for bolt (HTTP mode), as Slack would send them.

    req = command_request(command_fields("stats week"), secret="s3cret")
    response = app.dispatch(req.to_bolt())

Events are JSON bodies; interactivity is a form body `payload=<urlencoded JSON>`; slash commands are
a plain form body. Signature: `v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))` via slack_sdk's
`SignatureVerifier`; the timestamp defaults to now (bolt rejects anything older than 5 minutes).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class SignedRequest:
    body: str
    headers: dict[str, str]

    def bolt_headers(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self.headers.items()}

    def to_bolt(self) -> BoltRequest:
        return BoltRequest(body=self.body, headers=self.bolt_headers())


def sign(body: str, *, secret: str, content_type: str, timestamp: int | None = None) -> SignedRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return SignedRequest(
        body=body,
        headers={
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": signature,
        },
    )


def event_envelope(event: Mapping[str, Any], *, team_id: str = "T111", api_app_id: str = "A111") -> dict[str, Any]:
    """Wrap an inner event (`{"type": "reaction_added", …}`) in an Events API envelope."""
    return {
        "token": "verification_token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "UFLYBOT01", "is_bot": True}],
    }


def event_request(event: Mapping[str, Any], *, secret: str, timestamp: int | None = None) -> SignedRequest:
    """An Events API request; a bare inner event is wrapped in an envelope first."""
    body = dict(event) if event.get("type") in ("event_callback", "url_verification") else event_envelope(event)
    return sign(json.dumps(body), secret=secret, content_type=JSON, timestamp=timestamp)


def interaction_request(payload: Mapping[str, Any], *, secret: str, timestamp: int | None = None) -> SignedRequest:
    """block_actions / view_submission / view_closed / shortcuts: `payload=<urlencoded JSON>`."""
    body = "payload=" + quote(json.dumps(payload))
    return sign(body, secret=secret, content_type=FORM, timestamp=timestamp)


def command_fields(
    text: str = "",
    *,
    command: str = "/flywheel",
    user_id: str = "U111",
    channel_id: str = "C111",
    response_url: str = "https://hooks.slack.com/commands/T111/111/xxx",
    trigger_id: str | None = None,
) -> dict[str, str]:
    return {
        "token": "verification_token",
        "team_id": "T111",
        "team_domain": "flywheel-test",
        "channel_id": channel_id,
        "channel_name": "review",
        "user_id": user_id,
        "user_name": "ana",
        "command": command,
        "text": text,
        "api_app_id": "A111",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"{int(time.time())}.111.{uuid.uuid4().hex[:8]}",
    }


def command_request(
    fields: Mapping[str, str] | str, *, secret: str, timestamp: int | None = None
) -> SignedRequest:
    """A slash command: a plain form body (pass `command_fields(...)` or a raw form string)."""
    body = fields if isinstance(fields, str) else urlencode(dict(fields))
    return sign(body, secret=secret, content_type=FORM, timestamp=timestamp)
