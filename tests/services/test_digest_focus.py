"""Which turn a digest item shows first, and the one reason it gives: from the risk signals."""

from __future__ import annotations

import pytest

from bot.services.digest_focus import focus_turn, source_url
from bot.services.sampling import RANDOM_REASON, strongest_reason

Q = ("user", "How long does a refund take?", {})
DONT_KNOW = ("agent", "I'm sorry, I don't have information about that.", {})
ANSWER = ("agent", "Refunds take a while.", {})
PUSHBACK = ("user", "That's not what I asked, it doesn't help.", {})
HUMAN = ("human", "Refunds reach your card within 5 business days.", {})


@pytest.mark.parametrize(("turns", "expected"), [
    ([Q, ANSWER, Q, DONT_KNOW, HUMAN], 3),  # the agent said it did not know
    ([Q, ANSWER, PUSHBACK, ANSWER, Q, ANSWER], 1),  # the answer the customer pushed back on
    ([Q, ANSWER, Q, ANSWER, HUMAN, Q], 3),  # the last answer before a person took over
    ([Q, ("agent", "a", {"retrieval_score": 0.9}), Q, ("agent", "b", {"retrieval_score": 0.1}), Q, ANSWER], 3),
    ([Q, ANSWER, Q, ANSWER], 3),  # otherwise the last answer
    ([Q, HUMAN], None),  # the agent never answered
    ([], None),
])
def test_focus_turn(turns: list, expected: int | None) -> None:  # type: ignore[type-arg]
    assert focus_turn(turns) == expected


def test_strongest_reason_is_the_most_direct_evidence_of_a_gap() -> None:
    reasons = ["escalated", "human answered after handover", "unresolved", "low CSAT", "agent said it did not know"]
    assert strongest_reason(reasons) == "agent said it did not know"
    assert strongest_reason(["long conversation", "unresolved", "low CSAT"]) == "low CSAT"
    assert strongest_reason(["something new", "long conversation"]) == "long conversation"
    assert strongest_reason(["something new"]) == "something new"
    assert strongest_reason([]) is None
    assert strongest_reason(["escalated"], "random") == RANDOM_REASON


def test_source_url_takes_only_plain_http_links() -> None:
    assert source_url({"url": "https://acme.zendesk.com/agent/tickets/1"}) == "https://acme.zendesk.com/agent/tickets/1"
    assert source_url({"ticket_url": " http://x.example/t/2 "}) == "http://x.example/t/2"
    assert source_url({"url": "javascript:alert(1)"}) is None
    assert source_url({"url": "https://x.example/a|<!channel>"}) is None
    assert source_url({"link": 42}) is None and source_url({}) is None
