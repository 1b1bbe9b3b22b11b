"""Prometheus metrics of one `flywheel serve` process, served at GET /metrics.

    flywheel_acks_total{kind,status}            Slack requests answered, by kind (event, command, action,
                                                view, other) and HTTP status
    flywheel_ack_seconds{kind}                  time from the request to its ack (histogram)
    flywheel_model_calls_total{task,model,outcome}, flywheel_model_call_seconds{task},
    flywheel_model_tokens_total{task,direction} every remote model call (`bot/llm/remote.py`)
    flywheel_errors_total{source}               5xx answers (http), failed model calls (model), and ERROR
                                                log lines by top-level package (log:bot, log:slack_bolt…)
    flywheel_job_claims_open                    unfinished job claims (`bot/services/claims.py`): the work
                                                queue of today
    flywheel_job_claim_oldest_age_seconds       age of the oldest unfinished claim (0 when none)
    flywheel_queue_depth                        queued and running jobs (`bot/queue`; absent without a queue)
    flywheel_queue_oldest_age_seconds           age of the oldest of them (0 when none)
    flywheel_queue_failed_jobs                  jobs given up after their last attempt (kept for a person)

Labels are closed sets (kinds, tasks, configured model names, package names): never conversation text,
user or channel ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.llm.remote import ModelUsage, set_usage_sink
from bot.services import Services
from bot.services.conversation_scan import as_utc
from storage.models import JobClaim

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0)
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
_ACTION_TYPES = {"block_actions": "action", "interactive_message": "action", "shortcut": "action",
                 "message_action": "action", "block_suggestion": "action",
                 "view_submission": "view", "view_closed": "view"}


def request_kind(body: bytes) -> str:
    """event, command, action or view, from a Slack request body (JSON events, form commands and payloads)."""
    if body[:1] == b"{":
        return "event"
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return "other"
    if "command" in form:
        return "command"
    if "payload" in form:
        try:
            kind = json.loads(form["payload"][0]).get("type")
        except (ValueError, AttributeError):
            return "other"
        return _ACTION_TYPES.get(str(kind), "other")
    return "other"


class _ClaimsCollector(Collector):
    """Read at scrape time: unfinished job claims and the age of the oldest."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        try:
            with self.services.session() as s:
                count, oldest = s.execute(select(func.count(), func.min(JobClaim.claimed_at))
                                          .where(JobClaim.finished_at.is_(None))).one()
        except Exception:  # noqa: BLE001 - a scrape reports what it can; /readyz names the database
            log.exception("metrics: job claims unreadable")
            return
        age = (self.services.clock() - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("flywheel_job_claims_open", "Unfinished job claims (scheduled work in progress "
                                "or waiting to be resumed).", value=int(count or 0))
        yield GaugeMetricFamily("flywheel_job_claim_oldest_age_seconds", "Age of the oldest unfinished job claim.",
                                value=max(age, 0.0))


class _QueueCollector(Collector):
    """Read at scrape time: jobs not finished in the work queue, and the oldest one's age."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        if self.services.queue is None:
            return
        try:
            depth, age = self.services.queue.stats()
            failed = self.services.queue.failed()
        except Exception:  # noqa: BLE001 - a scrape reports what it can
            log.exception("metrics: work queue unreadable")
            return
        yield GaugeMetricFamily("flywheel_queue_depth", "Jobs queued or running.", value=depth)
        yield GaugeMetricFamily("flywheel_queue_oldest_age_seconds", "Age of the oldest job queued or running.",
                                value=max(age, 0.0))
        yield GaugeMetricFamily("flywheel_queue_failed_jobs", "Jobs given up after their last attempt (kept).",
                                value=failed)


class _ErrorLogCounter(logging.Handler):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.ERROR)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        self.metrics.errors.labels(source=f"log:{record.name.split('.', 1)[0]}").inc()


class Metrics:
    """The metrics of one server, in their own registry (tests build many)."""

    def __init__(self, services: Services) -> None:
        self.registry = r = CollectorRegistry()
        self.acks = Counter("flywheel_acks", "Slack requests answered.", ["kind", "status"], registry=r)
        self.ack_seconds = Histogram("flywheel_ack_seconds", "Time to ack a Slack request.", ["kind"],
                                     buckets=ACK_BUCKETS, registry=r)
        self.model_calls = Counter("flywheel_model_calls", "Remote model calls.", ["task", "model", "outcome"],
                                   registry=r)
        self.model_seconds = Histogram("flywheel_model_call_seconds", "Latency of remote model calls.", ["task"],
                                       buckets=MODEL_BUCKETS, registry=r)
        self.model_tokens = Counter("flywheel_model_tokens", "Tokens of remote model calls.", ["task", "direction"],
                                    registry=r)
        self.errors = Counter("flywheel_errors", "Errors by source.", ["source"], registry=r)
        r.register(_ClaimsCollector(services))
        r.register(_QueueCollector(services))

    def install(self) -> None:
        """Count this process's model calls and ERROR log lines here (replacing an earlier server's)."""
        set_usage_sink("metrics", self.observe_model_call)
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, _ErrorLogCounter)]:
            root.removeHandler(handler)
        root.addHandler(_ErrorLogCounter(self))

    def observe_ack(self, kind: str, status: int, seconds: float) -> None:
        self.acks.labels(kind=kind, status=str(status)).inc()
        self.ack_seconds.labels(kind=kind).observe(seconds)
        if status >= 500:
            self.errors.labels(source="http").inc()

    def observe_model_call(self, usage: ModelUsage) -> None:
        self.model_calls.labels(task=usage.task, model=usage.model, outcome="ok" if usage.ok else "error").inc()
        self.model_seconds.labels(task=usage.task).observe(usage.seconds)
        self.model_tokens.labels(task=usage.task, direction="input").inc(usage.input_tokens)
        self.model_tokens.labels(task=usage.task, direction="output").inc(usage.output_tokens)
        if not usage.ok:
            self.errors.labels(source="model").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
