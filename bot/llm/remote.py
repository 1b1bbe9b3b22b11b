"""The one door to a remote model: every request to an OpenAI-compatible API leaves through `RemoteModel`.

Chat completions (outline, draft, judge, the built-in agent's answers) and embeddings (topics) alike: the
data is redacted string by string *before* it is rendered, so no caller can forget it. Nothing else in the
code base builds an OpenAI client or calls one (`tests/llm/test_remote.py` checks the source tree).
"""

from __future__ import annotations

from collections.abc import Sequence
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
        return self.client.chat.completions.parse(  # type: ignore[no-any-return]
            model=model, messages=self.messages(system, data), response_format=schema
        )

    def embed(self, *, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of the redacted texts, in input order."""
        result = self.client.embeddings.create(model=model, input=[self.scrub(t) for t in texts])
        return [list(d.embedding) for d in sorted(result.data, key=lambda d: d.index)]
