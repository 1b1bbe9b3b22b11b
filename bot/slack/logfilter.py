"""Slack's own loggers are kept free of payloads.

slack_bolt and slack_sdk log request and response bodies (message text) at DEBUG, and Bolt logs the body
of a request with a bad signature at INFO. Their loggers are kept at INFO and a filter cuts every payload
out of their records, whatever level an operator sets.
"""

from __future__ import annotations

import logging
import re

# Loggers of the Slack libraries that log payloads (Bolt's own are configured from BOLT_LOGGER).
BOLT_LOGGER = "slack_bolt.flywheel"
SLACK_SDK_LOGGERS = ("slack_sdk.web.base_client", "slack_sdk.socket_mode.builtin.client",
                     "slack_sdk.socket_mode.builtin.internals")
_PAYLOAD = re.compile(r"\b(?:query_params|body_params|json_body|body|headers|payload|files)\b\s*[:=]|\{")


class SlackPayloadFilter(logging.Filter):
    """Keeps a Slack library's log line up to its first payload (`body: …`, `headers: …`, a dict dump):
    the method, URL and status stay; message text, tokens in bodies and signatures' bodies go."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: drop its arguments rather than the line
            text = str(record.msg)
        cut = _PAYLOAD.search(text)
        if cut is not None:
            record.msg, record.args = text[:cut.start()].rstrip(" ,(-") + " (payload not logged)", ()
        return True


def guard_slack_logs() -> logging.Logger:
    """Install the payload filter (once) and keep the Slack libraries at INFO unless set otherwise.
    Returns the base logger to hand to Bolt (its component loggers copy its level and filters)."""
    base = logging.getLogger(BOLT_LOGGER)
    for name in (BOLT_LOGGER, "slack_bolt", *SLACK_SDK_LOGGERS):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SlackPayloadFilter) for f in logger.filters):
            logger.addFilter(SlackPayloadFilter())
    for name in (BOLT_LOGGER, "slack_bolt", "slack_sdk"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)
    return base
