"""Where a digest item's conversation went wrong, and where it came from (plain data, no Slack).

`focus_turn` picks the turn a reviewer should read first from the same signals the risk ranking uses: the
agent saying it did not know, the customer pushing back on an answer, the handover to a person, weak search
results, and otherwise the last answer. `source_url` finds a link to the ticket in the conversation's own
metadata (a URL template setting is the fallback, applied by `bot.present.digest`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import Role
from bot.services.risk import LOW_RETRIEVAL
from bot.text import says_dont_know

Turn = tuple[str, str, Mapping[str, Any]]  # (role, text, metadata)

# A customer telling the agent its answer did not help (the turn before is the one that went wrong).
PUSHBACK = re.compile(
    r"\b(?:not what i (?:asked|meant|need(?:ed)?)|(?:doesn'?t|didn'?t|does not|did not) (?:help|answer|work)"
    r"|not (?:helpful|right|correct|true)|unhelpful|useless|that'?s wrong|you'?re wrong|is wrong|wrong answer"
    r"|that'?s not|no,? that|what do you mean|still (?:don'?t|can'?t|doesn'?t|not)|makes no sense"
    r"|i already (?:said|told|asked)"
    r"|(?:speak|talk|chat) (?:to|with) (?:a |an )?(?:human|person|agent|someone|representative|manager)"
    r"|real person|frustrat\w*|ridiculous|confus\w*)",
    re.IGNORECASE,
)
URL_KEYS = ("url", "ticket_url", "conversation_url", "permalink", "link")
_HTTP_URL = re.compile(r"^https?://[^\s<>|\"]{1,2000}$")


def focus_turn(turns: Sequence[Turn]) -> int | None:
    """The index of the turn that most likely went wrong, or None when the agent never answered."""
    agent = [i for i, (role, _, _) in enumerate(turns) if role == Role.AGENT]
    if not agent:
        return None
    for i in agent:  # the agent said it did not know
        if says_dont_know(turns[i][1]):
            return i
    for i in agent:  # the customer pushed back on this answer
        if i + 1 < len(turns) and turns[i + 1][0] == Role.USER and PUSHBACK.search(turns[i + 1][1]):
            return i
    handover = next((i for i, (role, _, _) in enumerate(turns) if role == Role.HUMAN), None)
    if handover is not None and any(i < handover for i in agent):  # the last answer before a person took over
        return max(i for i in agent if i < handover)
    weak = [(score, i) for i in agent if isinstance(score := turns[i][2].get("retrieval_score"), int | float)
            and not isinstance(score, bool) and score < LOW_RETRIEVAL]
    if weak:
        return min(weak)[1]
    return agent[-1]


def source_url(meta: Mapping[str, Any]) -> str | None:
    """A link to the conversation where it came from, if its metadata carries one (http(s) only)."""
    for key in URL_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and _HTTP_URL.match(value.strip()):
            return value.strip()
    return None
