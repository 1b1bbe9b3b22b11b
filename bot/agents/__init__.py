"""The agent under test: given the conversation so far and a KB, return the next answer.

The configured agent (`FLYWHEEL_AGENT`) is built by `bot.integrations.agents.build_agent`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.kb.search import ExtraDoc, Searcher
from bot.llm.base import LLM, AnswerRequest, ArticleSnippet, Turn


@dataclass(frozen=True)
class AgentAnswer:
    text: str
    sources: list[int] = field(default_factory=list)  # KB article ids used


class Agent(Protocol):
    """`kb` searches the KB the replay runs against (live, or shadow with drafts). Agents that read their
    own knowledge base instead receive the unpublished drafts of a shadow test as `extra`."""

    name: str

    def reply(
        self, history: list[Turn], kb: Searcher, *, extra: Sequence[ExtraDoc] = (), replay_id: str | None = None
    ) -> AgentAnswer: ...


class RagAgent:
    """The reference agent: KB search, then the LLM answers from the retrieved articles only."""

    name = "builtin-rag"

    def __init__(self, llm: LLM, *, top_k: int = 3) -> None:
        self.llm, self.top_k = llm, top_k

    def reply(
        self, history: list[Turn], kb: Searcher, *, extra: Sequence[ExtraDoc] = (), replay_id: str | None = None
    ) -> AgentAnswer:
        # `extra` is already inside the shadow `kb` searcher for the built-in agent.
        users = [t.text for t in history if t.role == "user"]
        query = " ".join(users[-2:])  # the question, plus the one before it for context
        hits = kb.search(query, self.top_k)
        snippets = [ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits]
        reply = self.llm.answer(AnswerRequest(history=history, articles=snippets))
        return AgentAnswer(text=reply.answer, sources=reply.used_article_ids)

