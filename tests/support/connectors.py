"""Shared pieces of the connector tests (tests/integrations): a secret to hunt for in logs and requests, one
customer turn, and a knowledge base returning fixed hits."""

from __future__ import annotations

from bot.kb.search import Hit
from bot.llm.base import Turn

SECRET = "tok-secret-0123456789"
CUSTOMER_TEXT = "How long does a refund to my card take?"
HISTORY = [Turn(role="user", text=CUSTOMER_TEXT)]


class FakeKB:
    """A Searcher returning fixed hits (the agents under test only call `search`); records the queries."""

    def __init__(self, hits: list[Hit] | None = None) -> None:
        self.hits, self.queries = hits or [], []

    def search(self, query: str, k: int = 5) -> list[Hit]:
        self.queries.append(query)
        return self.hits[:k]
