"""Model calls and what they cost: every remote call is a `model_calls` row (task, model, tokens, latency).

`record_model_calls(services)` installs the sink `bot/llm/remote.py` reports each call to (the one door to a
remote model), so outline, draft, judge, the built-in agent's answers and embeddings are all counted.
`cost_report` sums a period by task and model, priced with FLYWHEEL_MODEL_PRICES (USD per 1M input and
output tokens); a model without a price is counted, and named as unpriced rather than costed at zero.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.llm.remote import ModelUsage, set_usage_sink
from bot.settings import Settings
from storage.models import ModelCall

log = logging.getLogger(__name__)

SINK_NAME = "model_calls"


class Services(Protocol):
    """What this module needs of `bot.services.Services` (which installs the sink: no import back)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], dt.datetime]: ...

    def session(self) -> AbstractContextManager[Session]: ...


def record_model_calls(services: Services) -> None:
    """From now on, every remote model call of this process is stored in `services`' database."""

    def store(usage: ModelUsage) -> None:
        with services.session() as s:
            s.add(ModelCall(at=services.clock(), task=usage.task[:32], model=usage.model[:100],
                            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                            latency_ms=round(usage.seconds * 1000), ok=usage.ok))

    set_usage_sink(SINK_NAME, store)


class CostLine(BaseModel):
    task: str
    model: str
    calls: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: no price set for the model


class CostReport(BaseModel):
    start: dt.datetime
    end: dt.datetime
    lines: list[CostLine]

    @property
    def calls(self) -> int:
        return sum(line.calls for line in self.lines)

    @property
    def input_tokens(self) -> int:
        return sum(line.input_tokens for line in self.lines)

    @property
    def output_tokens(self) -> int:
        return sum(line.output_tokens for line in self.lines)

    @property
    def cost_usd(self) -> float:
        return sum(line.cost_usd or 0.0 for line in self.lines)

    @property
    def unpriced_models(self) -> list[str]:
        return sorted({line.model for line in self.lines if line.cost_usd is None})

    def to_text(self) -> str:
        head = (f"Model calls {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}: {self.calls} calls, "
                f"{self.input_tokens:,} input + {self.output_tokens:,} output tokens, "
                f"estimated cost ${self.cost_usd:.4f}")
        rows = [f"  {line.task:<11} {line.model:<24} {line.calls:>6} calls ({line.failed} failed) "
                f"{line.input_tokens:>10,} in {line.output_tokens:>10,} out  "
                + (f"${line.cost_usd:.4f}" if line.cost_usd is not None else "no price") for line in self.lines]
        tail = ([f"  No price for {', '.join(self.unpriced_models)}: set FLYWHEEL_MODEL_PRICES, e.g. "
                 '{"gpt-4o-mini": [0.15, 0.60]} (USD per 1M input, output tokens).'] if self.unpriced_models else [])
        return "\n".join([head, *rows, *tail])


def price(prices: dict[str, tuple[float, float]], model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for the tokens at the model's price per 1M tokens; None when the model has no price."""
    if model not in prices:
        return None
    per_in, per_out = prices[model]
    return (input_tokens * per_in + output_tokens * per_out) / 1_000_000


def cost_report(services: Services, *, start: dt.datetime, end: dt.datetime) -> CostReport:
    """Calls, tokens and estimated cost of [start, end), by task and model."""
    failed = func.sum(case((ModelCall.ok.is_(False), 1), else_=0))
    query = (select(ModelCall.task, ModelCall.model, func.count(), failed, func.sum(ModelCall.input_tokens),
                    func.sum(ModelCall.output_tokens))
             .where(ModelCall.at >= start, ModelCall.at < end)
             .group_by(ModelCall.task, ModelCall.model).order_by(ModelCall.task, ModelCall.model))
    prices = services.settings.model_prices
    with services.session() as s:
        rows = s.execute(query).all()
    lines = [CostLine(task=task, model=model, calls=calls, failed=int(bad or 0), input_tokens=int(tin or 0),
                      output_tokens=int(tout or 0), cost_usd=price(prices, model, int(tin or 0), int(tout or 0)))
             for task, model, calls, bad, tin, tout in rows]
    return CostReport(start=start, end=end, lines=lines)


def weeks_window(now: dt.datetime, weeks: int) -> tuple[dt.datetime, dt.datetime]:
    """[Monday 00:00 UTC of the first of the last `weeks` ISO weeks, Monday after the week of `now`)."""
    today = now.astimezone(dt.UTC).date() if now.tzinfo else now.date()
    end = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=1)
    start = end - dt.timedelta(weeks=weeks)
    return (dt.datetime.combine(start, dt.time(), dt.UTC), dt.datetime.combine(end, dt.time(), dt.UTC))
