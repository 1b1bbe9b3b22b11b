"""Shared pieces of the connector tests: settings without any .env, a recording sleep, a tiny KB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.integrations.settings import IntegrationSettings
from bot.kb.search import Hit
from bot.llm.base import Turn

SECRET = "tok-secret-0123456789"
CUSTOMER_TEXT = "How long does a refund to my card take?"
HISTORY = [Turn(role="user", text=CUSTOMER_TEXT)]


class FakeKB:
    """A Searcher returning fixed hits (the agents under test only call `search`)."""

    def __init__(self, hits: list[Hit] | None = None) -> None:
        self.hits, self.queries = hits or [], []

    def search(self, query: str, k: int = 5) -> list[Hit]:
        self.queries.append(query)
        return self.hits[:k]


@pytest.fixture
def conf() -> Callable[..., IntegrationSettings]:
    def make(**values: object) -> IntegrationSettings:
        return IntegrationSettings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def sleeps() -> list[float]:
    return []
