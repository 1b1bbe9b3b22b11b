"""The LLM layer: one small Protocol, an OpenAI implementation and a deterministic offline one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.llm.base import (
    LLM,
    AgentReply,
    AnswerRequest,
    ArticleSnippet,
    DraftArticle,
    GapContext,
    Judgement,
    JudgeRequest,
    Outline,
    OutlineSection,
    Turn,
    TurnCompareRequest,
    TurnComparison,
)

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "LLM",
    "AgentReply",
    "AnswerRequest",
    "ArticleSnippet",
    "DraftArticle",
    "GapContext",
    "JudgeRequest",
    "Judgement",
    "Outline",
    "OutlineSection",
    "Turn",
    "TurnCompareRequest",
    "TurnComparison",
    "build_llm",
]


def build_llm(settings: Settings) -> LLM:
    """The configured provider. A configured real model is never silently swapped for the offline one."""
    if settings.use_openai:
        from bot.llm.openai_llm import OpenAILLM

        return OpenAILLM.from_settings(settings)
    from bot.llm.offline import OfflineLLM

    return OfflineLLM()
