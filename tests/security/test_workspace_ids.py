"""Every place a Slack payload can name a workspace or an organisation is read by the workspace check.

A foreign id hidden in any one of these places must be seen (mutation testing found each lookup could be
dropped with the scenario tests still green): the check is only as good as the least-read field.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.workspace import claimed_ids

FOREIGN = "TFOREIGN1"
ORG = "EFOREIGN1"

TEAM_PLACES: dict[str, dict[str, Any]] = {
    "team_id": {"team_id": FOREIGN},
    "team.id": {"team": {"id": FOREIGN}},
    "team as a string": {"team": FOREIGN},
    "user_team": {"user_team": FOREIGN},
    "user.team_id": {"user": {"team_id": FOREIGN}},
    "view.team_id": {"view": {"team_id": FOREIGN}},
    "view.app_installed_team_id": {"view": {"app_installed_team_id": FOREIGN}},
    "authorizations[].team_id": {"authorizations": [{"team_id": FOREIGN}]},
    "event.user_team": {"event": {"user_team": FOREIGN}},
    "event.source_team": {"event": {"source_team": FOREIGN}},
    "event.team": {"event": {"team": FOREIGN}},
    "event.user.team_id": {"event": {"user": {"team_id": FOREIGN}}},
}

ORG_PLACES: dict[str, dict[str, Any]] = {
    "enterprise_id": {"enterprise_id": ORG},
    "enterprise.id": {"enterprise": {"id": ORG}},
    "team.enterprise_id": {"team": {"id": "T1", "enterprise_id": ORG}},
    "user.enterprise_id": {"user": {"enterprise_id": ORG}},
    "view.enterprise_id": {"view": {"enterprise_id": ORG}},
    "authorizations[].enterprise_id": {"authorizations": [{"enterprise_id": ORG}]},
}


@pytest.mark.parametrize("body", TEAM_PLACES.values(), ids=TEAM_PLACES.keys())
def test_a_workspace_id_is_read_wherever_slack_puts_it(body: dict[str, Any]) -> None:
    teams, orgs = claimed_ids(body)
    assert teams == {FOREIGN}
    assert orgs == set()


@pytest.mark.parametrize("body", ORG_PLACES.values(), ids=ORG_PLACES.keys())
def test_an_organisation_id_is_read_wherever_slack_puts_it(body: dict[str, Any]) -> None:
    _, orgs = claimed_ids(body)
    assert orgs == {ORG}


def test_every_id_of_a_mixed_payload_is_collected_and_blanks_are_not() -> None:
    body = {
        "team_id": "T1", "user": {"team_id": "T2", "enterprise_id": ""}, "enterprise": {"id": ORG},
        "authorizations": [{"team_id": "T3"}, "junk"], "event": {"user_team": "T4", "source_team": None},
        "view": "not a dict",
    }
    teams, orgs = claimed_ids(body)
    assert teams == {"T1", "T2", "T3", "T4"}
    assert orgs == {ORG}


def test_a_payload_that_names_nobody_claims_nothing() -> None:
    assert claimed_ids({}) == (set(), set())
    assert claimed_ids({"event": "x", "authorizations": None, "team": None}) == (set(), set())
