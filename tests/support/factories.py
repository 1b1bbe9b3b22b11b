"""Test data builders (real rows through the real importer, not mocks)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.services import Services
from bot.services.importer import import_file

REFUND_Q = "How long does a refund to my credit card take after I return an item?"
REFUND_FACT = "Refunds to a credit card are issued within 5 business days after the returned item arrives."


def conversation(cid: str, *, gap: bool = False, question: str = REFUND_Q, **meta: object) -> dict:
    if gap:
        messages = [
            {"role": "user", "text": "Hi there"},
            {"role": "agent", "text": "Hello! How can I help?"},
            {"role": "user", "text": question},
            {"role": "agent", "text": "I'm sorry, I don't have information about that."},
            {"role": "human", "text": REFUND_FACT + " You will get an email when it is sent."},
        ]
        meta = {"escalated": True, "resolved": False, "csat": 2, **meta}
    else:
        messages = [
            {"role": "user", "text": "Where can I see my order status?"},
            {"role": "agent", "text": "Open Orders in your account to see the status of each order."},
        ]
        meta = {"resolved": True, "csat": 5, **meta}
    return {"id": cid, "started_at": "2026-11-20T10:00:00Z", "metadata": meta, "messages": messages}


def load(services: Services, tmp_path: Path, rows: list[dict], *, name: str = "convs.jsonl") -> None:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = import_file(services, path, source="test")
    assert not report.bad_lines, report.bad_lines


def seed_kb(services: Services) -> None:
    with services.session() as s:
        services.kb.save(s, title="Order status", body="Open Orders in your account to see the status of each order.")
        services.kb.save(s, title="Shipping times", body="Standard shipping takes 3 to 5 business days in the US.")
