"""A scripted OpenAI API for the real `OpenAILLM` (httpx2.MockTransport): no network, nothing patched globally.

    api = FakeAPI(completion('{"title": …}'))      # each request gets the next reply; the last one repeats
    llm = make_llm(api)                              # OpenAILLM over that transport
    api.body()                                       # the JSON of the last request

A reply is a dict (a 200 JSON body), `(status, body, headers)`, or an exception to raise (a timeout).
Response bodies follow the Chat Completions examples in the OpenAI OpenAPI spec.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
from openai import OpenAI

from bot.llm.openai_llm import OpenAILLM

KEY = "sk-test-do-not-leak-0123456789"
MODEL = "gpt-4o-mini"


def completion(content: str | None, *, refusal: str | None = None, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 412, "completion_tokens": 88, "total_tokens": 500},
        "service_tier": "default",
    }


def api_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeAPI:
    """Answers each request with the next scripted reply (the last one repeats); records requests."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply if isinstance(reply, tuple) else (200, reply, {})
        if isinstance(body, dict):
            return httpx2.Response(status, json=body, headers={"x-request-id": "req_123", **headers})
        return httpx2.Response(status, text=body, headers=headers)

    def body(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def make_llm(api: FakeAPI, *, max_retries: int = 0, timeout: float = 0.5) -> OpenAILLM:
    http = httpx2.Client(transport=httpx2.MockTransport(api))
    client = OpenAI(api_key=KEY, base_url="https://api.test/v1", timeout=timeout, max_retries=max_retries,
                    http_client=http)
    return OpenAILLM(client, MODEL)
