"""The one door to a remote model: every request to an OpenAI-compatible API leaves through `RemoteModel`.

Chat completions (outline, draft, judge, the built-in agent's answers) and embeddings (topics) alike: the
data is redacted string by string *before* it is rendered, so no caller can forget it. Nothing else in the
code base builds an OpenAI client or calls one (`tests/llm/test_remote.py` checks the source tree).

Being the one door, it is also where usage is counted: each call (successful or not) is reported as a
`ModelUsage` (task, model, tokens, latency; never text) to the sinks installed with `set_usage_sink`, e.g.
the `model_calls` table (`bot/services/costs.py`) and the Prometheus metrics (`bot/metrics.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic
from openai import OpenAI

from bot.errors import ConfigError
from bot.llm import prompts
from bot.llm.redaction import Scrub, redact_tree, scrubber_for

if TYPE_CHECKING:
    import httpx2
    from openai.types.chat import ParsedChatCompletion

    from bot.settings import Settings

T = TypeVar("T", bound=pydantic.BaseModel)

log = logging.getLogger(__name__)

# The task of a structured call, from its output schema (`bot/llm/base.py`); embeddings are "embeddings".
TASKS = {"Outline": "outline", "DraftArticle": "draft", "Judgement": "judge", "TurnComparison": "judge",
         "AgentReply": "agent"}


@dataclass(frozen=True)
class ModelUsage:
    """What one remote call cost: no prompt, no output, no user."""

    task: str
    model: str
    input_tokens: int
    output_tokens: int
    seconds: float
    ok: bool


UsageSink = Callable[[ModelUsage], None]
_sinks: dict[str, UsageSink] = {}
_sinks_lock = threading.Lock()


def set_usage_sink(name: str, sink: UsageSink | None) -> None:
    """Install (or with None remove) the sink called `name`; one per name, so rebuilding replaces it."""
    with _sinks_lock:
        if sink is None:
            _sinks.pop(name, None)
        else:
            _sinks[name] = sink


def report_usage(usage: ModelUsage) -> None:
    """Hand `usage` to every sink; a failing sink is logged and never fails the call."""
    with _sinks_lock:
        sinks = list(_sinks.items())
    for name, sink in sinks:
        try:
            sink(usage)
        except Exception as exc:  # noqa: BLE001 - accounting must not break the model call
            # No traceback: it may be raised while a failed model call is handled, and the chained
            # exception could carry request text. The type names the cause.
            log.error("model usage sink failed sink=%r error=%s", name, type(exc).__name__)


def _tokens(usage: Any, name: str) -> int:
    value = getattr(usage, name, None) if usage is not None else None
    return int(value) if isinstance(value, int) else 0


class RemoteModel:
    """An OpenAI client whose every request carries redacted text only."""

    def __init__(self, client: Any, *, scrub: Scrub | None = None) -> None:
        self.client = client
        self.scrub: Scrub = scrub or scrubber_for(None)

    @classmethod
    def from_settings(cls, settings: Settings, *, http_client: httpx2.Client | None = None) -> RemoteModel:
        """The client from Settings (key, base URL, timeout, retries). A missing key is a configuration error."""
        key = settings.openai_api_key.get_secret_value().strip() if settings.openai_api_key else ""
        if not key:
            raise ConfigError(
                "The OpenAI provider is selected (FLYWHEEL_LLM_PROVIDER=openai) but OPENAI_API_KEY is not set. "
                "Set OPENAI_API_KEY, or set FLYWHEEL_LLM_PROVIDER=offline to use the offline provider."
            )
        client = OpenAI(
            api_key=key,
            base_url=settings.openai_base_url or None,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            http_client=http_client,
        )
        return cls(client, scrub=scrubber_for(settings))

    def messages(self, system: str, data: pydantic.BaseModel | dict[str, Any]) -> list[dict[str, str]]:
        """The system prompt (ours) and the data, redacted leaf by leaf, then rendered as a delimited block."""
        payload = data.model_dump(mode="json") if isinstance(data, pydantic.BaseModel) else {
            k: v.model_dump(mode="json") if isinstance(v, pydantic.BaseModel) else v for k, v in data.items()
        }
        return [{"role": "system", "content": system},
                {"role": "user", "content": prompts.render_data(redact_tree(payload, self.scrub))}]

    def parse(
        self, *, model: str, system: str, data: pydantic.BaseModel | dict[str, Any], schema: type[T]
    ) -> ParsedChatCompletion[T]:
        """One structured chat completion (the SDK's errors propagate for the caller to map)."""
        task, started = TASKS.get(schema.__name__, schema.__name__.lower()), time.monotonic()
        messages = self.messages(system, data)
        try:
            completion: ParsedChatCompletion[T] = self.client.chat.completions.parse(
                model=model, messages=messages, response_format=schema)
        except BaseException:
            report_usage(ModelUsage(task, model, 0, 0, time.monotonic() - started, ok=False))
            raise
        usage = getattr(completion, "usage", None)
        report_usage(ModelUsage(task, model, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"),
                                time.monotonic() - started, ok=True))
        return completion

    def embed(self, *, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of the redacted texts, in input order."""
        scrubbed, started = [self.scrub(t) for t in texts], time.monotonic()
        try:
            result = self.client.embeddings.create(model=model, input=scrubbed)
        except BaseException:
            report_usage(ModelUsage("embeddings", model, 0, 0, time.monotonic() - started, ok=False))
            raise
        report_usage(ModelUsage("embeddings", model, _tokens(getattr(result, "usage", None), "prompt_tokens"), 0,
                                time.monotonic() - started, ok=True))
        return [list(d.embedding) for d in sorted(result.data, key=lambda d: d.index)]
