"""The Slack messages a job posted besides its placeholder (a long draft's continuations), recorded once posted so
a rerun of the job (resumed after a crash, retried) updates them instead of posting them again.

One `queued_results` row per (key, part): the key names the job's placeholder (`key("draft", channel, ts)`), the
row's result holds the message's ts. The window left is between Slack's answer and the row's commit.

The rows are only needed while a job can still be rerun (its retries, a resume after a crash): the daily retention
job deletes a key's rows once FLYWHEEL_QUEUE_RESULTS_DAYS old (`bot/services/retention.py`); only the job that
posted the placeholder reads them (`handlers/steps.py: post_draft`), so nothing later misses them.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.services import Services
from storage.models import QueuedResult


def key(kind: str, channel: str, ts: str) -> str:
    return f"posted:{kind}:{channel}:{ts}"[:64]


def parts(services: Services, key: str) -> dict[int, str]:
    """part number -> ts of the messages already posted under `key`."""
    with services.session() as session:
        rows = session.execute(select(QueuedResult.item, QueuedResult.result).where(QueuedResult.batch == key)).all()
    return {int(item): str(result["ts"]) for item, result in rows if result and result.get("ts")}


def record(services: Services, key: str, part: int, ts: str) -> None:
    with services.session() as session:
        exists = session.scalar(select(QueuedResult.id).where(QueuedResult.batch == key, QueuedResult.item == part))
        if exists is None:
            session.add(QueuedResult(batch=key, item=part, result={"ts": ts}, created_at=services.clock()))
