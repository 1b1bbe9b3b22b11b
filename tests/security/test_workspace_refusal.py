"""The reason the workspace check gives (it is the one log line an operator reads when a request is refused).

Mutation testing showed the scenario tests checked that a request is refused, not why: each reason is
pinned here, with the Enterprise Grid case where Slack names the organisation in place of the team.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.workspace import refusal

OURS = ("T0OURS", "E0OURS")

CASES: dict[str, tuple[dict[str, Any], tuple[str, str | None], str | None]] = {
    "ours": ({"team_id": "T0OURS", "enterprise_id": "E0OURS"}, OURS, None),
    "ours, no grid": ({"team_id": "T0OURS"}, ("T0OURS", None), None),
    "grid names the org as the team": ({"team_id": "T0OURS", "event": {"user_team": "E0OURS"}}, OURS, None),
    "nobody": ({}, OURS, "no workspace id"),
    "another workspace": ({"team_id": "T0THEIRS"}, OURS, "another workspace"),
    "another organisation": ({"team_id": "T0OURS", "enterprise_id": "E0THEIRS"}, OURS, "another organisation"),
    "org named without a grid": ({"team_id": "T0OURS", "enterprise_id": "E0OURS"}, ("T0OURS", None),
                                 "another organisation"),
    "slack connect without the user's team": (
        {"team_id": "T0OURS", "is_ext_shared_channel": True, "event": {"type": "message"}}, OURS,
        "Slack Connect event without the user's workspace"),
    "slack connect with our user": (
        {"team_id": "T0OURS", "is_ext_shared_channel": True, "event": {"user_team": "T0OURS"}}, OURS, None),
}


@pytest.mark.parametrize(("body", "identity", "reason"), CASES.values(), ids=CASES.keys())
def test_the_reason_names_what_was_wrong(body: dict[str, Any], identity: tuple[str, str | None],
                                         reason: str | None) -> None:
    assert refusal(body, identity) == reason
